"""The backend protocol: one padded token batch in, embeddings out."""

from __future__ import annotations

import abc
import enum
from pathlib import Path
from typing import Any

from sentvec.batching import TokenBatch


class OutputValue(str, enum.Enum):
    """What ``encode`` returns per text."""

    SENTENCE_EMBEDDING = "sentence_embedding"
    TOKEN_EMBEDDINGS = "token_embeddings"


class Backend(abc.ABC):
    """Runs the model on token batches. Chosen once, at load time."""

    name: str

    @property
    @abc.abstractmethod
    def dimension(self) -> int:
        """Size of the sentence embedding."""

    @property
    @abc.abstractmethod
    def device(self) -> str:
        """Where the forward pass runs."""

    @abc.abstractmethod
    def forward(self, batch: TokenBatch, output: OutputValue, prompt_length: int | None = None) -> Any:
        """Sentence embeddings (B, D), or token embeddings (B, T, H) for ``TOKEN_EMBEDDINGS``.

        Returns a torch tensor (torch backend) or a numpy array (other backends).
        """

    @abc.abstractmethod
    def to(self, device: str) -> None:
        """Run on ``device`` from now on (or refuse clearly when the backend cannot move)."""

    @abc.abstractmethod
    def save(self, root: Path) -> None:
        """Write the modules' folders and ``modules.json`` under ``root``."""

    def describe(self) -> dict[str, Any]:
        """Facts for ``SentenceEncoder.info()``."""
        return {"backend": self.name, "device": self.device}

"""The backend protocol: one padded token batch in, embeddings out."""

from __future__ import annotations

import abc
import dataclasses
import enum
from pathlib import Path
from typing import TYPE_CHECKING

from sentvec.enums import BackendKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sentvec.batching import TokenBatch
    from sentvec.similarity import Array

__all__ = ["Backend", "BackendInfo", "BackendKind", "OutputValue"]


class OutputValue(str, enum.Enum):
    """What ``encode`` returns per text."""

    SENTENCE_EMBEDDING = "sentence_embedding"
    TOKEN_EMBEDDINGS = "token_embeddings"


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """Facts about a backend for ``SentenceEncoder.info()``; fields a backend does not have are None."""

    kind: BackendKind
    device: str
    dtype: str | None = None
    modules: tuple[str, ...] | None = None
    parameters: int | None = None
    graph: str | None = None
    pooling: str | None = None  # ONNX: "graph" (sentvec's whole-pipeline export) or "numpy" (a transformer-only graph)
    providers: tuple[str, ...] | None = None
    remote_code: bool | None = None  # torch: whether the model's own code was allowed to run (trust_remote_code)


class Backend(abc.ABC):
    """Runs the model on token batches. Chosen once, at load time."""

    kind: BackendKind
    # The padded-token budget of one batch when ``encode`` is not given ``max_batch_tokens``: long texts then run in
    # smaller batches (bounded activation memory — the attention matrices grow with rows x length^2), short texts in
    # full ``batch_size`` batches. None: ``batch_size`` alone. Chosen per backend by measurement (README, benchmarks).
    default_max_batch_tokens: int | None = None

    @property
    def name(self) -> str:
        """The backend's kind as a string (``"torch"``, ``"onnx"``)."""
        return self.kind.value

    @property
    @abc.abstractmethod
    def dimension(self) -> int:
        """Size of the sentence embedding."""

    @property
    @abc.abstractmethod
    def device(self) -> str:
        """Where the forward pass runs."""

    @abc.abstractmethod
    def forward(self, batch: TokenBatch, output: OutputValue, prompt_length: int | None = None) -> Array:
        """Sentence embeddings (B, D), or token embeddings (B, T, H) for ``TOKEN_EMBEDDINGS``.

        Returns a torch tensor (torch backend) or a numpy array (other backends).
        """

    def forward_batches(
        self, batches: Iterable[TokenBatch], output: OutputValue, prompt_length: int | None = None
    ) -> Iterator[tuple[TokenBatch, Array]]:
        """Each batch with its :meth:`forward` result, in any order (each result says its rows through its batch).

        The default runs the batches one after another; a backend that can keep several batches in flight (OpenVINO's
        streams) overrides it."""
        for batch in batches:
            yield batch, self.forward(batch, output, prompt_length)

    @abc.abstractmethod
    def to(self, device: str) -> None:
        """Run on ``device`` from now on (or refuse clearly when the backend cannot move)."""

    @abc.abstractmethod
    def save(self, root: Path) -> None:
        """Write the modules' folders and ``modules.json`` under ``root``."""

    def set_max_seq_length(self, max_seq_length: int) -> None:  # noqa: B027 -- optional hook, a no-op by default
        """Record a new truncation length where the backend saves it (the tokenizer does the truncating)."""

    def describe(self) -> BackendInfo:
        """Facts for ``SentenceEncoder.info()``."""
        return BackendInfo(kind=self.kind, device=self.device)

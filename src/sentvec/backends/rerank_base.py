"""The reranker backend protocol: one padded batch of text pairs in, one row of logits per pair out."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING

from sentvec.backends.base import BackendInfo
from sentvec.enums import BackendKind

if TYPE_CHECKING:
    import numpy as np

    from sentvec.batching import TokenBatch

__all__ = ["RerankBackend"]


class RerankBackend(abc.ABC):
    """Runs a sequence-classification model on pair batches. Chosen once, at load time; the sibling of
    :class:`sentvec.backends.base.Backend` for cross-encoders (same kinds, same :class:`BackendInfo`)."""

    kind: BackendKind

    @property
    def name(self) -> str:
        """The backend's kind as a string (``"torch"``, ``"onnx"``)."""
        return self.kind.value

    @property
    @abc.abstractmethod
    def num_labels(self) -> int:
        """Width of a row of logits."""

    @property
    @abc.abstractmethod
    def device(self) -> str:
        """Where the forward pass runs."""

    @abc.abstractmethod
    def forward(self, batch: TokenBatch) -> np.ndarray:
        """Logits ``(B, C)`` as float32 numpy, computed in float32 (no activation)."""

    @abc.abstractmethod
    def to(self, device: str) -> None:
        """Run on ``device`` from now on (or refuse clearly when the backend cannot move)."""

    @abc.abstractmethod
    def save(self, root: Path) -> None:
        """Write the model (``config.json`` and weights, or the folder the graph belongs to) under ``root``."""

    def describe(self) -> BackendInfo:
        """Facts for ``CrossEncoder.info()``."""
        return BackendInfo(kind=self.kind, device=self.device)

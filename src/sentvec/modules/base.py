"""The module contract: a torch module that reads and writes a features dict and owns its save/load."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar

import torch

from sentvec.formats import ModuleKind

# A transformers PreTrainedModel. transformers' own annotations are too loose for mypy (get_input_embeddings() is a
# Module, from_pretrained() a union), so the one place that holds such a model says Any, once, here.
HFModel = Any
Features = dict[str, Any]  # "input_ids", "attention_mask", "token_embeddings" (B, T, H), "sentence_embedding" (B, D)


class Module(torch.nn.Module, abc.ABC):
    """One step of the pipeline. ``forward`` adds its output to ``features`` and returns it."""

    kind: ClassVar[ModuleKind]

    @abc.abstractmethod
    def forward(self, features: Features) -> Features:
        """Run the step."""

    @abc.abstractmethod
    def save(self, folder: Path) -> None:
        """Write config and weights into ``folder`` (which exists)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, folder: Path) -> Module:
        """Read a module written by :meth:`save` (or by sentence-transformers)."""

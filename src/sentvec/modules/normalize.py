"""L2 normalization of the sentence embedding."""

from __future__ import annotations

from pathlib import Path

import torch

from sentvec.formats import ModuleKind
from sentvec.modules.base import Features, Module


class Normalize(Module):
    """Scale each sentence embedding to unit L2 norm (so dot product equals cosine)."""

    kind = ModuleKind.NORMALIZE

    def forward(self, features: Features) -> Features:
        """``sentence_embedding`` (B, D) → unit rows."""
        features["sentence_embedding"] = torch.nn.functional.normalize(features["sentence_embedding"], p=2, dim=1)
        return features

    def save(self, folder: Path) -> None:
        """Nothing to write: Normalize has no configuration."""

    @classmethod
    def load(cls, folder: Path) -> Normalize:
        """Normalize needs no files (its folder may even be missing)."""
        return cls()

"""sentvec: sentence embeddings with pretrained Transformer encoders.

``import sentvec`` is light: torch and transformers load only when a model is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.loading import load
    from sentvec.similarity import SimilarityFunction

__all__ = ["SentenceEncoder", "SimilarityFunction", "__version__", "load"]

_LAZY = {
    "load": ("sentvec.loading", "load"),
    "SentenceEncoder": ("sentvec.encoder", "SentenceEncoder"),
    "SimilarityFunction": ("sentvec.similarity", "SimilarityFunction"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sentvec' has no attribute {name!r}")

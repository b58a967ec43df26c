"""sentvec: sentence embeddings with pretrained Transformer encoders.

``import sentvec`` is light: torch and transformers load only when a model is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentvec._lazy import lazy_getattr

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.loading import load
    from sentvec.protocols import Embedder
    from sentvec.similarity import SimilarityFunction

__all__ = ["Embedder", "SentenceEncoder", "SimilarityFunction", "__version__", "load"]

_LAZY = {
    "load": "sentvec.loading",
    "Embedder": "sentvec.protocols",
    "SentenceEncoder": "sentvec.encoder",
    "SimilarityFunction": "sentvec.similarity",
}


__getattr__ = lazy_getattr(__name__, _LAZY)

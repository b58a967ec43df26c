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
    from sentvec.porting import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentvec.protocols import Embedder, Reranker
    from sentvec.rerank import CrossEncoder, RankedDocument, load_reranker
    from sentvec.similarity import SimilarityFunction

__all__ = [
    "CrossEncoder",
    "Embedder",
    "RankedDocument",
    "Reranker",
    "SentenceEncoder",
    "SentenceTransformer",
    "SentenceTransformerTrainer",
    "SentenceTransformerTrainingArguments",
    "SimilarityFunction",
    "__version__",
    "load",
    "load_reranker",
]

_LAZY = {
    "load": "sentvec.loading",
    "Embedder": "sentvec.protocols",
    "SentenceEncoder": "sentvec.encoder",
    "SimilarityFunction": "sentvec.similarity",
    "CrossEncoder": "sentvec.rerank",
    "RankedDocument": "sentvec.rerank",
    "Reranker": "sentvec.protocols",
    "load_reranker": "sentvec.rerank",
    "SentenceTransformer": "sentvec.porting",
    "SentenceTransformerTrainer": "sentvec.porting",
    "SentenceTransformerTrainingArguments": "sentvec.porting",
}
# Modules under the reference's top-level names (``from sentvec import losses, util``).
_MODULES = {"losses": "sentvec.training.losses", "util": "sentvec.util", "evaluation": "sentvec.evaluation"}


__getattr__ = lazy_getattr(__name__, _LAZY, modules=_MODULES)

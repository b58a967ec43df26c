"""Cross-encoder reranking: :class:`CrossEncoder` (``predict`` pairs, ``rank`` documents), built from a folder or a
model name with ``CrossEncoder(name_or_path)`` or :func:`load_reranker`; a new one to train from an encoder checkpoint
with :func:`new_reranker`. Importing this package loads neither torch nor transformers."""

from sentvec.rerank.activation import Activation
from sentvec.rerank.create import new_reranker
from sentvec.rerank.model import CrossEncoder, load_reranker
from sentvec.rerank.results import RankedDocument, RerankerInfo, TextPair

__all__ = ["Activation", "CrossEncoder", "RankedDocument", "RerankerInfo", "TextPair", "load_reranker", "new_reranker"]

"""Search over embeddings (exact), over texts (BM25) and both fused (hybrid), in memory; reranking of their hits
with a cross-encoder."""

from sentvec.search.exact import Hit, TopK, semantic_search, semantic_search_arrays
from sentvec.search.fusion import (
    FusionMethod,
    SearchMode,
    convex_combination,
    reciprocal_rank_fusion,
)
from sentvec.search.hybrid import HybridHit, hybrid_search
from sentvec.search.lexical import BM25
from sentvec.search.mining import (
    ParaphrasePair,
    community_detection,
    mine_hard_negatives,
    paraphrase_mining,
    paraphrase_mining_embeddings,
)
from sentvec.search.rerank import RerankedHit, rerank_hits
from sentvec.search.terms import LexicalTokenizer, tokenize

__all__ = ["Hit", "TopK", "semantic_search", "semantic_search_arrays"]
__all__ += [
    "BM25",
    "FusionMethod",
    "HybridHit",
    "LexicalTokenizer",
    "SearchMode",
    "convex_combination",
    "hybrid_search",
    "reciprocal_rank_fusion",
    "tokenize",
]
__all__ += ["RerankedHit", "rerank_hits"]
__all__ += [
    "ParaphrasePair",
    "community_detection",
    "mine_hard_negatives",
    "paraphrase_mining",
    "paraphrase_mining_embeddings",
]

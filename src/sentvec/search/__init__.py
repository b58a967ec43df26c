"""Semantic search over embeddings."""

from sentvec.search.exact import Hit, TopK, semantic_search, semantic_search_arrays
from sentvec.search.mining import (
    ParaphrasePair,
    community_detection,
    mine_hard_negatives,
    paraphrase_mining,
    paraphrase_mining_embeddings,
)

__all__ = ["Hit", "TopK", "semantic_search", "semantic_search_arrays"]
__all__ += [
    "ParaphrasePair",
    "community_detection",
    "mine_hard_negatives",
    "paraphrase_mining",
    "paraphrase_mining_embeddings",
]

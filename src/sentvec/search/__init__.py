"""Semantic search over embeddings."""

from sentvec.search.exact import Hit, TopK, semantic_search, semantic_search_arrays

__all__ = ["Hit", "TopK", "semantic_search", "semantic_search_arrays"]

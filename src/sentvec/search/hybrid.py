"""Hybrid search over a corpus held in memory: exact dense search and BM25, fused (the in-memory counterpart of
``Index.search(..., mode="hybrid")``).

    bm25 = BM25(corpus)                                    # sentvec.search.lexical, built once
    hits = hybrid_search(queries, model.encode(queries), corpus_embeddings, bm25, top_k=10)
    hits[0][0]   # HybridHit(corpus_id=..., score=..., dense_rank=1, dense_score=0.71, lexical_rank=3, ...)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from sentvec.arrays import ArrayLike, as_embedding_matrix
from sentvec.search.exact import Hit, Score, check_top_k, semantic_search_arrays
from sentvec.search.fusion import (
    ALPHA,
    DENSE,
    LEXICAL,
    RRF_K,
    Fused,
    FusionMethod,
    SearchMode,
    check_alpha,
    check_rrf_k,
    fuse,
)
from sentvec.search.lexical import BM25
from sentvec.search.terms import DEFAULT_TOKENIZER, LexicalTokenizer
from sentvec.similarity import SimilarityFunction

DEFAULT_CANDIDATES = 100  # each retriever's candidates for fusion: at least this many (and at least top_k)


@dataclasses.dataclass(frozen=True)
class HybridHit(Hit):
    """A :class:`~sentvec.search.Hit` of hybrid search: ``score`` is the fused score; each retriever's rank
    (1-based) and score, None when it did not return the document."""

    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None

    @property
    def retrievers(self) -> tuple[str, ...]:
        """The retrievers that returned the document (``"dense"``, ``"lexical"``)."""
        return tuple(name for name, rank in ((DENSE, self.dense_rank), (LEXICAL, self.lexical_rank)) if rank)


def check_candidates(candidates: object, top_k: int) -> int:
    """Each retriever's candidate count: ``candidates`` (a positive integer) or the default, never below ``top_k``."""
    if candidates is None:
        return max(top_k, DEFAULT_CANDIDATES)
    return max(top_k, check_top_k(candidates, "candidates"))


def fused_hits(fused: Fused) -> list[HybridHit]:
    """A fused ranking of corpus rows as hits."""
    ranks, sources = fused.ranks, fused.sources

    def detail(name: str, i: int) -> tuple[int | None, float | None]:
        if name not in ranks or not ranks[name][i]:
            return None, None
        return int(ranks[name][i]), float(sources[name][i])

    hits: list[HybridHit] = []
    for i, (row, score) in enumerate(zip(fused.ids.tolist(), fused.scores.tolist(), strict=True)):
        dense, lexical = detail(DENSE, i), detail(LEXICAL, i)
        hits.append(HybridHit(int(row), float(score), *dense, *lexical))
    return hits


def hybrid_search(
    queries: Sequence[str],
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    corpus: Sequence[str] | BM25,
    top_k: int = 10,
    *,
    mode: SearchMode | str = SearchMode.HYBRID,
    fusion: FusionMethod | str = FusionMethod.RRF,
    rrf_k: float = RRF_K,
    alpha: float = ALPHA,
    candidates: int | None = None,
    score: Score = SimilarityFunction.COSINE,
    tokenizer: LexicalTokenizer | str = DEFAULT_TOKENIZER,
) -> list[list[HybridHit]]:
    """Per query, the ``top_k`` corpus rows of exact dense search, BM25, or both fused.

    Args:
        queries: the query texts (BM25's input), one per row of ``query_embeddings``.
        query_embeddings, corpus_embeddings: ``(n_queries, D)`` and ``(n_corpus, D)`` arrays (dense input).
        corpus: the corpus texts (a :class:`~sentvec.search.lexical.BM25` is built over them with ``tokenizer``),
            or a BM25 built before (reuse it across calls); row ``i`` is ``corpus_embeddings[i]``.
        mode: ``hybrid`` (default), ``dense`` or ``lexical``.
        fusion: ``rrf`` (``1 / (rrf_k + rank)`` summed) or ``convex`` (``alpha × dense + (1 - alpha) × lexical``
            of min-max normalised scores).
        candidates: how many rows each retriever hands to the fusion (default: ``max(top_k, 100)``).
        score: the dense similarity (as :func:`~sentvec.search.semantic_search`).

    Returns:
        One list of :class:`HybridHit` per query, by fused score descending, ties by the smaller row; lexical
        search returns only rows holding a query term.
    """
    top_k = check_top_k(top_k)
    mode, fusion = SearchMode.parse(mode), FusionMethod.parse(fusion)
    rrf_k, alpha = check_rrf_k(rrf_k), check_alpha(alpha)
    if isinstance(queries, str):
        raise TypeError("queries must be a sequence of texts; wrap a single query in a list")
    bm25 = corpus if isinstance(corpus, BM25) else BM25(corpus, tokenizer=tokenizer)
    embeddings = as_embedding_matrix(corpus_embeddings, "corpus embeddings")
    if len(bm25) != embeddings.shape[0]:
        raise ValueError(f"the corpus has {len(bm25)} texts but {embeddings.shape[0]} embeddings")
    query_matrix = as_embedding_matrix(query_embeddings, "query embeddings")
    if len(queries) != query_matrix.shape[0]:
        raise ValueError(f"{len(queries)} queries but {query_matrix.shape[0]} query embeddings")
    depth = top_k if mode is not SearchMode.HYBRID else check_candidates(candidates, top_k)
    dense: list[tuple[np.ndarray, np.ndarray]] = []
    if mode is not SearchMode.LEXICAL:
        scores, rows = semantic_search_arrays(query_matrix, embeddings, top_k=depth, score=score)
        dense = list(zip(rows, scores, strict=True))
    lexical = bm25.search_arrays(queries, depth) if mode is not SearchMode.DENSE else []
    results: list[list[HybridHit]] = []
    for i in range(len(queries)):
        if mode is SearchMode.DENSE:
            fused = Fused.single(DENSE, dense[i], top_k)
        elif mode is SearchMode.LEXICAL:
            fused = Fused.single(LEXICAL, lexical[i], top_k)
        else:
            fused = fuse(dense[i], lexical[i], top_k, fusion, rrf_k, alpha)
        results.append(fused_hits(fused))
    return results

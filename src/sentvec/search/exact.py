"""Exact semantic search: chunked, memory-bounded top-k with a deterministic order.

Every result list is ordered by score descending, ties broken by the smaller corpus index, so the answer does
not depend on the chunk sizes. Scores follow :mod:`sentvec.similarity`: larger means more similar (distances
are negated).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from sentvec.arrays import ArrayLike, as_embedding_matrix
from sentvec.similarity import SimilarityFunction, normalize

ScoreFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
Score = SimilarityFunction | str | ScoreFunction


@dataclasses.dataclass(frozen=True)
class Hit:
    """One search result: the row of the corpus and its score (larger is more similar).

    Exact search runs over arrays the caller holds, so a hit names a row of them; a persistent index owns its
    documents and answers :class:`sentvec.search.index.SearchHit` (id, score, text, metadata) instead.
    """

    corpus_id: int
    score: float


def _resolve_score(score: Score) -> tuple[ScoreFunction, bool]:
    """The matrix function and whether it is cosine (computed as a dot product of pre-normalized rows)."""
    if callable(score):
        return score, False
    fn = SimilarityFunction.parse(score)
    if fn is SimilarityFunction.COSINE:
        return SimilarityFunction.DOT.matrix, True
    return fn.matrix, False


def chunk_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` of each row of ``scores`` as ``(values, column indices)``, each ``(rows, min(k, columns))``,
    ordered by value descending, ties by the smaller column index (exactly, also at the k-th place)."""
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k == 0:
        return np.empty((n_rows, 0), dtype=scores.dtype), np.empty((n_rows, 0), dtype=np.int64)
    if k == n_cols:
        idx = np.tile(np.arange(n_cols, dtype=np.int64), (n_rows, 1))
    else:
        idx = np.argpartition(-scores, k - 1, axis=1)[:, :k].astype(np.int64)
        kth = np.take_along_axis(scores, idx, axis=1).min(axis=1)
        n_at_least = (scores >= kth[:, None]).sum(axis=1)
        tied = np.flatnonzero(n_at_least > k)  # argpartition picked arbitrary members of a tie at the k-th place
        if tied.size:
            rows, t = scores[tied], kth[tied, None]
            above, equal = rows > t, rows == t
            room = k - above.sum(axis=1, keepdims=True)
            keep = above | (equal & (np.cumsum(equal, axis=1) <= room))
            idx[tied] = np.nonzero(keep)[1].reshape(len(tied), k)
    values = np.take_along_axis(scores, idx, axis=1)
    order = np.lexsort((idx, -values), axis=-1)
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(idx, order, axis=1)


def check_top_k(value: object, name: str = "top_k") -> int:
    """``value`` as a positive ``int`` (numpy integers too, booleans not); a ``ValueError`` naming ``name``
    otherwise. Callers clamp it to what exists (the corpus, the index) before sizing anything by it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class TopK:
    """Running top ``k`` per query over corpus chunks fed in any order; exact, ties by smaller corpus index.

    Its arrays grow with the candidates fed, never beyond ``k`` per query, so a huge ``k`` costs nothing."""

    def __init__(self, n_queries: int, k: int) -> None:
        self.k = check_top_k(k)
        self.scores: np.ndarray = np.empty((n_queries, 0), dtype=np.float64)
        self.indices: np.ndarray = np.empty((n_queries, 0), dtype=np.int64)

    def add(self, scores: np.ndarray, indices: np.ndarray) -> None:
        """Merge candidates: ``scores`` and global corpus ``indices``, both ``(n_queries, m)``."""
        all_scores = np.concatenate([self.scores, scores.astype(np.float64, copy=False)], axis=1)
        all_indices = np.concatenate([self.indices, indices.astype(np.int64, copy=False)], axis=1)
        order = np.lexsort((all_indices, -all_scores), axis=-1)[:, : self.k]
        self.scores = np.take_along_axis(all_scores, order, axis=1)
        self.indices = np.take_along_axis(all_indices, order, axis=1)

    def add_scores(self, scores: np.ndarray, offset: int) -> None:
        """Merge a full ``(n_queries, chunk)`` score block whose first column is corpus row ``offset``."""
        values, idx = chunk_top_k(scores, self.k)
        self.add(values, idx + offset)


def _check_sizes(**sizes: int) -> None:
    for label, value in sizes.items():
        check_top_k(value, label)


def semantic_search_arrays(
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    top_k: int = 10,
    score: Score = SimilarityFunction.COSINE,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 50000,
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`semantic_search`, but returns ``(scores, corpus indices)`` arrays of shape
    ``(n_queries, min(top_k, n_corpus))`` (float64, int64), each row in result order.

    At most ``query_chunk_size × corpus_chunk_size`` scores exist at once, and nothing is sized by ``top_k``
    beyond the corpus.
    """
    _check_sizes(top_k=top_k, query_chunk_size=query_chunk_size, corpus_chunk_size=corpus_chunk_size)
    queries = as_embedding_matrix(query_embeddings, "query embeddings")
    corpus = as_embedding_matrix(corpus_embeddings, "corpus embeddings")
    if queries.shape[1] != corpus.shape[1] and queries.shape[0] and corpus.shape[0]:
        raise ValueError(f"dimension mismatch: queries have {queries.shape[1]}, the corpus {corpus.shape[1]}")
    matrix, unit = _resolve_score(score)
    if unit:
        queries, corpus = normalize(queries), normalize(corpus)
    k = min(top_k, corpus.shape[0])
    out_scores = np.empty((queries.shape[0], k), dtype=np.float64)
    out_indices = np.empty((queries.shape[0], k), dtype=np.int64)
    if k == 0:
        return out_scores, out_indices
    for q_start in range(0, queries.shape[0], query_chunk_size):
        q = queries[q_start : q_start + query_chunk_size]
        best = TopK(q.shape[0], k)
        for c_start in range(0, corpus.shape[0], corpus_chunk_size):
            block = np.asarray(matrix(q, corpus[c_start : c_start + corpus_chunk_size]))
            best.add_scores(block, c_start)
        out_scores[q_start : q_start + q.shape[0]] = best.scores
        out_indices[q_start : q_start + q.shape[0]] = best.indices
    return out_scores, out_indices


def semantic_search(
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    top_k: int = 10,
    score: Score = SimilarityFunction.COSINE,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 50000,
) -> list[list[Hit]]:
    """Exact top-``k`` corpus rows for each query.

    Args:
        query_embeddings: ``(n_queries, D)`` (or one ``(D,)`` vector) numpy array or torch tensor.
        corpus_embeddings: ``(n_corpus, D)`` numpy array or torch tensor.
        top_k: hits per query, a positive integer; a value larger than the corpus returns the whole corpus
            ranked (and costs no more than that).
        score: a :class:`SimilarityFunction` (or its name), or a ``(N, D) x (M, D) -> (N, M)`` function
            where larger is more similar.
        query_chunk_size, corpus_chunk_size: the score blocks computed at once are at most this size.

    Returns:
        One list of :class:`Hit` per query, by score descending, ties broken by the smaller corpus index.
    """
    scores, indices = semantic_search_arrays(
        query_embeddings, corpus_embeddings, top_k, score, query_chunk_size, corpus_chunk_size
    )
    return [
        [Hit(int(i), float(s)) for i, s in zip(row_idx, row_scores, strict=True)]
        for row_idx, row_scores in zip(indices.tolist(), scores.tolist(), strict=True)
    ]

"""Retrieve, then rerank: a cross-encoder (any :class:`~sentvec.protocols.Reranker`, e.g.
:class:`sentvec.CrossEncoder`) rescoring the candidates a first-stage search returned.

    hits = hybrid_search([query], model.encode([query]), corpus_embeddings, bm25, top_k=100)[0]
    best = rerank_hits(reranker, query, corpus, hits, top_k=10)
    best[0]   # RerankedHit(corpus_id=..., score=<the reranker's>, retrieval_rank=4, retrieval_score=0.031, ...)

``Index.search(..., rerank=reranker, rerank_candidates=100)`` does the same over a persistent index. Scores are the
reranker's (after its activation: sigmoid for a one-label model unless its folder names another); ties keep the
first stage's order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast, overload

import numpy as np

from sentvec.search.exact import Hit, check_top_k
from sentvec.search.hybrid import HybridHit

if TYPE_CHECKING:
    from sentvec.protocols import Reranker

DEFAULT_RERANK_CANDIDATES = 100  # candidates reranked per query unless told otherwise (as the recipes)
RERANK_BATCH_SIZE = 32


@dataclasses.dataclass(frozen=True)
class RerankedHit(HybridHit):
    """A hit after reranking: ``score`` is the reranker's; ``retrieval_rank`` (1-based) and ``retrieval_score`` are
    where and how the first stage ranked the row; the dense and lexical ranks and scores are copied from a
    :class:`~sentvec.search.HybridHit` (None for a plain :class:`~sentvec.search.Hit`)."""

    retrieval_rank: int = 0
    retrieval_score: float = 0.0


def check_reranker(reranker: object, name: str = "rerank") -> None:
    """``TypeError`` unless ``reranker`` has a ``predict``; ``ValueError`` unless it gives one score per pair."""
    if not callable(getattr(reranker, "predict", None)):
        raise TypeError(f"{name} must be a reranker (a sentvec.CrossEncoder), got {type(reranker).__name__}")
    labels = getattr(reranker, "num_labels", 1)
    if labels != 1:
        model = getattr(reranker, "name", type(reranker).__name__)
        raise ValueError(
            f"{name}: reranking needs a one-label model (one relevance score per pair); {model!r} has {labels} labels"
        )


def check_rerank_candidates(value: object, k: int) -> int:
    """How deep the first stage searches for the reranker: ``value`` (a positive integer), never below ``k``."""
    return max(k, check_top_k(value, "rerank_candidates"))


def score_pairs(reranker: Reranker, pairs: list[tuple[str, str]], batch_size: int = RERANK_BATCH_SIZE) -> np.ndarray:
    """The reranker's score of each (query, document) pair, ``(N,)`` float32 in input order (one ``predict`` call:
    its length-sorted batches mix the pairs of every query)."""
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    scores = np.asarray(reranker.predict(pairs, batch_size=batch_size, show_progress_bar=False), dtype=np.float32)
    if scores.size != len(pairs):
        raise ValueError(f"the reranker returned {scores.size} scores for {len(pairs)} pairs")
    return scores.reshape(len(pairs))


def rerank_order(scores: np.ndarray, k: int) -> np.ndarray:
    """The positions of the ``k`` best scores, best first; equal scores keep their order (the first stage's)."""
    return np.argsort(-scores, kind="stable")[:k]


@overload
def rerank_hits(
    reranker: Reranker,
    queries: str,
    documents: Sequence[str],
    hits: Sequence[Hit],
    top_k: int = ...,
    *,
    batch_size: int = ...,
) -> list[RerankedHit]: ...
@overload
def rerank_hits(
    reranker: Reranker,
    queries: Sequence[str],
    documents: Sequence[str],
    hits: Sequence[Sequence[Hit]],
    top_k: int = ...,
    *,
    batch_size: int = ...,
) -> list[list[RerankedHit]]: ...
def rerank_hits(
    reranker: Reranker,
    queries: str | Sequence[str],
    documents: Sequence[str],
    hits: Sequence[Hit] | Sequence[Sequence[Hit]],
    top_k: int = 10,
    *,
    batch_size: int = RERANK_BATCH_SIZE,
) -> list[RerankedHit] | list[list[RerankedHit]]:
    """Rerank first-stage hits (of :func:`~sentvec.search.semantic_search` or
    :func:`~sentvec.search.hybrid_search`) with ``reranker``: the ``top_k`` best by its score of
    ``(query, documents[hit.corpus_id])``.

    One query (a string) takes one list of hits and returns one list; a list of queries takes one list of hits per
    query and returns one list per query (every pair of every query is scored in one ``predict`` call). ``top_k``
    (a positive integer) is clamped to the hits given. Each :class:`RerankedHit` keeps the first stage's rank and
    score (and a hybrid hit's per-retriever ranks); ties in the reranker's score keep the first stage's order.
    """
    check_reranker(reranker, "reranker")
    top_k = check_top_k(top_k)
    if isinstance(queries, str):
        if any(not isinstance(hit, Hit) for hit in hits):
            raise TypeError("with one query, hits must be one list of Hit (lists of hits go with a list of queries)")
        rows: list[Sequence[Hit]] = [cast("Sequence[Hit]", hits)]
        texts = [queries]
    else:
        texts = list(queries)
        if not all(isinstance(q, str) for q in texts):
            raise TypeError("queries must be a text or a sequence of texts")
        rows = [list(row) for row in cast("Sequence[Sequence[Hit]]", hits)]
        if len(rows) != len(texts):
            raise ValueError(f"{len(texts)} queries but {len(rows)} lists of hits")
    if isinstance(documents, str):
        raise TypeError("documents must be a sequence of texts (the corpus the hits' corpus_id index)")
    pairs: list[tuple[str, str]] = []
    for query, row in zip(texts, rows, strict=True):
        for hit in row:
            if not isinstance(hit, Hit):
                raise TypeError(f"hits must be sentvec.search.Hit objects, got {type(hit).__name__}")
            if not 0 <= hit.corpus_id < len(documents):
                raise ValueError(f"hit corpus_id {hit.corpus_id} is outside the {len(documents)} documents given")
            pairs.append((query, documents[hit.corpus_id]))
    scores = score_pairs(reranker, pairs, batch_size)
    out: list[list[RerankedHit]] = []
    offset = 0
    for row in rows:
        row_scores = scores[offset : offset + len(row)]
        offset += len(row)
        out.append([_reranked(row[i], float(row_scores[i]), int(i) + 1) for i in rerank_order(row_scores, top_k)])
    return out[0] if isinstance(queries, str) else out


def _reranked(hit: Hit, score: float, retrieval_rank: int) -> RerankedHit:
    if isinstance(hit, HybridHit):
        details = (hit.dense_rank, hit.dense_score, hit.lexical_rank, hit.lexical_score)
    else:
        details = (None, None, None, None)
    return RerankedHit(hit.corpus_id, score, *details, retrieval_rank, hit.score)

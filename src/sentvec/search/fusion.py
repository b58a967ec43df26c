"""Fusing the rankings of several retrievers (dense and lexical) into one: reciprocal rank fusion and a convex
combination of normalised scores.

A ranking is one query's ``(ids, scores)`` (int64 ids, float64 scores, best first; ids unique within it), as the
retrievers of :mod:`sentvec.search` and :class:`sentvec.search.index.Index` produce them. The fused ranking keeps,
for every id, the rank (1-based, 0 where that retriever did not return it) and score each retriever gave it.

- RRF (Cormack et al. 2009): ``sum over retrievers of 1 / (rrf_k + rank)``, ``rrf_k = 60`` by default (as
  Elasticsearch, OpenSearch, Qdrant, Vespa and LanceDB use).
- Convex: each retriever's scores min-max normalised over its own candidates (the best 1, the worst 0; all 1 when
  they are equal), a document it did not return counting 0, then ``sum of weight × normalised score``.

Ties in the fused score go to the smaller id (for an index, the document added first).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping

import numpy as np

from sentvec.enums import parse_enum
from sentvec.search.exact import check_top_k

RRF_K = 60
ALPHA = 0.5
DENSE, LEXICAL = "dense", "lexical"

Ranking = tuple[np.ndarray, np.ndarray]  # one query's ids (int64) and scores (float64), best first


class SearchMode(str, enum.Enum):
    """Which retrievers answer a search: the embeddings (``dense``), BM25 (``lexical``) or both, fused (``hybrid``)."""

    DENSE = "dense"
    LEXICAL = "lexical"
    HYBRID = "hybrid"

    @classmethod
    def parse(cls, value: str | SearchMode) -> SearchMode:
        """A member from itself or its name (``ValueError`` listing the valid ones otherwise)."""
        return parse_enum(cls, value, "search mode")


class FusionMethod(str, enum.Enum):
    """How hybrid search fuses its rankings: reciprocal rank fusion or a convex combination of normalised scores."""

    RRF = "rrf"
    CONVEX = "convex"

    @classmethod
    def parse(cls, value: str | FusionMethod) -> FusionMethod:
        """A member from itself or its name (``ValueError`` listing the valid ones otherwise)."""
        return parse_enum(cls, value, "fusion method")


@dataclasses.dataclass(frozen=True)
class Fused:
    """One query's fused ranking: ``ids`` and ``scores`` best first; per retriever (by name), the ``ranks``
    (1-based; 0: not returned by it) and ``sources`` (its score; NaN: not returned) aligned with ``ids``."""

    ids: np.ndarray
    scores: np.ndarray
    ranks: Mapping[str, np.ndarray]
    sources: Mapping[str, np.ndarray]

    @classmethod
    def single(cls, name: str, ranking: Ranking, top_k: int | None = None) -> Fused:
        """One retriever's ranking as it is (its scores are the fused ones)."""
        ids, scores = (part[:top_k] for part in ranking)
        ranks = np.arange(1, len(ids) + 1, dtype=np.int64)
        return cls(ids, scores.astype(np.float64), {name: ranks}, {name: scores.astype(np.float64)})


def check_rrf_k(value: object) -> float:
    """``rrf_k`` as a finite number >= 0 (``ValueError`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"rrf_k must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"rrf_k must be a finite number >= 0, got {value!r}")
    return float(value)


def check_alpha(value: object) -> float:
    """``alpha`` (the dense weight of a convex combination) as a number within [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"alpha must be a number within [0, 1], got {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"alpha must be within [0, 1], got {value!r}")
    return float(value)


def _align(rankings: Mapping[str, Ranking]) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every id of any ranking (ascending) and, aligned with them, each ranking's ranks and scores."""
    if not rankings:
        raise ValueError("nothing to fuse: no rankings given")
    parts = [np.asarray(ids, dtype=np.int64) for ids, _ in rankings.values()]
    union = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    ranks: dict[str, np.ndarray] = {}
    sources: dict[str, np.ndarray] = {}
    for (name, (_, scores)), part in zip(rankings.items(), parts, strict=True):
        if len(part) != len(scores):
            raise ValueError(f"ranking {name!r}: {len(part)} ids but {len(scores)} scores")
        where = np.searchsorted(union, part)
        rank = np.zeros(len(union), dtype=np.int64)
        rank[where] = np.arange(1, len(part) + 1)
        score = np.full(len(union), np.nan)
        score[where] = np.asarray(scores, dtype=np.float64)
        ranks[name], sources[name] = rank, score
    return union, ranks, sources


def _top(
    union: np.ndarray, fused: np.ndarray, ranks: dict[str, np.ndarray], sources: dict[str, np.ndarray], top_k: int
) -> Fused:
    order = np.lexsort((union, -fused))[:top_k]
    return Fused(
        union[order],
        fused[order],
        {name: r[order] for name, r in ranks.items()},
        {name: s[order] for name, s in sources.items()},
    )


def _weights(rankings: Mapping[str, Ranking], weights: Mapping[str, float] | None) -> dict[str, float]:
    out = {name: 1.0 for name in rankings} if weights is None else {name: 0.0 for name in rankings}
    for name, weight in (weights or {}).items():
        if name not in rankings:
            raise ValueError(f"weight for {name!r}, which is no ranking given ({', '.join(map(repr, rankings))})")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {name!r} must be a finite number >= 0, got {weight!r}")
        out[name] = float(weight)
    return out


def reciprocal_rank_fusion(
    rankings: Mapping[str, Ranking],
    top_k: int,
    rrf_k: float = RRF_K,
    weights: Mapping[str, float] | None = None,
) -> Fused:
    """The best ``top_k`` ids by ``sum of weight / (rrf_k + rank)`` over the rankings that hold them (weights:
    1 each unless given; a ranking without a weight then counts 0)."""
    top_k = check_top_k(top_k)
    rrf_k = check_rrf_k(rrf_k)
    w = _weights(rankings, weights)
    union, ranks, sources = _align(rankings)
    fused = np.zeros(len(union), dtype=np.float64)
    for name, rank in ranks.items():
        found = rank > 0
        fused[found] += w[name] / (rrf_k + rank[found])
    return _top(union, fused, ranks, sources, top_k)


def min_max(scores: np.ndarray) -> np.ndarray:
    """``scores`` scaled to [0, 1] (the best 1; all 1 when they are equal; NaN stays NaN)."""
    present = scores[~np.isnan(scores)]
    if not len(present):
        return scores.copy()
    low, high = float(present.min()), float(present.max())
    if high - low <= 0 or not math.isfinite(high - low):
        return np.where(np.isnan(scores), np.nan, 1.0)
    return (scores - low) / (high - low)


def convex_combination(rankings: Mapping[str, Ranking], top_k: int, weights: Mapping[str, float]) -> Fused:
    """The best ``top_k`` ids by ``sum of weight × min-max normalised score`` (a ranking that does not hold an id
    counts 0 for it)."""
    top_k = check_top_k(top_k)
    w = _weights(rankings, weights)
    union, ranks, sources = _align(rankings)
    fused = np.zeros(len(union), dtype=np.float64)
    for name, score in sources.items():
        fused += w[name] * np.nan_to_num(min_max(score), nan=0.0)
    return _top(union, fused, ranks, sources, top_k)


def fuse(
    dense: Ranking,
    lexical: Ranking,
    top_k: int,
    method: FusionMethod | str = FusionMethod.RRF,
    rrf_k: float = RRF_K,
    alpha: float = ALPHA,
) -> Fused:
    """Hybrid search's fusion of a dense and a lexical ranking: RRF (``rrf_k``), or the convex combination
    ``alpha × dense + (1 - alpha) × lexical`` of normalised scores."""
    rankings = {DENSE: dense, LEXICAL: lexical}
    if FusionMethod.parse(method) is FusionMethod.RRF:
        return reciprocal_rank_fusion(rankings, top_k, rrf_k)
    alpha = check_alpha(alpha)
    return convex_combination(rankings, top_k, {DENSE: alpha, LEXICAL: 1.0 - alpha})

"""Mining with embeddings: paraphrase pairs, communities of near-duplicates, hard negatives for training.

Everything runs on exact, chunked search (:mod:`sentvec.search.exact`), so at most one score block of bounded size
exists at a time, and every result has a deterministic order (ties broken by the smaller index).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sentvec.arrays import ArrayLike, as_embedding_matrix, as_text_list
from sentvec.search.exact import Score, _resolve_score, check_top_k, semantic_search_arrays
from sentvec.similarity import SimilarityFunction, normalize

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

logger = logging.getLogger(__name__)

# Corpus rows scored against one query chunk at a time: bounds a score block to chunk_size × this many values.
_CORPUS_CHUNK = 16384


@dataclasses.dataclass(frozen=True)
class ParaphrasePair:
    """Two texts (rows ``i < j``) and their similarity score (larger is more similar)."""

    score: float
    i: int
    j: int


def _check_positive(**values: int) -> None:
    """Every value a positive integer (``ValueError`` naming it). Sizes are then clamped to the corpus before
    anything is allocated: a huge ``top_k`` or ``num_negatives`` costs no more than the whole corpus."""
    for name, value in values.items():
        check_top_k(value, name)


def paraphrase_mining_embeddings(
    embeddings: ArrayLike,
    top_k: int = 5,
    threshold: float = 0.0,
    score: Score = SimilarityFunction.COSINE,
    chunk_size: int = 512,
) -> list[ParaphrasePair]:
    """The most similar pairs among the rows of ``embeddings``.

    Each row is paired with its ``top_k`` most similar other rows (exact search, ties by the smaller row); the
    union of those pairs with a score ``>= threshold`` is returned. A pair found from both sides is reported once.

    Args:
        embeddings: ``(N, D)`` numpy array or torch tensor.
        top_k: neighbours considered per row.
        threshold: the smallest score kept (inclusive).
        score: a :class:`SimilarityFunction` (or its name), or a symmetric ``(N, D) x (M, D) -> (N, M)`` function.
        chunk_size: query rows scored at once; a score block holds at most ``chunk_size × 16384`` values.

    Returns:
        :class:`ParaphrasePair` items with ``i < j``, by score descending, ties by ``(i, j)``.
    """
    _check_positive(top_k=top_k, chunk_size=chunk_size)
    emb = as_embedding_matrix(embeddings)
    best: dict[tuple[int, int], float] = {}
    scores, indices = semantic_search_arrays(  # one call: the corpus is checked and normalized once
        emb,
        emb,
        top_k=top_k + 1,  # room for the row itself
        score=score,
        query_chunk_size=chunk_size,
        corpus_chunk_size=_CORPUS_CHUNK,
    )
    for i, (row_scores, row_idx) in enumerate(zip(scores.tolist(), indices.tolist(), strict=True)):
        neighbours = [(j, s) for j, s in zip(row_idx, row_scores, strict=True) if j != i][:top_k]
        for j, s in neighbours:
            if s < threshold:
                break  # rows are sorted: the rest score lower still
            key = (i, j) if i < j else (j, i)
            previous = best.get(key)
            best[key] = s if previous is None else max(previous, s)  # symmetric up to rounding
    pairs = [ParaphrasePair(s, i, j) for (i, j), s in best.items()]
    pairs.sort(key=lambda p: (-p.score, p.i, p.j))
    return pairs


def paraphrase_mining(
    model: Embedder,
    texts: Sequence[str],
    top_k: int = 5,
    threshold: float = 0.0,
    batch_size: int = 32,
    chunk_size: int = 512,
) -> list[ParaphrasePair]:
    """Embed ``texts`` with ``model`` and return their most similar pairs, scored with the model's similarity
    function. See :func:`paraphrase_mining_embeddings` for the meaning of the other arguments; ``i`` and ``j``
    index ``texts``."""
    _check_positive(top_k=top_k, chunk_size=chunk_size)  # before the texts are embedded
    texts = as_text_list(texts, "texts")
    if not texts:
        return []
    emb = model.encode(texts, batch_size=batch_size)
    return paraphrase_mining_embeddings(emb, top_k, threshold, model.similarity_fn, chunk_size)


def community_detection(
    embeddings: ArrayLike,
    threshold: float = 0.75,
    min_size: int = 10,
    batch_size: int = 1024,
) -> list[list[int]]:
    """Fast community detection (the sentence-transformers algorithm): groups of rows whose cosine similarity to a
    central row is at least ``threshold``.

    Every row with at least ``min_size`` rows (itself included) at cosine ``>= threshold`` proposes a community:
    those rows. Proposals are taken largest first (ties: the smaller central row), each keeping only the rows not
    already taken, and kept when the central row is still free and at least ``min_size`` rows remain.

    Args:
        embeddings: ``(N, D)`` numpy array or torch tensor.
        threshold: the smallest cosine similarity to the central row.
        min_size: the smallest community returned.
        batch_size: rows scored against all others at once (a ``batch_size × N`` block).

    Returns:
        Non-overlapping communities, each a sorted list of row indices; largest first, ties by the smallest row.
    """
    communities = [sorted(members) for _, members in communities_by_center(embeddings, threshold, min_size, batch_size)]
    communities.sort(key=lambda c: (-len(c), c[0]))
    return communities


def communities_by_center(
    embeddings: ArrayLike, threshold: float = 0.75, min_size: int = 10, batch_size: int = 1024
) -> list[tuple[int, list[int]]]:
    """:func:`community_detection`'s communities as ``(central row, members)``, the members central row first, then
    by similarity to it (descending, ties by the smaller row); largest first, in the order they were taken."""
    _check_positive(min_size=min_size, batch_size=batch_size)
    emb = as_embedding_matrix(embeddings)
    n = emb.shape[0]
    if n < min_size:
        return []
    emb = normalize(emb)
    proposals: list[tuple[int, np.ndarray]] = []
    for start in range(0, n, batch_size):
        block = emb[start : start + batch_size] @ emb.T
        close = block >= threshold
        for offset in np.flatnonzero(close.sum(axis=1) >= min_size).tolist():
            members = np.flatnonzero(close[offset])
            order = np.lexsort((members, -block[offset, members]))  # by score descending, then row
            proposals.append((start + offset, members[order]))
    proposals.sort(key=lambda p: (-len(p[1]), p[0]))
    used = np.zeros(n, dtype=bool)
    communities: list[tuple[int, list[int]]] = []
    for center, members in proposals:
        if used[center]:
            continue
        free = members[~used[members]]
        if len(free) >= min_size:
            used[free] = True
            used[center] = True
            communities.append((center, [center, *(int(m) for m in free if m != center)]))
    return communities


def mine_hard_negatives(
    model: Embedder,
    pairs: Sequence[tuple[str, str]],
    corpus: Sequence[str] | None = None,
    num_negatives: int = 1,
    range_min: int = 0,
    range_max: int | None = None,
    margin: float | None = None,
    max_score: float | None = None,
    batch_size: int = 32,
) -> list[tuple[str, ...]]:
    """Add the hardest negatives to ``(anchor, positive)`` pairs: ``(anchor, positive, neg_1, ..., neg_n)``.

    For each anchor, the candidates are the (deduplicated) ``corpus`` texts ranked by similarity to the anchor
    (the model's similarity function; ties by corpus order), leaving out the anchor itself and every positive
    paired with that anchor. Candidates at ranks ``range_min <= rank < range_max`` (0-based, among those
    candidates) are considered in order, and the first ``num_negatives`` that pass both filters are taken:

    - ``margin``: score(anchor, negative) < score(anchor, positive) - margin;
    - ``max_score``: score(anchor, negative) < max_score.

    Args:
        model: the encoder embedding anchors, positives and corpus.
        pairs: ``(anchor, positive)`` text pairs.
        corpus: the texts negatives are drawn from; default: all positives.
        num_negatives: negatives per pair.
        range_min: skip this many of the most similar candidates (they are often unlabeled positives).
        range_max: consider only candidates ranked below this; ``None``: no limit.
        margin, max_score: the filters above; ``None`` disables one.
        batch_size: encoding batch size.

    Returns:
        One tuple per input pair, in input order; pairs for which fewer than ``num_negatives`` candidates qualify
        are left out (a warning gives the count).
    """
    _check_positive(batch_size=batch_size)
    window = _Window(num_negatives, range_min, range_max, margin, max_score)
    pairs = _check_pairs(pairs)
    if not pairs:
        return []
    texts = list(dict.fromkeys(as_text_list(corpus, "corpus") if corpus is not None else (p for _, p in pairs)))
    anchors = list(dict.fromkeys(a for a, _ in pairs))
    position = {t: i for i, t in enumerate(texts)}
    excluded: dict[str, set[int]] = {a: {position[a]} if a in position else set() for a in anchors}
    for a, p in pairs:
        if p in position:
            excluded[a].add(position[p])
    if not texts:
        logger.warning("mine_hard_negatives: the corpus is empty; no negatives")
        return []
    every = list(dict.fromkeys([*texts, *anchors, *(p for _, p in pairs)]))
    row = {t: i for i, t in enumerate(every)}
    emb = model.encode(every, batch_size=batch_size)
    pair_emb = emb[[row[a] for a, _ in pairs]]
    positive_emb = emb[[row[p] for _, p in pairs]]
    pos_scores = np.asarray(model.similarity_fn.pairwise(pair_emb, positive_emb), dtype=np.float64).reshape(-1)
    corpus_emb = emb[: len(texts)]
    picked = _mine(window, pair_emb, corpus_emb, [excluded[a] for a, _ in pairs], pos_scores, model.similarity_fn)
    out = [(a, p, *(texts[c] for c in rows)) for (a, p), rows in zip(pairs, picked, strict=True) if rows is not None]
    if len(out) < len(pairs):
        logger.warning(
            "mine_hard_negatives: %d of %d pairs had fewer than %d qualifying negatives and were left out",
            len(pairs) - len(out),
            len(pairs),
            num_negatives,
        )
    return out


@dataclasses.dataclass(frozen=True)
class _Window:
    """The selection rule of :func:`mine_hard_negatives` over one anchor's ranked candidates."""

    num_negatives: int
    range_min: int
    range_max: int | None
    margin: float | None
    max_score: float | None

    def __post_init__(self) -> None:
        _check_positive(num_negatives=self.num_negatives)
        for name, value, optional in (("range_min", self.range_min, False), ("range_max", self.range_max, True)):
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.range_max is not None and self.range_max - self.range_min < self.num_negatives:
            raise ValueError(
                f"range_min={self.range_min}, range_max={self.range_max} leave fewer than "
                f"num_negatives={self.num_negatives} candidates"
            )

    def pick(self, ranked: list[tuple[int, float]], positive_score: float) -> list[int] | None:
        """The chosen corpus rows, or ``None`` when fewer than ``num_negatives`` qualify."""
        stop = len(ranked) if self.range_max is None else min(self.range_max, len(ranked))
        chosen: list[int] = []
        for idx, s in ranked[self.range_min : stop]:
            if self.margin is not None and not s < positive_score - self.margin:
                continue
            if self.max_score is not None and not s < self.max_score:
                continue
            chosen.append(idx)
            if len(chosen) == self.num_negatives:
                return chosen
        return None


def _mine(
    window: _Window,
    queries: np.ndarray,
    corpus: np.ndarray,
    excluded: list[set[int]],
    positive_scores: np.ndarray,
    score: Score,
    chunk: int = 256,
) -> list[list[int] | None]:
    """:meth:`_Window.pick` for each query, ``chunk`` queries at a time. Each query's ranking is retrieved only as
    deep as needed: deeper (doubling) while the filters reject the candidates seen so far."""
    matrix, unit = _resolve_score(score)
    if unit:  # cosine: normalize once here, not in each of the searches below
        queries, corpus, score = normalize(queries), normalize(corpus), matrix
    n_corpus = corpus.shape[0]
    filtered = window.margin is not None or window.max_score is not None
    result: list[list[int] | None] = [None] * len(queries)
    for start in range(0, len(queries), chunk):
        pending = list(range(start, min(start + chunk, len(queries))))
        most_excluded = max(len(excluded[q]) for q in pending)
        deepest = n_corpus if window.range_max is None else min(n_corpus, window.range_max + most_excluded)
        k = min(deepest, window.range_min + window.num_negatives * (4 if filtered else 1) + most_excluded)
        while pending:
            scores, indices = semantic_search_arrays(
                queries[pending], corpus, top_k=max(k, 1), score=score, query_chunk_size=chunk
            )
            still: list[int] = []
            for q, row_idx, row_scores in zip(pending, indices.tolist(), scores.tolist(), strict=True):
                ranked = [(i, s) for i, s in zip(row_idx, row_scores, strict=True) if i not in excluded[q]]
                result[q] = window.pick(ranked, float(positive_scores[q]))
                if result[q] is None and k < deepest:
                    still.append(q)
            pending, k = still, min(deepest, 2 * k)
    return result


def _check_pairs(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for n, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(t, str) for t in pair):
            raise TypeError(f"pairs[{n}] must be an (anchor, positive) pair of strings, got {pair!r}")
        out.append((pair[0], pair[1]))
    return out

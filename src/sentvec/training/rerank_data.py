"""Training rows for cross-encoders from relevance judgements and hard negatives.

A reranker learns most from negatives a first-stage retriever ranks high: mine them with a bi-encoder
(:func:`sentvec.search.mine_hard_negatives`, or :func:`mine_reranker_pairs` here in one call) or take them from any
ranking (dense, lexical, hybrid search) with :func:`negatives_from_ranking`, then turn them into rows:

- :func:`hard_negative_rows` / :func:`labeled_pairs`: ``(query, document, label)`` rows, 1 for a positive and 0
  for a negative (:class:`~sentvec.training.rerank_losses.BinaryCrossEntropyLoss`);
- :func:`hard_negative_lists`: ``(query, positive, negative_1, ..., negative_n)`` rows with the labels
  ``[1, 0, ..., 0]`` (:class:`~sentvec.training.rerank_losses.ListNetLoss`);

and :func:`pairs_data` / :func:`lists_data` make the trainer's :class:`~sentvec.training.data.TrainingData` of them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from sentvec.training.data import TrainingData, load_data

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

LabeledPair = tuple[str, str, float]  # (query, document, label)
PAIR_COLUMNS = ("query", "document", "label")


def labeled_pairs(query: str, positives: Iterable[str], negatives: Iterable[str]) -> list[LabeledPair]:
    """``(query, positive, 1.0)`` for each positive, then ``(query, negative, 0.0)`` for each negative that is not
    also a positive; each document once."""
    pos = list(dict.fromkeys(positives))
    taken = set(pos)
    neg = [d for d in dict.fromkeys(negatives) if d not in taken]
    return [(query, d, 1.0) for d in pos] + [(query, d, 0.0) for d in neg]


def hard_negative_rows(mined: Iterable[Sequence[str]]) -> list[LabeledPair]:
    """``(query, document, label)`` rows from :func:`~sentvec.search.mine_hard_negatives`' tuples
    ``(query, positive, negative_1, ..., negative_n)``: the positive labelled 1, each negative 0.

    Rows are grouped by query in first-seen order (positives, then negatives); a (query, document) pair appears
    once, and a document that is a positive of the query in any tuple is labelled 1 (never also 0)."""
    positives: dict[str, list[str]] = {}
    negatives: dict[str, list[str]] = {}
    for i, row in enumerate(mined):
        if isinstance(row, str) or len(row) < 2 or not all(isinstance(t, str) for t in row):
            raise TypeError(f"mined[{i}] must be (query, positive, negative...) strings, got {row!r}")
        query, positive, *negs = row
        positives.setdefault(query, []).append(positive)
        negatives.setdefault(query, []).extend(negs)
    return [row for query in positives for row in labeled_pairs(query, positives[query], negatives[query])]


def hard_negative_lists(mined: Iterable[Sequence[str]]) -> list[tuple[tuple[str, ...], list[float]]]:
    """``((query, positive, negative_1, ..., negative_n), [1, 0, ..., 0])`` from
    :func:`~sentvec.search.mine_hard_negatives`' tuples (each a list for a listwise loss; all of one length)."""
    out: list[tuple[tuple[str, ...], list[float]]] = []
    for i, row in enumerate(mined):
        if isinstance(row, str) or len(row) < 2 or not all(isinstance(t, str) for t in row):
            raise TypeError(f"mined[{i}] must be (query, positive, negative...) strings, got {row!r}")
        out.append((tuple(row), [1.0] + [0.0] * (len(row) - 2)))
    return out


def negatives_from_ranking(
    ranking: Iterable[str],
    positives: Collection[str],
    num_negatives: int,
    *,
    range_min: int = 0,
    range_max: int | None = None,
) -> list[str]:
    """Hard negatives from a query's ranked candidates (best first, e.g. hybrid search's texts): the candidates
    that are not positives, skipping the ``range_min`` best of them (often unjudged positives) and looking no
    deeper than ``range_max`` of them, the first ``num_negatives`` taken (fewer when the ranking runs out)."""
    if isinstance(num_negatives, bool) or not isinstance(num_negatives, int) or num_negatives < 1:
        raise ValueError(f"num_negatives must be a positive integer, got {num_negatives!r}")
    if range_min < 0 or (range_max is not None and range_max < range_min):
        raise ValueError(f"need 0 <= range_min <= range_max, got {range_min}, {range_max}")
    seen: set[str] = set()
    candidates = []
    for doc in ranking:
        if doc in positives or doc in seen:
            continue
        seen.add(doc)
        candidates.append(doc)
        if range_max is not None and len(candidates) >= range_max:
            break
    return candidates[range_min : range_min + num_negatives]


def pairs_data(rows: Sequence[LabeledPair] | Sequence[Sequence[object]]) -> TrainingData:
    """``(query, document, label)`` rows as training data (columns ``query``, ``document``; 0/1 labels, checked)."""
    return load_data(list(rows), columns=[0, 1], label=2, label_kind="binary", names=PAIR_COLUMNS)


def lists_data(rows: Sequence[tuple[Sequence[str], Sequence[float]]]) -> TrainingData:
    """``(texts, labels)`` rows (:func:`hard_negative_lists`) as training data: the query and n documents, and n
    labels per row (all rows of one n)."""
    rows = list(rows)
    if not rows:
        return load_data([], columns=[0, 1], label=2, label_kind="embedding")
    n = len(rows[0][0])
    flat = []
    for i, (texts, labels) in enumerate(rows):
        if len(texts) != n or len(labels) != n - 1:
            raise ValueError(f"row {i} has {len(texts)} texts and {len(labels)} labels; expected {n} and {n - 1}")
        flat.append((*texts, list(labels)))
    names = ("query", *(f"document_{j}" for j in range(1, n)), "labels")
    return load_data(flat, columns=list(range(n)), label=n, label_kind="embedding", names=names)


def mine_reranker_pairs(
    model: Embedder,
    pairs: Sequence[tuple[str, str]],
    corpus: Sequence[str] | None = None,
    *,
    num_negatives: int = 4,
    range_min: int = 0,
    range_max: int | None = None,
    margin: float | None = None,
    max_score: float | None = None,
    batch_size: int = 32,
) -> TrainingData:
    """(query, positive) pairs and a corpus → ``(query, document, 0/1)`` training data for a cross-encoder: the
    ``num_negatives`` hardest negatives per pair mined with the bi-encoder ``model`` (see
    :func:`~sentvec.search.mine_hard_negatives` for the arguments), as :func:`hard_negative_rows`."""
    from sentvec.search.mining import mine_hard_negatives

    mined = mine_hard_negatives(
        model,
        pairs,
        corpus,
        num_negatives=num_negatives,
        range_min=range_min,
        range_max=range_max,
        margin=margin,
        max_score=max_score,
        batch_size=batch_size,
    )
    return pairs_data(hard_negative_rows(mined))

"""Binary classification of sentence pairs (e.g. duplicate / paraphrase detection) by similarity thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sentvec.evaluation.base import (
    EvaluationResult,
    Evaluator,
    check_parallel,
    encode_columns,
    main_function,
    resolve_functions,
)
from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from sentvec.protocols import Embedder


def _groups(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores descending, with the cumulative positives and pair counts at or above each of them."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each run of equal scores
    return s[last], np.cumsum(y)[last], np.flatnonzero(last) + 1


def _threshold(distinct: np.ndarray, i: int) -> float:
    """A threshold that predicts positive for exactly the scores >= ``distinct[i]`` (midway to the next one)."""
    if i == len(distinct) - 1:
        return float(distinct[i])
    mid = float(distinct[i]) / 2.0 + float(distinct[i + 1]) / 2.0
    return mid if mid > distinct[i + 1] else float(distinct[i])


def best_accuracy(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> tuple[float, float]:
    """The best accuracy of "positive iff score >= threshold" and that threshold (the highest one on ties).

    Predicting every pair negative is allowed; its threshold lies just above the largest score.
    """
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    distinct, tp, predicted = _groups(s, y)
    n_neg = len(y) - int(y.sum())
    correct = tp + (n_neg - (predicted - tp))  # true positives + true negatives below the cut
    best_acc, best_thr = n_neg / len(y), float(np.nextafter(distinct[0], np.inf))
    i = int(np.argmax(correct))
    if correct[i] / len(y) > best_acc:
        best_acc, best_thr = correct[i] / len(y), _threshold(distinct, i)
    return float(best_acc), best_thr


def best_f1(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> tuple[float, float, float, float]:
    """``(f1, precision, recall, threshold)`` of the threshold with the best F1 (the highest one on ties);
    all zero when no threshold finds a positive."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    distinct, tp, predicted = _groups(s, y)
    n_pos = int(y.sum())
    f1 = 2.0 * tp / (predicted + n_pos)
    i = int(np.argmax(f1))
    if tp[i] == 0:
        return 0.0, 0.0, 0.0, 0.0
    return float(f1[i]), float(tp[i] / predicted[i]), float(tp[i] / n_pos), _threshold(distinct, i)


def average_precision(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Area under the precision-recall curve as a step sum, ``Σ (R_n - R_{n-1}) P_n`` over distinct thresholds
    (scikit-learn's ``average_precision_score``)."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    _, tp, predicted = _groups(s, y)
    n_pos = int(y.sum())
    if n_pos == 0:
        raise ValueError("average precision needs at least one positive label")
    recall_gain = np.diff(np.r_[0, tp]) / n_pos
    return float((recall_gain * (tp / predicted)).sum())


class BinaryClassificationEvaluator(Evaluator):
    """How well a similarity threshold separates positive pairs (label 1) from negative ones (label 0).

    For each similarity function ``fn`` (all four by default) the metrics are ``fn_accuracy`` and
    ``fn_accuracy_threshold`` (best accuracy and its threshold), ``fn_f1``, ``fn_f1_threshold``, ``fn_precision``
    and ``fn_recall`` (best F1, its threshold, and precision and recall there) and ``fn_ap`` (average
    precision); with several functions also ``max_<metric>`` over them. A pair is predicted positive when its
    score is >= the threshold; scores follow :mod:`sentvec.similarity` (distances are negated, so their thresholds
    are negative). Metrics are fractions in [0, 1].

    The primary metric is ``<main>_ap`` for ``main_similarity`` (default: the model's similarity function, cosine
    when the model declares none).
    """

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        labels: Sequence[int],
        *,
        name: str = "binary_classification",
        batch_size: int = 32,
        similarity_fns: Sequence[SimilarityFunction | str] | None = None,
        main_similarity: SimilarityFunction | str | None = None,
        show_progress_bar: bool | None = None,
    ) -> None:
        check_parallel("pair", sentences1=sentences1, sentences2=sentences2, labels=labels)
        bad = [i for i, label in enumerate(labels) if label not in (0, 1)]
        if bad:
            raise ValueError(f"labels must be 0 or 1; label at index {bad[0]} is {labels[bad[0]]!r}")
        if 1 not in labels:
            raise ValueError("need at least one positive pair (label 1)")
        self.sentences1, self.sentences2 = list(sentences1), list(sentences2)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.name = name
        self.batch_size = batch_size
        self.similarity_fns, self.main_similarity = resolve_functions(similarity_fns, main_similarity)
        self.show_progress_bar = show_progress_bar

    def __call__(self, model: Embedder) -> EvaluationResult:
        """Encode each distinct sentence once, score the pairs with each function and find the best thresholds."""
        a, b = encode_columns(model, [self.sentences1, self.sentences2], self.batch_size, self.show_progress_bar)
        metrics: dict[str, float] = {}
        per_fn: list[dict[str, float]] = []
        for fn in self.similarity_fns:
            scores = np.asarray(fn.pairwise(a, b), dtype=np.float64)
            acc, acc_threshold = best_accuracy(scores, self.labels)
            f1, precision, recall, f1_threshold = best_f1(scores, self.labels)
            values = {
                "accuracy": acc,
                "accuracy_threshold": acc_threshold,
                "f1": f1,
                "f1_threshold": f1_threshold,
                "precision": precision,
                "recall": recall,
                "ap": average_precision(scores, self.labels),
            }
            per_fn.append(values)
            metrics.update({f"{fn.value}_{key}": value for key, value in values.items()})
        if len(per_fn) > 1:
            for key in ("accuracy", "f1", "precision", "recall", "ap"):
                metrics[f"max_{key}"] = max(values[key] for values in per_fn)
        main = main_function(model, self.main_similarity, self.similarity_fns)
        return EvaluationResult(name=self.name, metrics=metrics, primary_metric=f"{main.value}_ap")

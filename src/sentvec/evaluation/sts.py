"""Semantic textual similarity: correlation of embedding similarity with gold scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec.evaluation.base import EvaluationResult, Evaluator, check_parallel, encode_columns, main_function
from sentvec.evaluation.data import load_scored_pairs
from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from sentvec.protocols import Embedder


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    avg = (starts + ends - 1) / 2.0 + 1.0  # average 1-based rank of each tie group
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def pearson(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation coefficient."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need two sequences of equal length >= 2, got {len(x)} and {len(y)}")
    x, y = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation (Pearson on tie-averaged ranks)."""
    return pearson(_ranks(np.asarray(a, dtype=np.float64)), _ranks(np.asarray(b, dtype=np.float64)))


class SimilarityEvaluator(Evaluator):
    """Pearson and Spearman (×100) between gold scores and each similarity function's scores.

    The primary metric is ``spearman_<fn>`` for ``main_similarity`` (default: the model's function).
    Each distinct sentence is encoded once.
    """

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        scores: Sequence[float],
        *,
        name: str = "sts",
        batch_size: int = 32,
        main_similarity: SimilarityFunction | str | None = None,
        show_progress_bar: bool | None = None,
    ) -> None:
        check_parallel("scored pairs", 2, sentences1=sentences1, sentences2=sentences2, scores=scores)
        self.sentences1, self.sentences2 = list(sentences1), list(sentences2)
        self.scores = np.asarray(scores, dtype=np.float64)
        self.name = name
        self.batch_size = batch_size
        self.main_similarity = SimilarityFunction.parse(main_similarity) if main_similarity else None
        self.show_progress_bar = show_progress_bar

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        columns: Sequence[str] | None = None,
        name: str | None = None,
        batch_size: int = 32,
        main_similarity: SimilarityFunction | str | None = None,
        show_progress_bar: bool | None = None,
    ) -> SimilarityEvaluator:
        """Build from a CSV/TSV/JSONL file of scored pairs (see :func:`load_scored_pairs`); ``name`` defaults to
        the file's stem."""
        pairs = load_scored_pairs(path, columns=columns)
        return cls(
            pairs.sentences1,
            pairs.sentences2,
            pairs.scores,
            name=Path(path).stem if name is None else name,
            batch_size=batch_size,
            main_similarity=main_similarity,
            show_progress_bar=show_progress_bar,
        )

    def __call__(self, model: Embedder) -> EvaluationResult:
        """Encode both sides, score every pair with each function, correlate with the gold scores."""
        a, b = encode_columns(model, [self.sentences1, self.sentences2], self.batch_size, self.show_progress_bar)
        metrics: dict[str, float] = {}
        for fn in SimilarityFunction:
            predicted = np.asarray(fn.pairwise(a, b), dtype=np.float64)
            metrics[f"pearson_{fn.value}"] = 100.0 * pearson(self.scores, predicted)
            metrics[f"spearman_{fn.value}"] = 100.0 * spearman(self.scores, predicted)
        main = main_function(model, self.main_similarity, list(SimilarityFunction))
        return EvaluationResult(name=self.name, metrics=metrics, primary_metric=f"spearman_{main.value}")


EmbeddingSimilarityEvaluator = SimilarityEvaluator
"""The reference's name for :class:`SimilarityEvaluator` (same class), so ported code imports it unchanged."""

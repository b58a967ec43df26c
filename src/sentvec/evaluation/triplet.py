"""Triplet evaluation: is the anchor closer to its positive than to its negative?"""

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


class TripletEvaluator(Evaluator):
    """Fraction of triplets with ``sim(anchor, positive) > sim(anchor, negative)`` (strictly; a tie counts as
    wrong), for each similarity function: metrics ``<fn>_accuracy`` in [0, 1], plus ``max_accuracy`` when several
    functions are evaluated.

    The primary metric is ``<main>_accuracy`` for ``main_similarity`` (default: the model's similarity function,
    cosine when the model declares none). Each distinct text is encoded once.
    """

    def __init__(
        self,
        anchors: Sequence[str],
        positives: Sequence[str],
        negatives: Sequence[str],
        *,
        name: str = "triplet",
        batch_size: int = 32,
        similarity_fns: Sequence[SimilarityFunction | str] | None = None,
        main_similarity: SimilarityFunction | str | None = None,
        show_progress_bar: bool | None = None,
    ) -> None:
        check_parallel("triplet", anchors=anchors, positives=positives, negatives=negatives)
        self.anchors, self.positives, self.negatives = list(anchors), list(positives), list(negatives)
        self.name = name
        self.batch_size = batch_size
        self.similarity_fns, self.main_similarity = resolve_functions(similarity_fns, main_similarity)
        self.show_progress_bar = show_progress_bar

    def __call__(self, model: Embedder) -> EvaluationResult:
        """Encode, score both sides of every triplet with each function, count the correctly ordered ones."""
        columns = [self.anchors, self.positives, self.negatives]
        a, p, n = encode_columns(model, columns, self.batch_size, self.show_progress_bar)
        metrics: dict[str, float] = {}
        for fn in self.similarity_fns:
            positive, negative = np.asarray(fn.pairwise(a, p)), np.asarray(fn.pairwise(a, n))
            metrics[f"{fn.value}_accuracy"] = float(np.mean(positive > negative))
        if len(self.similarity_fns) > 1:
            metrics["max_accuracy"] = max(metrics.values())
        main = main_function(model, self.main_similarity, self.similarity_fns)
        return EvaluationResult(name=self.name, metrics=metrics, primary_metric=f"{main.value}_accuracy")

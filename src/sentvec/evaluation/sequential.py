"""Run several evaluators as one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sentvec.evaluation.base import EvaluationResult, Evaluator

if TYPE_CHECKING:
    from sentvec.protocols import Embedder


def _last(scores: list[float]) -> float:
    return scores[-1]


class SequentialEvaluator(Evaluator):
    """Runs each evaluator in turn and merges their metrics as ``<evaluator name>_<metric>``.

    The primary metric ``combined`` is ``main_score_function(primary values, in evaluator order)`` (default: the
    last evaluator's). Its direction is ``greater_is_better`` when given; otherwise the evaluators' common
    direction, or, when they disagree and the default ``main_score_function`` is used, the last one's (any other
    combination of mixed directions needs ``greater_is_better`` and raises ``ValueError`` without it).
    Evaluator names must be distinct.
    """

    def __init__(
        self,
        evaluators: Sequence[Evaluator],
        main_score_function: Callable[[list[float]], float] = _last,
        *,
        name: str = "sequential",
        greater_is_better: bool | None = None,
    ) -> None:
        if not evaluators:
            raise ValueError("need at least one evaluator")
        names = [e.name for e in evaluators]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"evaluator names must be distinct (they prefix the metrics); repeated: {duplicates}")
        self.evaluators = list(evaluators)
        self.main_score_function = main_score_function
        self.name = name
        self.greater_is_better = greater_is_better

    def _direction(self, results: list[EvaluationResult]) -> bool:
        if self.greater_is_better is not None:
            return self.greater_is_better
        directions = {r.greater_is_better for r in results}
        if len(directions) == 1:
            return directions.pop()
        if self.main_score_function is _last:
            return results[-1].greater_is_better
        raise ValueError(
            "the evaluators disagree on whether greater is better; pass greater_is_better for the combined score"
        )

    def __call__(self, model: Embedder) -> EvaluationResult:
        """Run every evaluator on ``model`` and combine their primary values."""
        results = [evaluator(model) for evaluator in self.evaluators]
        metrics: dict[str, float] = {}
        for evaluator, result in zip(self.evaluators, results, strict=True):
            prefix = f"{evaluator.name}_" if evaluator.name else ""
            for key, value in result.metrics.items():
                if f"{prefix}{key}" in metrics or f"{prefix}{key}" == "combined":
                    raise ValueError(f"two metrics would be named {prefix}{key!r}; rename an evaluator")
                metrics[f"{prefix}{key}"] = value
        metrics["combined"] = float(self.main_score_function([r.primary_value for r in results]))
        return EvaluationResult(
            name=self.name, metrics=metrics, primary_metric="combined", greater_is_better=self._direction(results)
        )

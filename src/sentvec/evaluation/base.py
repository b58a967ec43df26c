"""The evaluator contract."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sized
from types import MappingProxyType
from typing import Any


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Named metrics, one of which is primary; ``greater_is_better`` says which way is up."""

    name: str
    metrics: Mapping[str, float]
    primary_metric: str
    greater_is_better: bool = True

    def __post_init__(self) -> None:
        if self.primary_metric not in self.metrics:
            raise ValueError(f"primary metric {self.primary_metric!r} is not among {sorted(self.metrics)}")
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))

    @property
    def primary_value(self) -> float:
        """The value of the primary metric."""
        return self.metrics[self.primary_metric]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "primary_metric": self.primary_metric,
            "primary_value": self.primary_value,
            "greater_is_better": self.greater_is_better,
            "metrics": dict(self.metrics),
        }


def check_parallel(what: str, minimum: int = 1, **columns: Sized) -> None:
    """Raise ``ValueError`` unless the named columns have one length of at least ``minimum`` (``what`` names a row)."""
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        names = ", ".join(lengths)
        raise ValueError(f"{names} differ in length: {', '.join(str(n) for n in lengths.values())}")
    if next(iter(lengths.values())) < minimum:
        raise ValueError(f"need at least {minimum} {what}")


class Evaluator(abc.ABC):
    """Evaluates a model; returns a result and has no side effects."""

    name: str

    @abc.abstractmethod
    def __call__(self, model: Any) -> EvaluationResult:
        """Run the evaluation."""

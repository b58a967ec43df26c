"""The evaluator contract."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, Sized, ValuesView
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from sentvec.protocols import Embedder


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Named metrics, one of which is primary; ``greater_is_better`` says which way is up.

    The typed attributes are the API (``result.primary_value``, ``result.metrics["spearman_cosine"]``). For code
    ported from sentence-transformers, whose evaluators return a dict, the result also reads like that dict:
    ``result["spearman_cosine"]``, ``"spearman_cosine" in result``, ``result.keys()``, ``items()``, ``values()``,
    ``get()``, iteration and ``len`` — over :attr:`metrics`, with the same values (sentvec's scale: STS
    correlations ×100). A key may also carry the reference's prefix, the evaluator's name
    (``result["sts-dev_spearman_cosine"]``). An unknown key is a ``KeyError`` naming it and the metrics there are.
    """

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

    # --- the reference's dict, read-only (porting layer) ------------------------------------------------------

    def _key(self, key: object) -> str | None:
        """The metric ``key`` names: itself, or itself less the ``<name>_`` prefix the reference puts first."""
        if not isinstance(key, str):
            return None
        if key in self.metrics:
            return key
        prefix = f"{self.name}_"
        if self.name and key.startswith(prefix) and key[len(prefix) :] in self.metrics:
            return key[len(prefix) :]
        return None

    def __getitem__(self, key: str) -> float:
        """The value of the metric ``key`` (as ``metrics[key]``; the reference's ``<name>_`` prefix is accepted)."""
        metric = self._key(key)
        if metric is None:
            raise KeyError(f"no metric {key!r} in result {self.name!r}; the metrics are {', '.join(self.metrics)}")
        return self.metrics[metric]

    def __contains__(self, key: object) -> bool:
        return self._key(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def keys(self) -> KeysView[str]:
        """The metric names (as ``metrics.keys()``)."""
        return self.metrics.keys()

    def values(self) -> ValuesView[float]:
        """The metric values (as ``metrics.values()``)."""
        return self.metrics.values()

    def items(self) -> ItemsView[str, float]:
        """``(name, value)`` of each metric (as ``metrics.items()``)."""
        return self.metrics.items()

    def get(self, key: str, default: float | None = None) -> float | None:
        """The value of the metric ``key``, or ``default``."""
        metric = self._key(key)
        return default if metric is None else self.metrics[metric]

    def to_dict(self) -> dict[str, object]:
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
    def __call__(self, model: Embedder) -> EvaluationResult:
        """Run the evaluation."""


def encode_columns(
    model: Embedder, columns: Sequence[list[str]], batch_size: int, show_progress_bar: bool | None
) -> list[np.ndarray]:
    """Embeddings of each column of texts, each distinct text (across all columns) encoded once."""
    unique = list(dict.fromkeys(t for column in columns for t in column))
    position = {text: i for i, text in enumerate(unique)}
    emb = model.encode(unique, batch_size=batch_size, show_progress_bar=show_progress_bar)
    return [emb[[position[t] for t in column]] for column in columns]


def resolve_functions(
    requested: Sequence[SimilarityFunction | str] | None, main: SimilarityFunction | str | None
) -> tuple[list[SimilarityFunction], SimilarityFunction | None]:
    """The functions to evaluate (all when ``requested`` is None; parsed, deduplicated, not empty) and the main
    one parsed, after checking that it is among them."""
    functions = list(dict.fromkeys(SimilarityFunction.parse(f) for f in (requested or list(SimilarityFunction))))
    if requested is not None and not list(requested):
        raise ValueError("similarity_fns is empty")
    if main is None:
        return functions, None
    parsed = SimilarityFunction.parse(main)
    if parsed not in functions:
        raise ValueError(f"main similarity {parsed.value!r} is not among the evaluated {[f.value for f in functions]}")
    return functions, parsed


def main_function(
    model: Embedder, requested: SimilarityFunction | None, available: Sequence[SimilarityFunction]
) -> SimilarityFunction:
    """The function of the primary metric: ``requested``, else the model's when that is evaluated, else the first
    evaluated one."""
    if requested is not None:
        return requested
    return model.similarity_fn if model.similarity_fn in available else available[0]

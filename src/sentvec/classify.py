"""Text classification with a logistic-regression head on sentence embeddings.

Training needs scikit-learn (the ``[plot]`` extra); prediction does not: the head is a plain linear layer, saved
as JSON (``classifier/head.json`` in the model folder, never a pickle) and applied with numpy.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from sentvec._extras import require
from sentvec.arrays import ArrayLike, as_embedding_matrix, as_text_list
from sentvec.errors import ModelFormatError
from sentvec.formats import read_json
from sentvec.similarity import normalize

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

HEAD_DIR = "classifier"
HEAD_FILE = "head.json"
HEAD_FORMAT = "sentvec-logistic-regression-head"
HEAD_VERSION = 1

Label = str | int


@runtime_checkable
class _Savable(Protocol):
    """A model that can write its folder (:meth:`EmbeddingClassifier.save` saves it beside the head)."""

    def save(self, path: str | Path) -> None: ...


class EmbeddingClassifier:
    """A logistic-regression head on a model's embeddings.

    Args:
        model: the encoder (also set by :meth:`fit`).
        C: inverse regularization strength of the logistic regression.
        max_iter: iterations of the solver.
        normalize_embeddings: L2-normalize embeddings before the head (training and prediction alike).
    """

    def __init__(
        self, model: Embedder | None = None, *, C: float = 1.0, max_iter: int = 1000, normalize_embeddings: bool = True
    ) -> None:
        self.model = model
        self.C = C
        self.max_iter = max_iter
        self.normalize_embeddings = normalize_embeddings
        self.classes: list[Label] = []
        self.coef: np.ndarray = np.empty((0, 0))
        self.intercept: np.ndarray = np.empty(0)

    @property
    def dimension(self) -> int:
        """The embedding dimension the head expects (0 before fitting)."""
        return int(self.coef.shape[1])

    def fit(self, model: Embedder, texts: Sequence[str], labels: Sequence[Label]) -> EmbeddingClassifier:
        """Embed ``texts`` with ``model`` and fit the head on ``labels`` (strings or integers, 2+ classes)."""
        texts = as_text_list(texts, "texts")
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        self.model = model
        return self.fit_embeddings(self._encode(texts), labels)

    def fit_embeddings(self, embeddings: ArrayLike, labels: Sequence[Label]) -> EmbeddingClassifier:
        """Fit the head on precomputed ``(n, D)`` embeddings (not yet normalized)."""
        x = self._prepare(as_embedding_matrix(embeddings), check=False)
        y = _check_labels(labels, len(x))
        linear_model = require("sklearn.linear_model", "Training a classifier head")
        lr = linear_model.LogisticRegression(C=self.C, max_iter=self.max_iter)
        lr.fit(x, np.asarray(y, dtype=object if isinstance(y[0], str) else np.int64))
        self.classes = [_plain(c) for c in lr.classes_.tolist()]
        self.coef = np.asarray(lr.coef_, dtype=np.float64)
        self.intercept = np.asarray(lr.intercept_, dtype=np.float64)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, n_classes)`` class probabilities, columns in the order of :attr:`classes`."""
        return self.predict_proba_embeddings(self._encode(as_text_list(texts, "texts")))

    def predict(self, texts: Sequence[str]) -> list[Label]:
        """The most probable label of each text."""
        return self._labels(self.predict_proba(texts))

    def predict_proba_embeddings(self, embeddings: ArrayLike) -> np.ndarray:
        """Like :meth:`predict_proba`, from precomputed ``(n, D)`` embeddings."""
        self._check_fitted()
        z = self._prepare(as_embedding_matrix(embeddings), check=True) @ self.coef.T + self.intercept
        if len(self.classes) == 2:  # one logit: P(classes[1])
            p = _sigmoid(z[:, 0])
            return np.stack([1.0 - p, p], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def predict_embeddings(self, embeddings: ArrayLike) -> list[Label]:
        """Like :meth:`predict`, from precomputed embeddings."""
        return self._labels(self.predict_proba_embeddings(embeddings))

    # --- persistence -------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the head as ``folder/classifier/head.json``. Unless ``folder`` is where the model was loaded
        from, the model is saved there too, so that ``EmbeddingClassifier.load(folder)`` needs nothing else.
        Returns the head file."""
        self._check_fitted()
        root = Path(folder)
        model = self.model
        if model is not None and (model.source is None or Path(model.source).resolve() != root.resolve()):
            if not isinstance(model, _Savable):
                raise TypeError(
                    f"the model {model.name!r} cannot write a model folder; save the head into the folder it was "
                    "loaded from"
                )
            model.save(root)
        path = root / HEAD_DIR / HEAD_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        head = {
            "format": HEAD_FORMAT,
            "version": HEAD_VERSION,
            "dimension": self.dimension,
            "normalize_embeddings": self.normalize_embeddings,
            "classes": self.classes,
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
        }
        path.write_text(json.dumps(head, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path, model: Embedder | None = None) -> EmbeddingClassifier:
        """Read ``folder/classifier/head.json`` (``folder`` may also be the file itself). ``model``: the encoder
        to embed with; default: the model saved in ``folder``. A head for another dimension is an error."""
        path = Path(folder)
        if path.is_dir():
            path = path / HEAD_DIR / HEAD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no classifier head (save one with EmbeddingClassifier.save)")
        head = _read_head(path)
        if model is None:
            import sentvec

            model = sentvec.load(str(path.parent.parent))
        dimension = int(model.dimension)
        if dimension != head.dimension:
            raise ModelFormatError(
                path,
                f"the classifier head was trained on {head.dimension}-dimensional embeddings, "
                f"but the model {model.name!r} produces {dimension}-dimensional ones",
            )
        clf = cls(model, normalize_embeddings=head.normalize_embeddings)
        clf.classes, clf.coef, clf.intercept = list(head.classes), head.coef, head.intercept
        return clf

    def with_model(self, model: Embedder) -> EmbeddingClassifier:
        """A copy of this (fitted) head that embeds with ``model``, which must have the head's dimension."""
        self._check_fitted()
        dimension = int(model.dimension)
        if dimension != self.dimension:
            raise ValueError(
                f"the classifier head expects {self.dimension}-dimensional embeddings, "
                f"but the model {model.name!r} produces {dimension}-dimensional ones"
            )
        clf = EmbeddingClassifier(
            model, C=self.C, max_iter=self.max_iter, normalize_embeddings=self.normalize_embeddings
        )
        clf.classes, clf.coef, clf.intercept = list(self.classes), self.coef.copy(), self.intercept.copy()
        return clf

    # --- helpers -----------------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            raise ValueError("this classifier has no model: pass one to fit(), the constructor or load()")
        if not texts:
            return np.empty((0, self.dimension or int(self.model.dimension)), dtype=np.float32)
        return np.asarray(self.model.encode(texts))

    def _prepare(self, x: np.ndarray, *, check: bool) -> np.ndarray:
        if check and x.shape[0] and x.shape[1] != self.dimension:
            raise ValueError(f"the classifier head expects {self.dimension}-dimensional embeddings, got {x.shape[1]}")
        x = x.astype(np.float64)
        if self.normalize_embeddings:
            x = normalize(x)
        return x

    def _labels(self, proba: np.ndarray) -> list[Label]:
        return [self.classes[i] for i in proba.argmax(axis=1).tolist()]

    def _check_fitted(self) -> None:
        if not self.classes:
            raise ValueError("the classifier is not fitted: call fit() or EmbeddingClassifier.load()")

    def __repr__(self) -> str:
        return f"EmbeddingClassifier(classes={self.classes!r}, dimension={self.dimension})"


def classify(model: Embedder, texts: Sequence[str], head: EmbeddingClassifier | str | Path) -> list[Label]:
    """Labels of ``texts``: ``head`` is a fitted classifier, or a folder/``head.json`` to load with ``model``."""
    if isinstance(head, EmbeddingClassifier):
        clf = head if head.model is model else head.with_model(model)
    else:
        clf = EmbeddingClassifier.load(head, model=model)
    return clf.predict(texts)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _plain(value: object) -> Label:
    """A JSON-ready label (numpy scalars become Python ones)."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"labels must be strings or integers, got {value!r}")
    return value


def _check_labels(labels: Sequence[Label], n: int) -> list[Label]:
    y = [_plain(v) for v in labels]
    if len(y) != n:
        raise ValueError(f"{n} embeddings but {len(y)} labels")
    if len({type(v) for v in y}) > 1:
        raise TypeError("labels must be all strings or all integers")
    if len(set(y)) < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {sorted(set(y))!r}")
    return y


@dataclasses.dataclass(frozen=True)
class _Head:
    """A checked ``head.json``."""

    dimension: int
    normalize_embeddings: bool
    classes: tuple[Label, ...]
    coef: np.ndarray
    intercept: np.ndarray


def _read_head(path: Path) -> _Head:
    head = read_json(path)
    if not isinstance(head, dict) or head.get("format") != HEAD_FORMAT:
        raise ModelFormatError(path, f"not a sentvec classifier head (expected format {HEAD_FORMAT!r})")
    if head.get("version") != HEAD_VERSION:
        raise ModelFormatError(path, f"unsupported head version {head.get('version')!r}; expected {HEAD_VERSION}")
    try:
        coef = np.asarray(head["coef"], dtype=np.float64)
        intercept = np.asarray(head["intercept"], dtype=np.float64)
        classes, dimension = list(head["classes"]), int(head["dimension"])
        normalize_embeddings = bool(head["normalize_embeddings"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFormatError(path, f"malformed head ({type(e).__name__}: {e})") from None
    rows = 1 if len(classes) == 2 else len(classes)
    if len(classes) < 2 or coef.shape != (rows, dimension) or intercept.shape != (rows,):
        raise ModelFormatError(
            path, f"inconsistent head: {len(classes)} classes, coef {coef.shape}, intercept {intercept.shape}"
        )
    if not all(math.isfinite(v) for v in [*coef.ravel().tolist(), *intercept.tolist()]):
        raise ModelFormatError(path, "the head holds NaN or infinite weights")
    return _Head(dimension, normalize_embeddings, tuple(classes), coef, intercept)

"""Similarity functions as an enum over pure functions, for numpy arrays and torch tensors.

Distances are returned negated (``-||a-b||``) so that for every function a larger value means
"more similar", which keeps ranking and thresholding code uniform.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import numpy as np

from sentvec.enums import parse_enum

Array = Any  # numpy.ndarray or torch.Tensor


_SIMILARITY_ALIASES = {"cos_sim": "cosine", "dot_score": "dot", "dot_product": "dot"}


class SimilarityFunction(str, enum.Enum):
    """The similarity functions a model can declare in ``config_sentence_transformers.json``."""

    COSINE = "cosine"
    DOT = "dot"
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"

    @classmethod
    def parse(cls, value: str | SimilarityFunction) -> SimilarityFunction:
        """Accept an enum member or its name (``"cos_sim"``/``"dot_score"`` aliases included)."""
        return parse_enum(cls, value, "similarity function", _SIMILARITY_ALIASES)

    @property
    def matrix(self) -> Callable[[Array, Array], Array]:
        """The ``(N, D) x (M, D) -> (N, M)`` function."""
        return _MATRIX[self]

    @property
    def pairwise(self) -> Callable[[Array, Array], Array]:
        """The ``(N, D) x (N, D) -> (N,)`` function."""
        return _PAIRWISE[self]


def _is_torch(x: object) -> bool:
    return type(x).__module__.startswith("torch")


def _as_2d(x: Array) -> Array:
    if not _is_torch(x):
        x = np.asarray(x)
        if x.dtype.kind not in "fc":
            x = x.astype(np.float32)
    if x.ndim == 1:
        return x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected a vector or a 2-D batch of vectors, got shape {tuple(x.shape)}")
    return x


def _pair(a: Array, b: Array) -> tuple[Array, Array]:
    a, b = _as_2d(a), _as_2d(b)
    if _is_torch(a) != _is_torch(b):
        raise TypeError("similarity inputs must both be numpy arrays or both be torch tensors")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"dimension mismatch: {a.shape[-1]} vs {b.shape[-1]}")
    return a, b


def normalize(x: Array) -> Array:
    """Rows scaled to unit L2 norm (rows of zeros stay zero); numpy arrays or torch tensors."""
    if _is_torch(x):
        import torch

        return torch.nn.functional.normalize(x, p=2, dim=-1)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cosine(a: Array, b: Array) -> Array:
    """Cosine similarity matrix, ``(N, D) x (M, D) -> (N, M)``."""
    a, b = _pair(a, b)
    return normalize(a) @ normalize(b).T


def dot(a: Array, b: Array) -> Array:
    """Dot-product matrix."""
    a, b = _pair(a, b)
    return a @ b.T


def euclidean(a: Array, b: Array) -> Array:
    """Negative Euclidean distance matrix."""
    a, b = _pair(a, b)
    if _is_torch(a):
        import torch

        return -torch.cdist(a, b, p=2.0)
    return -_chunked_distance(a, b, lambda d: np.sqrt((d * d).sum(-1)))


def manhattan(a: Array, b: Array) -> Array:
    """Negative Manhattan (L1) distance matrix."""
    a, b = _pair(a, b)
    if _is_torch(a):
        import torch

        return -torch.cdist(a, b, p=1.0)
    return -_chunked_distance(a, b, lambda d: np.abs(d).sum(-1))


def _chunked_distance(a: np.ndarray, b: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Exact distances from differences (no ``|a|² + |b|² - 2ab`` cancellation), in row chunks that bound the
    ``(chunk, M, D)`` temporary to about 64 MB."""
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.result_type(a, b))
    step = max(1, (1 << 24) // max(1, b.shape[0] * a.shape[1]))
    for start in range(0, a.shape[0], step):
        out[start : start + step] = reduce(a[start : start + step, None, :] - b[None, :, :])
    return out


def _check_same_rows(a: Array, b: Array) -> tuple[Array, Array]:
    a, b = _pair(a, b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"pairwise similarity needs as many rows in a as in b: {a.shape[0]} vs {b.shape[0]}")
    return a, b


def pairwise_cosine(a: Array, b: Array) -> Array:
    """Row-wise cosine similarity, ``(N, D) x (N, D) -> (N,)``."""
    a, b = _check_same_rows(a, b)
    return (normalize(a) * normalize(b)).sum(-1)


def pairwise_dot(a: Array, b: Array) -> Array:
    """Row-wise dot product."""
    a, b = _check_same_rows(a, b)
    return (a * b).sum(-1)


def pairwise_euclidean(a: Array, b: Array) -> Array:
    """Row-wise negative Euclidean distance."""
    a, b = _check_same_rows(a, b)
    return -(((a - b) ** 2).sum(-1) ** 0.5)


def pairwise_manhattan(a: Array, b: Array) -> Array:
    """Row-wise negative Manhattan distance."""
    a, b = _check_same_rows(a, b)
    return -abs(a - b).sum(-1)


_MATRIX: dict[SimilarityFunction, Callable[[Array, Array], Array]] = {
    SimilarityFunction.COSINE: cosine,
    SimilarityFunction.DOT: dot,
    SimilarityFunction.EUCLIDEAN: euclidean,
    SimilarityFunction.MANHATTAN: manhattan,
}
_PAIRWISE: dict[SimilarityFunction, Callable[[Array, Array], Array]] = {
    SimilarityFunction.COSINE: pairwise_cosine,
    SimilarityFunction.DOT: pairwise_dot,
    SimilarityFunction.EUCLIDEAN: pairwise_euclidean,
    SimilarityFunction.MANHATTAN: pairwise_manhattan,
}

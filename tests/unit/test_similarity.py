"""Similarity functions against scipy's cdist and explicit numpy formulas, for numpy and torch inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from sentvec.similarity import SimilarityFunction

RNG = np.random.default_rng(0)
A = RNG.normal(size=(5, 24)).astype(np.float32)
B = RNG.normal(size=(7, 24)).astype(np.float32)
A2 = RNG.normal(size=(7, 24)).astype(np.float32)  # same rows as B, for pairwise


def _reference_matrix(fn: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    if fn == "cosine":
        return 1.0 - cdist(a, b, "cosine")
    if fn == "dot":
        return a @ b.T
    if fn == "euclidean":
        return -cdist(a, b, "euclidean")
    return -cdist(a, b, "cityblock")


def _reference_pairwise(fn: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    out = []
    for x, y in zip(a, b, strict=True):
        if fn == "cosine":
            out.append(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
        elif fn == "dot":
            out.append(x @ y)
        elif fn == "euclidean":
            out.append(-np.sqrt(((x - y) ** 2).sum()))
        else:
            out.append(-np.abs(x - y).sum())
    return np.array(out)


FUNCTIONS = ["cosine", "dot", "euclidean", "manhattan"]


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_matrix(fn, kind):
    a, b = (A, B) if kind == "numpy" else (torch.from_numpy(A), torch.from_numpy(B))
    got = SimilarityFunction(fn).matrix(a, b)
    assert isinstance(got, torch.Tensor) == (kind == "torch")
    assert tuple(got.shape) == (5, 7)
    np.testing.assert_allclose(_to_numpy(got), _reference_matrix(fn, A, B), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_pairwise(fn, kind):
    a, b = (A2, B) if kind == "numpy" else (torch.from_numpy(A2), torch.from_numpy(B))
    got = SimilarityFunction(fn).pairwise(a, b)
    assert isinstance(got, torch.Tensor) == (kind == "torch")
    assert tuple(got.shape) == (7,)
    np.testing.assert_allclose(_to_numpy(got), _reference_pairwise(fn, A2, B), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_pairwise_is_matrix_diagonal(fn):
    matrix = SimilarityFunction(fn).matrix(A2, B)
    np.testing.assert_allclose(SimilarityFunction(fn).pairwise(A2, B), np.diag(matrix), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", ["euclidean", "manhattan"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_distance_to_self(fn, kind):
    # Larger-is-more-similar: a vector's distance to itself is the maximum, ~0, and never NaN (float32
    # rounding in |a|^2 + |b|^2 - 2ab can go slightly negative before the square root).
    x = np.repeat(A, 8, axis=0)  # 40 rows: torch's cdist switches to its matmul path above 25
    x = x if kind == "numpy" else torch.from_numpy(x)
    matrix = _to_numpy(SimilarityFunction(fn).matrix(x, x))
    assert np.all(np.isfinite(matrix))
    assert np.all(matrix <= 0)
    diag = np.diag(matrix)
    tol = 1e-3 * np.linalg.norm(A, axis=1).max()
    np.testing.assert_allclose(diag, 0.0, atol=tol)
    assert np.all(diag >= matrix.max(axis=1) - tol)  # each row's best match is itself (or its copies)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_euclidean_near_duplicates(kind):
    # Unit vectors and copies moved by ~5e-3: distances within 5% of the float64 value.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = x + 1e-3 * rng.normal(size=x.shape)
    reference = -np.linalg.norm(x - y, axis=1)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    if kind == "torch":
        x32, y32 = torch.from_numpy(x32), torch.from_numpy(y32)
    np.testing.assert_allclose(np.diag(_to_numpy(SimilarityFunction.EUCLIDEAN.matrix(x32, y32))), reference, rtol=5e-2)
    np.testing.assert_allclose(_to_numpy(SimilarityFunction.EUCLIDEAN.pairwise(x32, y32)), reference, rtol=1e-3)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_vector_inputs_are_promoted(fn):
    got = SimilarityFunction(fn).matrix(A[0], B)
    assert got.shape == (1, 7)
    np.testing.assert_allclose(got[0], _reference_matrix(fn, A[:1], B)[0], rtol=1e-4, atol=1e-4)


def test_integer_inputs():
    a = np.array([[1, 2, 3]])
    b = np.array([[4, 5, 6], [0, 0, 1]])
    np.testing.assert_allclose(SimilarityFunction.DOT.matrix(a, b), [[32.0, 3.0]])
    np.testing.assert_allclose(SimilarityFunction.MANHATTAN.matrix(a, b), [[-9.0, -5.0]])


def test_zero_vector_cosine_is_finite():
    zero = np.zeros((1, 24), dtype=np.float32)
    got = SimilarityFunction.COSINE.matrix(zero, B)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, 0.0)


def test_mixed_inputs_rejected():
    with pytest.raises(TypeError, match="numpy"):
        SimilarityFunction.COSINE.matrix(A, torch.from_numpy(B))


def test_dimension_mismatch():
    with pytest.raises(ValueError, match="24 vs 8"):
        SimilarityFunction.DOT.matrix(A, B[:, :8])


def test_pairwise_row_mismatch():
    with pytest.raises(ValueError, match="5 vs 7"):
        SimilarityFunction.COSINE.pairwise(A, B)


def test_3d_rejected():
    with pytest.raises(ValueError, match="shape"):
        SimilarityFunction.COSINE.matrix(A[None], B)


class TestParse:
    @pytest.mark.parametrize(
        ("name", "member"),
        [
            ("cosine", SimilarityFunction.COSINE),
            ("COSINE", SimilarityFunction.COSINE),
            ("cos_sim", SimilarityFunction.COSINE),
            ("dot", SimilarityFunction.DOT),
            ("dot_score", SimilarityFunction.DOT),
            ("dot_product", SimilarityFunction.DOT),
            ("euclidean", SimilarityFunction.EUCLIDEAN),
            ("manhattan", SimilarityFunction.MANHATTAN),
            (SimilarityFunction.MANHATTAN, SimilarityFunction.MANHATTAN),
        ],
    )
    def test_aliases(self, name, member):
        assert SimilarityFunction.parse(name) is member

    def test_unknown_lists_valid(self):
        with pytest.raises(ValueError, match="jaccard") as exc:
            SimilarityFunction.parse("jaccard")
        for member in SimilarityFunction:
            assert member.value in str(exc.value)

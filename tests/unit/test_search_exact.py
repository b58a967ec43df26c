"""sentvec.search.exact: chunked exact top-k against a brute-force full-matrix ranking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sentvec.search import Hit, TopK, semantic_search, semantic_search_arrays
from sentvec.similarity import SimilarityFunction

FUNCTIONS = list(SimilarityFunction)


def _exact_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Vectors whose every score is computed exactly in float64, so mathematical ties are bitwise ties.

    Each is a power of two times either a unit axis vector or a vector of ±1 entries (norm 2), so norms,
    normalized entries (0, ±1/2, ±1), dot products and L1 distances are exact, and L2 distances are correctly
    rounded square roots of exact numbers. Drawn from a small pool, so many scores tie.
    """
    pool = [np.eye(4)[i] * sign for i in range(4) for sign in (1, -1)]
    pool += [np.array(signs, dtype=np.float64) for signs in itertools.product((1, -1), repeat=4)][:6]
    picks = rng.integers(0, len(pool), n)
    scales = 2.0 ** rng.integers(-1, 3, n)
    return np.stack([pool[p] for p in picks]) * scales[:, None]


def _brute_force(queries: np.ndarray, corpus: np.ndarray, fn: SimilarityFunction, k: int) -> list[list[Hit]]:
    full = np.asarray(fn.matrix(queries, corpus), dtype=np.float64)
    out = []
    for row in full:
        order = np.lexsort((np.arange(len(row)), -row))[:k]  # score descending, then smaller index
        out.append([Hit(int(i), float(row[i])) for i in order])
    return out


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.value)
@pytest.mark.parametrize("top_k", [1, 7, 100])
@pytest.mark.parametrize(("query_chunk", "corpus_chunk"), [(3, 5), (100, 50000), (1, 1)])
def test_matches_brute_force_with_ties(fn, top_k, query_chunk, corpus_chunk):
    rng = np.random.default_rng(top_k)
    queries, corpus = _exact_vectors(rng, 11), _exact_vectors(rng, 37)
    expected = _brute_force(queries, corpus, fn, top_k)
    got = semantic_search(
        queries, corpus, top_k=top_k, score=fn, query_chunk_size=query_chunk, corpus_chunk_size=corpus_chunk
    )
    assert got == expected
    assert all(len(hits) == min(top_k, len(corpus)) for hits in got)
    # the data really has ties, also across the cut after the k-th hit
    longer = _brute_force(queries, corpus, fn, top_k + 1)
    assert any(a.score == b.score for hits in longer for a, b in itertools.pairwise(hits))
    if top_k < len(corpus):
        assert any(hits[-1].score == hits[-2].score for hits in longer)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.value)
def test_random_float32_torch_input(fn):
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((23, 16)).astype(np.float32)
    corpus = rng.standard_normal((301, 16)).astype(np.float32)
    expected = _brute_force(queries, corpus, fn, 10)
    got = semantic_search(
        torch.from_numpy(queries), torch.from_numpy(corpus), top_k=10, score=fn.value, corpus_chunk_size=64
    )
    for g, e in zip(got, expected, strict=True):
        assert [h.corpus_id for h in g] == [h.corpus_id for h in e]
        np.testing.assert_allclose([h.score for h in g], [h.score for h in e], rtol=1e-5, atol=1e-5)
        assert all(isinstance(h.corpus_id, int) and isinstance(h.score, float) for h in g)


def test_all_tied_rows_rank_by_index():
    corpus = np.ones((20, 3))
    hits = semantic_search(np.ones((2, 3)), corpus, top_k=5, corpus_chunk_size=3)
    assert [[h.corpus_id for h in row] for row in hits] == [[0, 1, 2, 3, 4]] * 2


def test_top_k_larger_than_corpus_and_edge_shapes():
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    hits = semantic_search(np.array([1.0, 0.2]), corpus, top_k=10)  # one 1-D query
    assert len(hits) == 1 and [h.corpus_id for h in hits[0]] == [0, 2, 1]
    assert semantic_search(np.empty((0, 2)), corpus) == []
    assert semantic_search(np.ones((2, 2)), np.empty((0, 2))) == [[], []]
    scores, idx = semantic_search_arrays(np.ones((2, 2)), corpus, top_k=2)
    assert scores.shape == idx.shape == (2, 2) and idx.dtype == np.int64


def test_callable_score_and_errors():
    corpus = np.array([[1.0, 0.0], [0.0, 1.0]])
    hits = semantic_search(np.array([[1.0, 0.0]]), corpus, score=lambda a, b: -(a @ b.T))
    assert [h.corpus_id for h in hits[0]] == [1, 0]
    with pytest.raises(ValueError, match="top_k"):
        semantic_search(corpus, corpus, top_k=0)
    with pytest.raises(ValueError, match="corpus_chunk_size"):
        semantic_search(corpus, corpus, corpus_chunk_size=0)
    with pytest.raises(ValueError, match="dimension mismatch"):
        semantic_search(np.ones((1, 3)), corpus)
    with pytest.raises(ValueError, match="NaN"):
        semantic_search(np.array([[np.nan, 0.0]]), corpus)
    with pytest.raises(ValueError, match="unknown similarity"):
        semantic_search(corpus, corpus, score="jaccard")


def test_top_k_accumulator_is_order_independent():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, (5, 40)).astype(np.float64)  # many ties
    forward, backward = TopK(5, 6), TopK(5, 6)
    starts = list(range(0, 40, 7))
    for start in starts:
        forward.add_scores(scores[:, start : start + 7], start)
    for start in reversed(starts):
        backward.add_scores(scores[:, start : start + 7], start)
    expected = np.lexsort((np.tile(np.arange(40), (5, 1)), -scores), axis=-1)[:, :6]
    np.testing.assert_array_equal(forward.indices, expected)
    np.testing.assert_array_equal(backward.indices, expected)

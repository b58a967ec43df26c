"""Paraphrase mining, community detection and hard-negative mining against brute force and sentence-transformers."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from sentvec.search import ParaphrasePair, community_detection, mine_hard_negatives, paraphrase_mining
from sentvec.search.mining import paraphrase_mining_embeddings


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute_pairs(emb, top_k, threshold):
    sim = _unit(emb.astype(np.float64)) @ _unit(emb.astype(np.float64)).T
    n = len(emb)
    found = set()
    for i in range(n):
        order = sorted((j for j in range(n) if j != i), key=lambda j: (-sim[i, j], j))[:top_k]
        found |= {(min(i, j), max(i, j)) for j in order if sim[i, j] >= threshold}
    return found, sim


@pytest.mark.parametrize(("top_k", "threshold", "chunk_size"), [(1, -1.0, 7), (3, 0.0, 512), (50, 0.1, 4)])
def test_paraphrase_mining_matches_brute_force(top_k, threshold, chunk_size):
    emb = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    pairs = paraphrase_mining_embeddings(emb, top_k=top_k, threshold=threshold, chunk_size=chunk_size)
    expected, sim = _brute_pairs(emb, top_k, threshold)
    assert {(p.i, p.j) for p in pairs} == expected
    assert all(isinstance(p, ParaphrasePair) and p.i < p.j for p in pairs)
    for p in pairs:
        assert p.score == pytest.approx(sim[p.i, p.j], abs=1e-5)
    assert [(-p.score, p.i, p.j) for p in pairs] == sorted((-p.score, p.i, p.j) for p in pairs)


def test_paraphrase_mining_does_not_depend_on_chunk_size():
    emb = np.random.default_rng(1).normal(size=(30, 6)).astype(np.float32)
    small = paraphrase_mining_embeddings(emb, top_k=4, chunk_size=3)
    big = paraphrase_mining_embeddings(emb, top_k=4, chunk_size=1000)
    assert [(p.i, p.j) for p in small] == [(p.i, p.j) for p in big]


def test_paraphrase_mining_duplicates_and_edges():
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    pairs = paraphrase_mining_embeddings(emb, top_k=1, threshold=0.5)
    assert [(p.i, p.j) for p in pairs] == [(0, 1)]
    assert pairs[0].score == pytest.approx(1.0)
    assert paraphrase_mining_embeddings(np.empty((0, 4))) == []
    assert paraphrase_mining_embeddings(np.ones((1, 4))) == []
    with pytest.raises(ValueError, match="top_k"):
        paraphrase_mining_embeddings(emb, top_k=0)


def test_paraphrase_mining_matches_sentence_transformers():
    torch = pytest.importorskip("torch")
    st_util = pytest.importorskip("sentence_transformers.util")
    emb = np.random.default_rng(2).normal(size=(60, 16)).astype(np.float32)
    theirs = st_util.paraphrase_mining_embeddings(torch.from_numpy(emb), top_k=5, max_pairs=10**6)
    ours = paraphrase_mining_embeddings(emb, top_k=5, threshold=-1.0)
    assert {(p.i, p.j) for p in ours} == {(min(i, j), max(i, j)) for _, i, j in theirs}


def test_paraphrase_mining_with_model(model):
    texts = ["the cat sleeps", "a cat sleeps", "the dog runs", "the big red car", "a dog runs fast"]
    pairs = paraphrase_mining(model, texts, top_k=2, threshold=-1.0, batch_size=2)
    expected, sim = _brute_pairs(model.encode(texts), 2, -1.0)
    assert {(p.i, p.j) for p in pairs} == expected
    assert pairs[0].score == pytest.approx(max(sim[i, j] for i, j in expected), abs=1e-5)
    assert paraphrase_mining(model, []) == []
    with pytest.raises(TypeError, match="not one string"):
        paraphrase_mining(model, "the cat sleeps")


def _planted(sizes, dim=24, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centers = _unit(rng.normal(size=(len(sizes), dim)))
    rows, truth = [], []
    for c, size in enumerate(sizes):
        rows.append(centers[c] + noise * rng.normal(size=(size, dim)))
        truth.append(size)
    emb = _unit(np.concatenate(rows)).astype(np.float32)
    perm = rng.permutation(len(emb))
    labels = np.repeat(np.arange(len(sizes)), sizes)[perm]
    return emb[perm], labels


def test_community_detection_recovers_planted_clusters():
    emb, labels = _planted([15, 12, 8, 3])
    communities = community_detection(emb, threshold=0.8, min_size=5, batch_size=7)
    expected = [sorted(np.flatnonzero(labels == c).tolist()) for c in (0, 1, 2)]
    assert communities == expected
    assert all(c == sorted(c) for c in communities)
    assert community_detection(emb, threshold=0.8, min_size=13) == expected[:1]
    assert community_detection(emb, threshold=0.8, min_size=100) == []
    assert community_detection(np.empty((0, 3)), min_size=1) == []


def test_community_detection_no_overlap_and_matches_sentence_transformers():
    st_util = pytest.importorskip("sentence_transformers.util")
    emb = _unit(np.random.default_rng(3).normal(size=(120, 4))).astype(np.float32)
    ours = community_detection(emb, threshold=0.6, min_size=4, batch_size=50)
    members = list(itertools.chain.from_iterable(ours))
    assert len(members) == len(set(members))
    assert [len(c) for c in ours] == sorted((len(c) for c in ours), reverse=True)
    theirs = st_util.community_detection(emb, threshold=0.6, min_community_size=4)
    assert {frozenset(c) for c in ours} == {frozenset(c) for c in theirs}


def _ranking(model, anchor, corpus):
    sim = (_unit(model.encode([anchor]).astype(np.float64)) @ _unit(model.encode(corpus).astype(np.float64)).T)[0]
    return sorted(range(len(corpus)), key=lambda i: (-sim[i], i)), sim


PAIRS = [
    ("the cat sleeps", "a cat sleeps in the house"),
    ("the dog runs", "a dog runs fast"),
    ("birds sing", "happy birds sing at night"),
]
CORPUS = [
    "a cat sleeps in the house",
    "a dog runs fast",
    "happy birds sing at night",
    "the red car",
    "she reads a good book",
    "fish eats food in the water",
    "the cat sleeps",
    "the big green tree",
]


def test_hard_negatives_are_the_top_ranked_non_positives(model):
    out = mine_hard_negatives(model, PAIRS, corpus=CORPUS, num_negatives=2)
    assert len(out) == len(PAIRS)
    for (anchor, positive), row in zip(PAIRS, out, strict=True):
        order, _ = _ranking(model, anchor, CORPUS)
        allowed = [CORPUS[i] for i in order if CORPUS[i] not in (anchor, positive)]
        assert row == (anchor, positive, *allowed[:2])
    skipped = mine_hard_negatives(model, PAIRS, corpus=CORPUS, num_negatives=1, range_min=2)
    for (anchor, positive), row in zip(PAIRS, skipped, strict=True):
        order, _ = _ranking(model, anchor, CORPUS)
        allowed = [CORPUS[i] for i in order if CORPUS[i] not in (anchor, positive)]
        assert row == (anchor, positive, allowed[2])


def test_hard_negatives_default_corpus_is_the_positives(model):
    out = mine_hard_negatives(model, PAIRS, num_negatives=2)
    positives = [p for _, p in PAIRS]
    for (anchor, positive), row in zip(PAIRS, out, strict=True):
        assert row[:2] == (anchor, positive)
        assert set(row[2:]) == set(positives) - {positive}


def test_hard_negatives_filters(model, caplog):
    anchor, positive = PAIRS[0]
    order, sim = _ranking(model, anchor, CORPUS)
    pos_score = float(sim[CORPUS.index(positive)])
    candidates = [i for i in order if CORPUS[i] not in (anchor, positive)]
    cut = float(sim[candidates[2]]) + 1e-6  # the first two candidates score above it
    out = mine_hard_negatives(model, [PAIRS[0]], corpus=CORPUS, max_score=cut)
    assert out == [(anchor, positive, CORPUS[candidates[2]])]
    margin = pos_score - cut
    assert mine_hard_negatives(model, [PAIRS[0]], corpus=CORPUS, margin=margin) == out
    assert mine_hard_negatives(model, [PAIRS[0]], corpus=CORPUS, max_score=cut, range_max=2) == []
    with caplog.at_level(logging.WARNING, logger="sentvec.search.mining"):
        assert mine_hard_negatives(model, [PAIRS[0]], corpus=CORPUS, max_score=-2.0) == []
    assert "1 of 1 pairs" in caplog.text


def test_hard_negatives_bad_arguments(model):
    with pytest.raises(ValueError, match="range_min"):
        mine_hard_negatives(model, PAIRS, range_min=-1)
    with pytest.raises(ValueError, match="fewer than num_negatives"):
        mine_hard_negatives(model, PAIRS, num_negatives=3, range_min=1, range_max=3)
    with pytest.raises(TypeError, match="pairs\\[0\\]"):
        mine_hard_negatives(model, [("only one",)])
    assert mine_hard_negatives(model, []) == []

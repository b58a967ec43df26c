"""Retrieve, then rerank: ``Index.search(..., rerank=)`` in every mode, ``sentvec.search.rerank_hits`` over in-memory
hits, and ``evaluate_index`` with the search options; scores equal the reranker's ``predict`` on the same pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_index_lexical import make_docs
from test_rerank import build_reranker

from sentvec.evaluation import evaluate_index
from sentvec.evaluation.retrieval import relevant_queries, score_rankings
from sentvec.rerank import load_reranker
from sentvec.search import BM25, HybridHit, RerankedHit, hybrid_search, rerank_hits, semantic_search
from sentvec.search.index import Index

pytest.importorskip("usearch")

DOCS = make_docs(60, seed=5)
QUERIES = ["the cat sleeps", "a big red house by the river", "dogs like music"]


@pytest.fixture(scope="module")
def reranker(tmp_path_factory) -> Any:
    return load_reranker(build_reranker(tmp_path_factory.mktemp("reranker") / "r", seed=3), backend="torch")


@pytest.fixture(scope="module")
def index(model, tmp_path_factory) -> Any:
    folder = tmp_path_factory.mktemp("rerank-index") / "index"
    with Index.create(folder, model) as writer:
        writer.add(DOCS, batch_size=25)
    with Index.open(folder, model, read_only=True) as reader:
        yield reader


class Counting:
    """A reranker that counts its ``predict`` calls (and the pairs it was given)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls, self.pairs = inner, 0, 0
        self.name, self.num_labels, self.max_length = inner.name, inner.num_labels, inner.max_length

    def predict(self, pairs, **kwargs):
        self.calls += 1
        self.pairs += len(pairs)
        return self.inner.predict(pairs, **kwargs)

    def rank(self, *args, **kwargs):
        return self.inner.rank(*args, **kwargs)


def expected_rerank(reranker, query, base, k):
    """The hits of ``base`` (the first stage) reranked by hand: (ids, scores, first-stage ranks)."""
    scores = reranker.predict([(query, h.passage) for h in base])
    order = np.argsort(-scores, kind="stable")[:k]
    return [base[i].id for i in order], scores[order], [int(i) + 1 for i in order]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_index_rerank_scores_are_the_rerankers(index, reranker, mode):
    for query in QUERIES:
        base = index.search(query, k=20, mode=mode)
        hits = index.search(query, k=5, mode=mode, rerank=reranker, rerank_candidates=20)
        ids, scores, ranks = expected_rerank(reranker, query, base, 5)
        assert [h.id for h in hits] == ids
        np.testing.assert_allclose([h.score for h in hits], scores, atol=1e-6)
        assert [h.rerank_score for h in hits] == [h.score for h in hits]
        assert [h.retrieval_rank for h in hits] == ranks
        by_id = {h.id: h for h in base}
        for hit in hits:  # the first stage's facts are kept
            first = by_id[hit.id]
            assert hit.retrieval_score == first.score
            assert (hit.dense_rank, hit.lexical_rank, hit.lexical_score) == (
                first.dense_rank,
                first.lexical_rank,
                first.lexical_score,
            )
            assert (hit.text, hit.title, hit.metadata) == (first.text, first.title, first.metadata)
    plain = index.search(QUERIES[0], k=3, mode=mode)
    assert all(h.rerank_score is None and h.retrieval_rank is None for h in plain)


def test_passage_is_title_and_text(index):
    hits = index.search("the cat", k=60, exact=True)
    titled = next(h for h in hits if h.title)
    assert titled.passage == f"{titled.title} {titled.text}".strip()
    untitled = next(h for h in hits if not h.title)
    assert untitled.passage == untitled.text


def test_search_many_reranks_every_query_in_one_call(index, reranker):
    counting = Counting(reranker)
    many = index.search_many(QUERIES, k=4, mode="hybrid", rerank=counting, rerank_candidates=15)
    assert counting.calls == 1 and counting.pairs == sum(len(index.search(q, k=15, mode="hybrid")) for q in QUERIES)
    for query, hits in zip(QUERIES, many, strict=True):
        single = index.search(query, k=4, mode="hybrid", rerank=reranker, rerank_candidates=15)
        assert [h.id for h in hits] == [h.id for h in single]
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in single], atol=1e-6)


def test_vector_queries_need_their_texts(index, model, reranker):
    vector = model.encode(QUERIES[0], prompt_name="query")
    by_text = index.search(QUERIES[0], k=3, rerank=reranker, rerank_candidates=10)
    by_vector = index.search(vector, k=3, rerank=reranker, rerank_candidates=10, text=QUERIES[0])
    assert [h.id for h in by_vector] == [h.id for h in by_text]
    with pytest.raises(ValueError, match="query texts"):
        index.search(vector, k=3, rerank=reranker)


def test_candidates_filter_and_clamping(index, reranker):
    # fewer candidates than k: the k best are reranked
    hits = index.search(QUERIES[1], k=6, rerank=reranker, rerank_candidates=2)
    ids, _, _ = expected_rerank(reranker, QUERIES[1], index.search(QUERIES[1], k=6), 6)
    assert [h.id for h in hits] == ids
    # a huge count is clamped to the index (every document reranked, nothing sized by the number)
    everything = index.search(QUERIES[1], k=10**12, rerank=reranker, rerank_candidates=10**15, exact=True)
    assert len(everything) == len(DOCS)
    assert sorted(h.retrieval_rank for h in everything) == list(range(1, len(DOCS) + 1))
    # the filter applies before reranking
    filtered = index.search(QUERIES[1], k=50, filter={"group": 2}, mode="hybrid", rerank=reranker)
    assert filtered and all(h.metadata["group"] == 2 for h in filtered)
    assert len(filtered) == sum(1 for d in DOCS if d["metadata"]["group"] == 2)


def test_rerank_argument_errors(index, reranker, tmp_path):
    for bad in (0, -1, True, 2.5, "5", None):
        with pytest.raises(ValueError, match="rerank_candidates"):
            index.search("the cat", k=3, rerank=reranker, rerank_candidates=bad)
    with pytest.raises(TypeError, match="rerank must be a reranker"):
        index.search("the cat", k=3, rerank=object())
    three = load_reranker(build_reranker(tmp_path / "three", num_labels=3, layout="hf"), backend="torch")
    with pytest.raises(ValueError, match="one-label"):
        index.search("the cat", k=3, rerank=three)


# --- in memory --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return [d["text"] for d in DOCS]


def test_rerank_hits_of_semantic_search(model, reranker, corpus):
    corpus_emb = model.encode(corpus)
    first = semantic_search(model.encode(QUERIES), corpus_emb, top_k=12)
    reranked = rerank_hits(reranker, QUERIES, corpus, first, top_k=4)
    for query, hits, base in zip(QUERIES, reranked, first, strict=True):
        expected = reranker.rank(query, [corpus[h.corpus_id] for h in base], top_k=4)
        assert [h.corpus_id for h in hits] == [base[r.corpus_id].corpus_id for r in expected]
        np.testing.assert_allclose([h.score for h in hits], [r.score for r in expected], atol=1e-6)
        assert [h.retrieval_rank for h in hits] == [r.corpus_id + 1 for r in expected]
        assert [h.retrieval_score for h in hits] == [base[r.corpus_id].score for r in expected]
        assert all(isinstance(h, RerankedHit) and h.dense_rank is None for h in hits)
    # one query: one flat list in, one out; top_k beyond the hits is clamped
    single = rerank_hits(reranker, QUERIES[0], corpus, first[0], top_k=100)
    assert len(single) == len(first[0])
    assert [h.corpus_id for h in single[:4]] == [h.corpus_id for h in reranked[0]]


def test_rerank_hits_of_hybrid_search_keep_the_retrievers(model, reranker, corpus):
    bm25 = BM25(corpus)
    first = hybrid_search(QUERIES, model.encode(QUERIES), model.encode(corpus), bm25, top_k=15)
    reranked = rerank_hits(reranker, QUERIES, corpus, first, top_k=5)
    for base, hits in zip(first, reranked, strict=True):
        by_row = {h.corpus_id: h for h in base}
        for hit in hits:
            original = by_row[hit.corpus_id]
            assert isinstance(original, HybridHit) and isinstance(hit, HybridHit)
            assert (hit.dense_rank, hit.dense_score, hit.lexical_rank, hit.lexical_score) == (
                original.dense_rank,
                original.dense_score,
                original.lexical_rank,
                original.lexical_score,
            )
            assert hit.retrieval_score == original.score
            assert hit.retrievers == original.retrievers


def test_rerank_hits_errors(reranker, corpus):
    hits = semantic_search(np.eye(1, 4), np.eye(6, 4), top_k=3)
    with pytest.raises(ValueError, match="2 queries but 1 lists"):
        rerank_hits(reranker, ["a", "b"], corpus, hits)
    with pytest.raises(ValueError, match="outside the 2 documents"):
        rerank_hits(reranker, ["a"], corpus[:2], semantic_search(np.eye(1, 4), np.eye(6, 4), top_k=6))
    with pytest.raises(ValueError, match="top_k"):
        rerank_hits(reranker, ["a"], corpus, hits, top_k=0)
    with pytest.raises(TypeError):
        rerank_hits(reranker, "a", corpus, hits)  # one query takes one flat list
    with pytest.raises(TypeError, match="reranker"):
        rerank_hits(object(), ["a"], corpus, hits)
    assert rerank_hits(reranker, ["a"], corpus, [[]]) == [[]]


# --- evaluation ---------------------------------------------------------------------------------------------------
def test_evaluate_index_takes_the_search_options(index, reranker):
    queries = {f"q{i}": q for i, q in enumerate(QUERIES)}
    qrels = {"q0": {"d3": 1.0, "d7": 1.0}, "q1": {"d10": 1.0}, "q2": {"d20": 2.0, "d21": 1.0}}
    ids, relevant = relevant_queries(queries, qrels)
    for options in (
        {"mode": "lexical"},
        {"mode": "hybrid", "fusion": "convex", "alpha": 0.3},
        {"mode": "hybrid", "rerank": reranker, "rerank_candidates": 30},
    ):
        result = evaluate_index(index, queries, qrels, name="x", **options)
        hits = index.search_many([queries[q] for q in ids], k=100, **options)
        expected = score_rankings(
            {index.similarity: [[h.id for h in row] for row in hits]}, relevant, index.similarity, "x"
        )
        assert result.metrics == expected.metrics, options
    dense = evaluate_index(index, queries, qrels, exact=True)
    assert dense.metrics == evaluate_index(index, queries, qrels, exact=True, mode="dense").metrics


def test_reranked_hits_are_frozen_dataclasses(index, reranker):
    hit = index.search("the cat", k=1, rerank=reranker, rerank_candidates=5)[0]
    with pytest.raises(AttributeError):
        hit.score = 1.0  # type: ignore[misc]

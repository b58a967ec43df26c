"""Lexical (FTS5 BM25) and hybrid search in sentvec.search.index.Index: modes, fusion, filters, titles, writes kept
in step, hostile queries, indexes without a lexical index (older folders), rebuilds, and FTS5's absence."""

from __future__ import annotations

import dataclasses
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import WORDS

from sentvec.search import BM25, hybrid_search, tokenize
from sentvec.search.index import (
    Index,
    LexicalConfig,
    LexicalSearchUnavailableError,
    SearchHit,
)
from sentvec.search.index import lexical as lexical_module

pytest.importorskip("usearch")


def make_docs(n: int, seed: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"d{i}",
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 10))),
            "title": None if i % 3 == 0 else " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))),
            "metadata": {"group": i % 4, "lang": "de" if i % 10 == 3 else "en"},
        }
        for i in range(n)
    ]


DOCS = make_docs(120)
QUERIES = ["the cat sleeps", "a big red house by the river", "dogs like music", "unicorns"]


@pytest.fixture(scope="module")
def built(model, tmp_path_factory) -> Path:
    """A closed index of DOCS with the default lexical index."""
    folder = tmp_path_factory.mktemp("lexical") / "index"
    with Index.create(folder, model) as index:
        index.add(DOCS, batch_size=50)
    return folder


@pytest.fixture
def copy(built, tmp_path) -> Path:
    folder = tmp_path / "index"
    shutil.copytree(built, folder)
    return folder


def bm25() -> BM25:
    return BM25([d["text"] for d in DOCS], titles=[d["title"] for d in DOCS])


def fts_check(folder: Path) -> None:
    """FTS5's integrity check: its index holds exactly the terms of the documents table (raises otherwise)."""
    conn = sqlite3.connect(folder / "index.sqlite")
    try:
        conn.execute("INSERT INTO lexical (lexical, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def test_lexical_search_scores_as_in_memory_bm25(model, built):
    with Index.open(built, read_only=True) as index:  # lexical search needs no model
        for query in QUERIES:
            hits = index.search(query, k=15, mode="lexical")
            ((rows, scores),) = bm25().search_arrays([query], 15)
            assert [h.id for h in hits] == [DOCS[r]["id"] for r in rows]
            np.testing.assert_allclose([h.score for h in hits], scores, rtol=1e-9)
            assert all(h.lexical_rank == i and h.dense_rank is None for i, h in enumerate(hits, 1))
            assert all(h.lexical_score == h.score and h.retrievers == ("lexical",) for h in hits)
        assert index.search("unicorns", k=5, mode="lexical") == []
        hit = index.search("the cat", k=1, mode="lexical")[0]
        doc = next(d for d in DOCS if d["id"] == hit.id)
        assert (hit.text, hit.title, hit.metadata) == (doc["text"], doc["title"], doc["metadata"])
        with pytest.raises(ValueError, match="needs the model"):
            index.search("the cat", k=1, mode="hybrid")
    fts_check(built)


def test_hybrid_search_equals_in_memory_hybrid(model, built):
    texts = [d["title"] + " " + d["text"] if d["title"] else d["text"] for d in DOCS]  # what the model embeds
    corpus_emb = model.encode(texts)
    query_emb = model.encode(QUERIES, prompt_name="query")
    with Index.open(built, model, read_only=True) as index:
        for fusion in ("rrf", "convex"):
            expected = hybrid_search(QUERIES, query_emb, corpus_emb, bm25(), top_k=10, fusion=fusion, candidates=30)
            got = index.search_many(QUERIES, k=10, exact=True, mode="hybrid", fusion=fusion, candidates=30)
            for row, want in zip(got, expected, strict=True):
                assert [h.id for h in row] == [DOCS[h.corpus_id]["id"] for h in want]
                assert [h.score for h in row] == pytest.approx([h.score for h in want], rel=1e-5)
                assert [(h.dense_rank, h.lexical_rank) for h in row] == [(h.dense_rank, h.lexical_rank) for h in want]
            approximate = index.search_many(QUERIES, k=10, mode="hybrid", fusion=fusion, candidates=30)  # HNSW
            assert [len(row) for row in approximate] == [10] * 4
            for row, want in zip(approximate, got, strict=True):
                assert len({h.id for h in row} & {h.id for h in want}) >= 8
        rrf = index.search("the cat sleeps", k=5, mode="hybrid", rrf_k=1)
        assert rrf[0].score == pytest.approx(sum(1 / (1 + r) for r in (rrf[0].dense_rank, rrf[0].lexical_rank) if r))
        convex = index.search("the cat sleeps", k=120, mode="hybrid", fusion="convex", alpha=1.0, exact=True)
        dense = index.search("the cat sleeps", k=10, exact=True)
        assert [h.id for h in convex[:10]] == [h.id for h in dense]  # alpha 1: the dense order
        assert all(h.dense_score == pytest.approx(d.score) for h, d in zip(convex, dense, strict=False))
        only_dense = index.search("unicorns", k=5, mode="hybrid", exact=True)  # no lexical candidate
        assert [h.id for h in only_dense] == [h.id for h in index.search("unicorns", k=5, exact=True)]
        vector = model.encode("the cat sleeps", prompt_name="query")
        by_vector = index.search(vector, k=5, mode="hybrid", text="the cat sleeps", exact=True)
        assert [h.id for h in by_vector] == [
            h.id for h in index.search("the cat sleeps", k=5, mode="hybrid", exact=True)
        ]
        with pytest.raises(ValueError, match="hybrid search needs the query texts"):
            index.search(vector, k=5, mode="hybrid")
        with pytest.raises(ValueError, match="texts= is for vector queries"):
            index.search_many(["a"], k=5, mode="hybrid", texts=["a"])


def test_dense_hits_say_their_rank(model, built):
    with Index.open(built, model, read_only=True) as index:
        hits = index.search("the cat sleeps", k=5)
    assert [h.dense_rank for h in hits] == [1, 2, 3, 4, 5] and all(h.dense_score == h.score for h in hits)
    assert all(h.lexical_rank is None and h.retrievers == ("dense",) for h in hits)
    assert isinstance(hits[0], SearchHit) and hits[0] == dataclasses.replace(hits[0])


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
@pytest.mark.parametrize("exact", [False, True])
def test_filters_apply_in_every_mode(model, built, mode, exact):
    where = {"lang": "de"}
    german = {d["id"] for d in DOCS if d["metadata"]["lang"] == "de"}
    with Index.open(built, model, read_only=True) as index:
        for query in QUERIES[:3]:
            hits = index.search(query, k=50, filter=where, mode=mode, exact=exact)
            assert {h.id for h in hits} <= german and hits
            if mode != "lexical":
                assert {h.id for h in hits} == german
        both = index.search("the cat", k=50, filter={"group": 2, "lang": "en"}, mode=mode, exact=exact)
        assert all(h.metadata["group"] == 2 and h.metadata["lang"] == "en" for h in both)


def test_k_and_candidates_are_checked_and_clamped(model, built):
    with Index.open(built, model, read_only=True) as index:
        assert len(index.search("the cat", k=10**12, mode="hybrid", candidates=10**12)) == len(DOCS)
        everything = index.search(" ".join(WORDS), k=10**12, mode="lexical")
        assert len(everything) == len(DOCS) == len({h.id for h in everything})
        assert len(index.search("the cat", k=np.int64(3), mode="lexical")) == 3
        for bad, match in [
            ({"k": 0}, "k must be a positive integer"),
            ({"candidates": 0}, "candidates must be a positive integer"),
            ({"candidates": 2.5}, "candidates must be a positive integer"),
            ({"mode": "sparse"}, "unknown search mode 'sparse'; valid: dense, lexical, hybrid"),
            ({"fusion": "max"}, "unknown fusion method 'max'"),
            ({"rrf_k": -1}, "rrf_k must be a finite number >= 0"),
            ({"alpha": 1.5}, "alpha must be within"),
            ({"alpha": "0.5"}, "alpha must be a number"),
        ]:
            with pytest.raises(ValueError, match=match):
                index.search("the cat", **{"k": 5, **bad})


HOSTILE = [
    '"',
    '""',
    '"cat',
    'cat"',
    "'",
    "cat OR dog",
    "cat AND dog",
    "NOT cat",
    "cat NOT dog",
    "-cat",
    "cat -dog",
    "cat*",
    "*",
    "^cat",
    "NEAR(cat dog)",
    "NEAR(cat dog, 2)",
    "NEAR",
    "OR",
    "AND",
    "AND OR NOT",
    "(cat",
    "cat)",
    "()",
    "{text}: cat",
    "title: cat",
    "lexical_text:cat",
    "text:",
    ":",
    "+cat",
    "cat + dog",
    "col1 : cat",
    "\\",
    "\x00",
    "cat\x00dog",
    "\ud800",
    "cat\ud800",
    "%",
    "_",
    "'; DROP TABLE documents; --",
    "rank MATCH 'bm25(10)'",
    "x" * 5000,
    " ".join(["OR"] * 500),
    "😀 🐱",
    "🐱cat",
    "",
    "   ",
]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_hostile_queries_are_searched_as_text(model, built, mode):
    """FTS5's query syntax never sees user text: no error, and every operator is a term or nothing."""
    with Index.open(built, model, read_only=True) as index:
        for query in HOSTILE:
            if mode == "hybrid" and "\ud800" in query:  # the model cannot encode it: a ValueError naming it
                with pytest.raises(ValueError, match="query 0 is not valid Unicode"):
                    index.search(query, k=5, mode=mode)
                continue
            hits = index.search(query, k=5, mode=mode)
            if mode == "lexical":
                terms = set(tokenize(query))
                assert all(terms & set(tokenize(f"{h.title or ''} {h.text}")) for h in hits), query
        valid = [q for q in HOSTILE if mode == "lexical" or "\ud800" not in q]
        assert len(index.search_many(valid, k=3, mode=mode)) == len(valid)


def test_operators_are_terms(model, tmp_path):
    docs = [
        {"id": "not", "text": "this is NOT a cat"},
        {"id": "cat", "text": "a cat"},
        {"id": "category", "text": "a category"},
        {"id": "near", "text": "near the title"},
        {"id": "dog", "text": "a dog"},
    ]
    with Index.create(tmp_path / "i", model) as index:
        index.add(docs)
        ids = lambda q: {h.id for h in index.search(q, k=10, mode="lexical")}  # noqa: E731
        assert ids("NOT") == {"not"}  # the word "not", not the operator
        assert ids("cat*") == {"not", "cat"}  # no prefix search: "category" is another word
        assert ids("-cat") == {"not", "cat"}  # nothing excluded
        assert ids("dog -cat") == {"dog", "not", "cat"}
        assert ids("NEAR(title dog)") == {"near", "dog"}
        assert ids("title:dog") == {"near", "dog"}  # no column filter
        assert ids("cat AND dog") == {"not", "cat", "dog"}  # terms OR-ed: any of them


def test_writes_keep_the_lexical_index_in_step(model, tmp_path):
    folder = tmp_path / "i"
    with Index.create(folder, model, lexical="english") as index:
        index.add([{"id": "a", "text": "the red car", "title": "cars"}, {"id": "b", "text": "a blue bird"}])
        assert [h.id for h in index.search("car", k=5, mode="lexical")] == ["a"]
        index.update([{"id": "a", "text": "a green tree", "title": "cars"}])  # the text changes: new terms
        assert index.search("red", k=5, mode="lexical") == []
        assert [h.id for h in index.search("tree", k=5, mode="lexical")] == ["a"]
        index.update([{"id": "a", "text": "a green tree", "title": "moons"}])  # only the title changes
        assert index.search("cars", k=5, mode="lexical") == []
        assert [h.id for h in index.search("moon", k=5, mode="lexical")] == ["a"]
        assert index.get("a").title == "moons"
        index.update([{"id": "b", "text": "a blue bird", "metadata": {"x": 1}}])  # metadata only
        assert [h.metadata for h in index.search("bird", k=5, mode="lexical")] == [{"x": 1}]
        assert index.delete(["a"]) == 1
        assert index.search("tree", k=5, mode="lexical") == []
        assert index.info().lexical == LexicalConfig("english")
    fts_check(folder)


def test_titles_are_embedded_with_the_text(model, tmp_path):
    with Index.create(tmp_path / "i", model, lexical=False) as index:
        index.add([{"id": "a", "text": "sleeps", "title": "the cat"}, {"id": "b", "text": "the cat sleeps"}])
        a, b = index.store.vectors([1, 2], model.dimension)[1]
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # "the cat" + " " + "sleeps"
        assert index.get("a").title == "the cat" and index.get("b").title is None
        with pytest.raises(LexicalSearchUnavailableError, match=r"has no lexical index.*rebuild-lexical"):
            index.search("cat", k=5, mode="lexical")
    from sentvec.errors import DataFormatError

    with Index.create(tmp_path / "j", model) as index, pytest.raises(DataFormatError, match="title"):
        index.add([{"id": "a", "text": "x", "title": 3}])


def make_legacy(folder: Path) -> None:
    """Turn an index written without a lexical index into the folder an older sentvec wrote: no title or term
    columns, no lexical config key, format 1."""
    conn = sqlite3.connect(folder / "index.sqlite")
    with conn:
        for column in ("title", "lexical_title", "lexical_text"):
            conn.execute(f"ALTER TABLE documents DROP COLUMN {column}")
        conn.execute("DELETE FROM config WHERE key = 'lexical'")
    conn.close()


def schema(folder: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(folder / "index.sqlite")
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


def test_an_older_index_opens_unchanged_and_gets_a_lexical_index_by_rebuild(model, tmp_path):
    folder = tmp_path / "i"
    plain = [{k: v for k, v in d.items() if k != "title"} for d in DOCS[:40]]
    with Index.create(folder, model, lexical=False) as index:
        index.add(plain)
    make_legacy(folder)
    before = schema(folder)
    assert Index.read_config(folder).format_version == 1 and Index.read_config(folder).lexical is None
    with Index.open(folder, model) as index:
        dense = [h.id for h in index.search("the cat sleeps", k=5)]
        assert index.get("d1").title is None and len(index) == 40
        with pytest.raises(LexicalSearchUnavailableError, match="no lexical index"):
            index.search("the cat", k=5, mode="hybrid")
    assert schema(folder) == before  # opened (and closed) unchanged
    with Index.open(folder, read_only=True) as reader, Index.open(folder) as writer:
        config = writer.rebuild_lexical(tokenizer="english", title_weight=2.0)
        assert config == LexicalConfig("english", 2.0, 1.0) == writer.config.lexical
        assert writer.config.format_version == 2
        expected = BM25([d["text"] for d in plain], tokenizer="english").search(["the cat sleeps"], 5)[0]
        assert [h.id for h in writer.search("the cat sleeps", k=5, mode="lexical")] == [
            plain[h.corpus_id]["id"] for h in expected
        ]
        assert len(reader.search("the cat sleeps", k=5, mode="lexical")) == 5  # a reader opened before sees it
        assert reader.info().lexical == config
    fts_check(folder)
    with Index.open(folder, model) as index:
        assert [h.id for h in index.search("the cat sleeps", k=5)] == dense
        index.add([{"id": "new", "text": "unicorns everywhere", "title": "magic"}])  # a titled document
        assert [h.id for h in index.search("magic unicorn", k=5, mode="lexical")] == ["new"]
        index.rebuild_lexical()  # the same settings again
        assert index.config.lexical == config
        assert [h.id for h in index.search("magic", k=5, mode="lexical")] == ["new"]
    stored = Index.read_config(folder)
    assert (stored.lexical, stored.format_version) == (config, 2)
    fts_check(folder)


def test_an_index_without_titles_takes_titled_documents(model, tmp_path):
    folder = tmp_path / "i"
    with Index.create(folder, model, lexical=False) as index:
        index.add([{"id": "a", "text": "the cat"}])
    make_legacy(folder)
    with Index.open(folder, model) as index:
        index.add([{"id": "b", "text": "sleeps", "title": "the dog"}])
        assert index.get("b").title == "the dog" and index.get("a").title is None


def test_a_newer_lexical_config_is_refused(copy):
    conn = sqlite3.connect(copy / "index.sqlite")
    with conn:
        conn.execute("""UPDATE config SET value = '{"tokenizer": "mixed", "terms_version": 9}' WHERE key = 'lexical'""")
    conn.close()
    from sentvec.search.index import IndexFormatError

    with pytest.raises(IndexFormatError, match="terms version 9 is newer"):
        Index.read_config(copy)


def test_without_fts5(model, tmp_path, monkeypatch, built):
    monkeypatch.setattr(lexical_module, "fts5_available", lambda: False)
    with pytest.raises(LexicalSearchUnavailableError, match=r"FTS5.*lexical=False"):
        Index.create(tmp_path / "i", model)
    assert not Index.exists(tmp_path / "i")
    with Index.create(tmp_path / "j", model, lexical=False) as index:  # dense search needs no FTS5
        index.add(DOCS[:5])
        assert len(index.search("the cat", k=3)) == 3
    with pytest.raises(LexicalSearchUnavailableError, match="writing to this index"):
        Index.open(built, model)
    with Index.open(built, model, read_only=True) as index:
        assert len(index.search("the cat", k=3)) == 3
        with pytest.raises(LexicalSearchUnavailableError, match="lexical search needs SQLite's FTS5"):
            index.search("the cat", k=3, mode="lexical")


def test_lexical_config():
    assert LexicalConfig.parse(True) == LexicalConfig() and LexicalConfig.parse(False) is None
    assert LexicalConfig.parse("CJK").tokenizer.value == "cjk"
    assert LexicalConfig.from_json(LexicalConfig("cjk", 2, 0.5).to_json(), "f") == LexicalConfig("cjk", 2.0, 0.5)
    with pytest.raises(ValueError, match="title_weight must be a finite number"):
        LexicalConfig(title_weight=-1)
    with pytest.raises(TypeError, match="lexical must be"):
        LexicalConfig.parse(3)  # type: ignore[arg-type]
    assert lexical_module.match_expression(['a"b', "c", "c", ""]) == '"a""b" OR "c"'
    assert lexical_module.match_expression([]) is None


def test_chinese_paraphrase_retrieval_through_the_index(model, tmp_path):
    """The STSb-zh task of issue 12 through an index's FTS5 table: the recall of the in-memory BM25 (>= 85)."""
    from test_search_lexical import recall_at_10, zh_task

    queries, documents, relevant = zh_task()
    with Index.create(tmp_path / "zh", model) as index:  # the tiny model cannot read Chinese: lexical only here
        index.add([{"id": str(i), "text": text} for i, text in enumerate(documents)], batch_size=500)
        found = index.search_many(queries, k=10, mode="lexical")
    recall = recall_at_10([[int(h.id) for h in row] for row in found], relevant)
    in_memory = BM25(documents).search_arrays(queries, 10)
    assert recall == recall_at_10([ids.tolist() for ids, _ in in_memory], relevant) >= 85.0

"""Hardening of the index, search, mining and clustering (issue 14, points 4, 5, 6 and 9):

- a huge ``k`` allocates nothing beyond what exists (checked in a subprocess under an address-space cap);
- metadata that is not strict JSON is refused at ``add`` naming the document and field, and nothing of its batch
  is written; an index holding such a row (an older sentvec wrote them) still answers filtered searches;
- the model fingerprint covers everything that changes the vectors; version-1 fingerprints still open;
- a damaged ``index.sqlite`` and a malformed filter are typed errors naming the culprit.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _tiny_model import WORDS, write_json

import sentvec
from sentvec.errors import DataFormatError, ModelFormatError
from sentvec.search import tokenize
from sentvec.search.exact import semantic_search
from sentvec.search.index import Index, IndexFormatError, IndexModelMismatchError, model_fingerprint
from sentvec.search.index.fingerprint import fingerprint_v1
from sentvec.search.mining import mine_hard_negatives, paraphrase_mining, paraphrase_mining_embeddings

pytest.importorskip("usearch")

HUGE = 10**9


def make_docs(n: int, seed: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"d{i}",
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))),
            "metadata": {"group": i % 4, "score": i / 10},
        }
        for i in range(n)
    ]


DOCS = make_docs(60)


@pytest.fixture(scope="module")
def small_index(model, tmp_path_factory) -> Path:
    """A closed float32 index of DOCS (copy it before changing it)."""
    folder = tmp_path_factory.mktemp("hardening") / "index"
    with Index.create(folder, model) as index:
        index.add(DOCS, batch_size=16)
    return folder


@pytest.fixture
def index_copy(small_index, tmp_path) -> Path:
    folder = tmp_path / "index"
    shutil.copytree(small_index, folder)
    return folder


# --- point 4: a huge k --------------------------------------------------------------------------------------------

CAPPED = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from sentvec.search.exact import semantic_search
    from sentvec.search.index import Index
    from sentvec.search.mining import mine_hard_negatives, paraphrase_mining, paraphrase_mining_embeddings
    from sentvec.similarity import SimilarityFunction

    HUGE, HEADROOM = 10**9, int(sys.argv[3])


    class Table:
        # An Embedder test double without torch: each text's vector from a table.
        name, source, max_seq_length, prompts = "table", None, 16, {}
        similarity_fn = SimilarityFunction.COSINE

        def __init__(self, texts, vectors):
            self.rows, self.dimension = dict(zip(texts, vectors)), vectors.shape[1]

        def encode(self, sentences, **kwargs):
            return np.stack([self.rows[t] for t in sentences])


    def mapped():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


    vectors = np.load(sys.argv[2])
    texts = [f"t{i}" for i in range(len(vectors))]
    model = Table(texts, vectors)
    index = Index.open(sys.argv[1], read_only=True)
    index.search(vectors[0], k=10)  # warm: the ANN view mapped, usearch's threads started
    semantic_search(vectors[:2], vectors, top_k=10)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (mapped() + HEADROOM, hard))
    pairs = [(texts[i], texts[i + 1]) for i in range(0, 20, 2)]
    out = {
        "search": len(index.search(vectors[0], k=HUGE)),
        "exact": len(index.search(vectors[0], k=HUGE, exact=True)),
        "filtered": len(index.search(vectors[0], k=HUGE, filter={"group": 1})),
        "filtered_exact": len(index.search(vectors[0], k=HUGE, filter={"group": 1}, exact=True)),
        "many": [len(hits) for hits in index.search_many(vectors[:3], k=HUGE)],
        "semantic_search": [len(hits) for hits in semantic_search(vectors[:2], vectors, top_k=HUGE)],
        "paraphrase": len(paraphrase_mining_embeddings(vectors, top_k=HUGE, threshold=-2.0)),
        "paraphrase_model": len(paraphrase_mining(model, texts, top_k=HUGE, threshold=-2.0)),
        "negatives_all": len(mine_hard_negatives(model, pairs, corpus=texts, num_negatives=HUGE)),
        "negatives_window": len(mine_hard_negatives(model, pairs, corpus=texts, range_min=5, range_max=HUGE)),
        "ranking": [h.id for h in index.search(vectors[0], k=HUGE, exact=True)]
        == [h.id for h in index.search(vectors[0], k=len(vectors), exact=True)],
        "lexical": len(index.search("the cat sleeps", k=HUGE, mode="lexical")),
        "lexical_filtered": len(index.search("the cat sleeps", k=HUGE, mode="lexical", filter={"group": 1})),
        "hybrid": len(index.search(vectors[0], k=HUGE, mode="hybrid", text="the cat", candidates=HUGE)),
        "hybrid_many": [
            len(h) for h in index.search_many(vectors[:2], k=5, mode="hybrid", texts=["a", "b"], candidates=HUGE)
        ],
    }
    index.close()
    print(json.dumps(out))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status are Linux's")
def test_a_huge_k_allocates_nothing_beyond_what_exists(model, small_index, tmp_path):
    """k = 10**9 under an address-space cap of what the process maps plus 1 GiB: before the fix usearch sized its
    answer by the over-fetch (10 × k keys and distances, ~120 GB) and failed at once (21 GB and the OOM killer
    without a cap); now every k and over-fetch is clamped to what the index, corpus or graph holds."""
    vectors = model.encode([d["text"] for d in DOCS])
    np.save(tmp_path / "vectors.npy", vectors)
    script = tmp_path / "capped.py"
    script.write_text(CAPPED, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script), str(small_index), str(tmp_path / "vectors.npy"), str(1 << 30)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    counts = json.loads(run.stdout.splitlines()[-1])
    n, group = len(DOCS), sum(1 for d in DOCS if d["metadata"]["group"] == 1)
    holding = [d for d in DOCS if {"the", "cat", "sleep"} & set(tokenize(d["text"]))]
    assert counts == {
        "lexical": len(holding),
        "lexical_filtered": sum(1 for d in holding if d["metadata"]["group"] == 1),
        "hybrid": n,
        "hybrid_many": [5, 5],
        "search": n,
        "exact": n,
        "filtered": group,
        "filtered_exact": group,
        "many": [n] * 3,
        "semantic_search": [n, n],
        "paraphrase": n * (n - 1) // 2,
        "paraphrase_model": n * (n - 1) // 2,
        "negatives_all": 0,  # no pair has 10**9 candidates: every pair is left out, nothing is allocated for them
        "negatives_window": 10,
        "ranking": True,
    }


def test_a_k_beyond_the_index_returns_every_document_ranked(model, small_index):
    """(k here is only a little beyond the index: a huge one is tested under a memory cap, in a subprocess.)"""
    with Index.open(small_index, model, read_only=True) as index:
        everything = index.search("the cat sleeps", k=5000, exact=True)
        assert [h.id for h in everything] == [h.id for h in index.search("the cat sleeps", k=len(DOCS), exact=True)]
        assert len(everything) == len(DOCS)
        assert {h.id for h in index.search("the cat sleeps", k=5000)} == {d["id"] for d in DOCS}
        assert len(index.search("the cat", k=np.int64(3))) == 3  # numpy integers are integers


@pytest.mark.parametrize("k", [0, -1, 2.5, "3", True, None])
def test_k_must_be_a_positive_integer(model, small_index, k):
    vectors = model.encode(["a", "b"])
    with Index.open(small_index, model, read_only=True) as index:
        with pytest.raises(ValueError, match=r"^k must be a positive integer"):
            index.search("the cat", k=k)
        with pytest.raises(ValueError, match=r"^k must be a positive integer"):
            index.search_many(vectors, k=k)
    with pytest.raises(ValueError, match=r"^top_k must be a positive integer"):
        semantic_search(vectors, vectors, top_k=k)
    with pytest.raises(ValueError, match=r"^top_k must be a positive integer"):
        paraphrase_mining_embeddings(vectors, top_k=k)
    with pytest.raises(ValueError, match=r"^top_k must be a positive integer"):
        paraphrase_mining(model, ["a", "b"], top_k=k)
    with pytest.raises(ValueError, match=r"^num_negatives must be a positive integer"):
        mine_hard_negatives(model, [("a", "b")], num_negatives=k)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"range_min": -1}, "range_min"), ({"range_min": None}, "range_min"), ({"range_max": "9"}, "range_max")],
)
def test_mining_ranges_are_checked(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mine_hard_negatives(model, [("a", "b")], **kwargs)


def test_cluster_k_is_checked_before_anything_is_fitted():
    from sentvec.cluster import cluster

    emb = np.random.default_rng(0).standard_normal((12, 4))
    with pytest.raises(ValueError, match="k must be between 2 and 11"):
        cluster(emb, k=HUGE)
    with pytest.raises(ValueError, match="k must be between 2 and 11"):
        cluster(emb, k=-3)
    with pytest.raises(TypeError, match="k must be an integer"):
        cluster(emb, k=2.5)
    with pytest.raises(ValueError, match="k_range must be a"):
        cluster(emb, k_range=(2,))
    with pytest.raises(TypeError, match="the largest k of k_range must be an integer"):
        cluster(emb, k_range=(2, "9"))
    pytest.importorskip("sklearn")
    assert cluster(emb, k_range=(2, HUGE)).k <= 11  # capped at n - 1 before fitting


# --- point 5: strict JSON metadata --------------------------------------------------------------------------------

DEEP: dict[str, object] = {}
_node = DEEP
for _ in range(150):
    _node["x"] = {}
    _node = _node["x"]  # type: ignore[assignment]

BAD_METADATA = [
    ({"score": float("nan")}, "metadata.score", "nan is not valid JSON"),
    ({"score": float("inf")}, "metadata.score", "inf is not valid JSON"),
    ({"scores": [1.0, float("-inf")]}, "metadata.scores[1]", "-inf is not valid JSON"),
    ({"a": {"b": float("nan")}}, "metadata.a.b", "nan"),
    ({"odd key": [{"x": float("nan")}]}, 'metadata["odd key"][0].x', "nan"),
    ({1: "one"}, "metadata", "the key 1 is int; JSON object keys must be strings"),
    ({"a": {1, 2}}, "metadata.a", "set is not a JSON value"),
    ({"a": b"bytes"}, "metadata.a", "bytes is not a JSON value"),
    ({"a": object()}, "metadata.a", "object is not a JSON value"),
    ({"a": 2**70}, "metadata.a", "does not fit in 64 bits"),
    ({"a": "x\ud800"}, "metadata.a", "lone surrogate"),
    ({"a\udfff": 1}, "metadata", "lone surrogate"),
    (DEEP, "metadata" + ".x" * 100, "nested deeper than 100 levels"),
]


@pytest.mark.parametrize(("metadata", "field", "problem"), BAD_METADATA)
def test_add_refuses_metadata_that_is_not_strict_json(model, tmp_path, metadata, field, problem):
    """The error names the document (position and id) and the field path; the batches before it are committed and
    acknowledged, nothing of its own batch is written, and re-running the add with the document fixed completes
    it."""
    docs = make_docs(8)
    bad = {"id": "bad", "text": "a sad fish sings", "metadata": metadata}
    acked: list[tuple[str, ...]] = []
    with Index.create(tmp_path / "i", model) as index:
        with pytest.raises(DataFormatError) as info:
            index.add([*docs[:5], bad, *docs[5:]], batch_size=4, on_batch=lambda r: acked.append(r.ids))
        assert str(info.value).startswith(f"document 5 (id 'bad'), field {field!r}: ")
        assert problem in str(info.value) and info.value.field == field
        assert acked == [("d0", "d1", "d2", "d3")]
        assert len(index) == 4 and "d4" not in index and "bad" not in index  # its batch: nothing
        assert len(index._ann) == 4
        with pytest.raises(DataFormatError, match=re.escape(f"document 0 (id 'd0'), field {field!r}")):
            index.update([{**docs[0], "metadata": metadata}])
        assert index.get("d0").metadata == docs[0]["metadata"]
        report = index.add([*docs[:5], {**bad, "metadata": {"fixed": True}}, *docs[5:]], batch_size=4)
        assert (report.added, report.skipped) == (5, 4)
    with Index.open(tmp_path / "i", model, read_only=True) as index:
        assert len(index) == 9 and index.get("bad").metadata == {"fixed": True}


def test_text_and_id_must_be_valid_unicode(model, tmp_path):
    with Index.create(tmp_path / "i", model) as index:
        with pytest.raises(DataFormatError, match=re.escape("document 1 (id 'x'), field 'text': not valid Unicode")):
            index.add(["fine", {"id": "x", "text": "a\ud800"}])
        with pytest.raises(DataFormatError, match=re.escape("document 0, field 'id': not valid Unicode")):
            index.add([{"id": "\udc80", "text": "a"}])
        with pytest.raises(DataFormatError, match=re.escape("document 0, field 'text'")):
            index.add(["\ud83d"])
        assert len(index) == 0


def test_tuples_and_numpy_scalars_are_stored_as_json(model, tmp_path):
    metadata = {"tags": ("a", "b"), "n": np.int64(3), "f": np.float32(0.5), "ok": np.bool_(True), "none": None}
    with Index.create(tmp_path / "i", model) as index:
        index.add([{"id": "t", "text": "the cat", "metadata": metadata}, *make_docs(5)])
        stored = index.get("t").metadata
        assert stored == {"tags": ["a", "b"], "n": 3, "f": 0.5, "ok": True, "none": None}
        assert type(stored["n"]) is int and type(stored["ok"]) is bool
        for where in ({"tags": ["a", "b"]}, {"tags": ("a", "b")}, {"n": np.int64(3)}, {"ok": True}):
            assert [h.id for h in index.search("the cat", k=3, filter=where)] == ["t"], where
            assert [h.id for h in index.search("the cat", k=3, filter=where, exact=True)] == ["t"], where


def _write_raw_metadata(folder: Path, doc_id: str, text: str) -> None:
    """What an older sentvec stored (``json.dumps`` writes ``NaN``), or a damaged row, written behind the API."""
    con = sqlite3.connect(folder / "index.sqlite")
    with con:
        assert con.execute("UPDATE documents SET metadata = ? WHERE id = ?", (text, doc_id)).rowcount == 1
    con.close()


def test_a_legacy_nan_row_does_not_break_filtered_search(model, index_copy, caplog):
    """SQLite's JSON functions refuse ``NaN`` (older sentvec stored it) and failed every filtered query scanning
    that row with ``sqlite3.OperationalError: malformed JSON``. The row is read by Python as written, so the
    filter is checked there: the answer stays exact, a warning names the index file and the documents."""
    _write_raw_metadata(index_copy, "d1", json.dumps({"group": 1, "score": float("nan")}))
    _write_raw_metadata(index_copy, "d6", json.dumps({"group": 2, "score": float("inf")}))
    group1 = {d["id"] for d in DOCS if d["metadata"]["group"] == 1}
    for read_only in (True, False):
        caplog.clear()
        with caplog.at_level(logging.WARNING), Index.open(index_copy, model, read_only=read_only) as index:
            # lexical search first: its own SQL meets the rows SQLite cannot read (every document holds a word)
            lexical = index.search(" ".join(WORDS), k=50, filter={"group": 1}, mode="lexical")
            assert {h.id for h in lexical} == group1, read_only
            for exact in (True, False):
                hits = index.search("the cat sleeps", k=50, filter={"group": 1}, exact=exact)
                assert {h.id for h in hits} == group1, (read_only, exact)
                hybrid = index.search("the cat sleeps", k=50, filter={"group": 1}, exact=exact, mode="hybrid")
                assert {h.id for h in hybrid} == group1, (read_only, exact)
                assert [h.id for h in index.search("the cat", k=5, filter={"group": 2, "score": 0.6})] == []
            d1 = index.get("d1")
            assert d1 is not None and math.isnan(d1.metadata["score"])
        warning = "\n".join(r.getMessage() for r in caplog.records)
        assert str(index_copy / "index.sqlite") in warning and "'d1', 'd6'" in warning and "Index.update" in warning
    with Index.open(index_copy, model) as index:  # the documented fix
        index.update([{"id": i, "text": index.get(i).text, "metadata": {"group": 1}} for i in ("d1", "d6")])
    con = sqlite3.connect(index_copy / "index.sqlite")
    assert con.execute("SELECT count(*) FROM documents WHERE NOT json_valid(metadata)").fetchone() == (0,)
    con.close()


def test_unreadable_stored_metadata_is_an_index_format_error(model, index_copy):
    _write_raw_metadata(index_copy, "d2", "{not json")
    db = re.escape(str(index_copy / "index.sqlite"))
    with Index.open(index_copy, model, read_only=True) as index:
        with pytest.raises(IndexFormatError, match=db + ": malformed JSON in the metadata of document key 3"):
            index.get("d2")
        for exact in (True, False):  # a filter reads every candidate's metadata
            with pytest.raises(IndexFormatError, match=db):
                index.search("the cat", k=60, filter={"group": 2}, exact=exact)


# --- point 9: filters and damaged files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "error", "match"),
    [
        ([("group", 1)], TypeError, "filter must be a mapping of metadata field names to values, got list"),
        ("group", TypeError, "filter must be a mapping"),
        ({1: "a"}, TypeError, r"filter: field names must be strings, got 1 \(int\)"),
        ({"group": 2**70}, ValueError, r"filter\['group'\]: the integer 1180591620717411303424 does not fit"),
        ({"group": -(2**64)}, ValueError, r"filter\['group'\].*64 bits"),
        ({"group": float("nan")}, ValueError, r"filter\['group'\]: nan is not valid JSON"),
        ({"group": {1, 2}}, TypeError, r"filter\['group'\]: set is not a JSON value"),
        ({"group": b"1"}, TypeError, r"filter\['group'\]: bytes"),
        ({"group": [1, {"a": float("inf")}]}, ValueError, r"filter\['group'\]\[1\]\.a: inf"),
        ({"group": {2: 1}}, TypeError, r"filter\['group'\]: the key 2 is int"),
    ],
)
def test_malformed_filters_are_typed_errors_naming_filter(model, small_index, where, error, match):
    with Index.open(small_index, model, read_only=True) as index:
        for exact in (False, True):
            with pytest.raises(error, match=match):
                index.search("the cat", k=5, filter=where, exact=exact)


def test_filters_that_are_fine(model, small_index):
    with Index.open(small_index, model, read_only=True) as index:
        assert len(index.search("the cat", k=5, filter={})) == 5
        assert len(index.search("the cat", k=5, filter=None)) == 5
        assert index.search("the cat", k=5, filter={"group": 2**62}) == []
        assert index.search("the cat", k=5, filter={"group": [1]}) == []
        assert index.search("the cat", k=5, filter={'we"ird': 1}) == []
        assert {h.metadata["group"] for h in index.search("the cat", k=5, filter={"group": 1.0})} == {1}


def test_filters_on_keys_and_strings_sqlite_cannot_compare(model, tmp_path):
    """SQLite's JSON path finds no key that JSON stores escaped (a backslash, a control character; a NUL was an
    ``OperationalError``) and its text comparison stops at NUL: such fields are left to the Python check, which
    must find them, not be narrowed to nothing by SQL."""
    weird = {"a\\b": 1, 'q"': 2, "c\x01": 3, "n\x00ul": 4, "a.b": 5, "nul": "a\x00b", "ü": "😀"}
    with Index.create(tmp_path / "i", model) as index:
        index.add([{"id": "w", "text": "the cat", "metadata": weird}, *make_docs(5)])
        for field, value in weird.items():
            for exact in (True, False):
                hits = index.search("the cat", k=3, filter={field: value}, exact=exact)
                assert [h.id for h in hits] == ["w"], (field, exact)
        assert index.search("the cat", k=3, filter={"nul": "a"}) == []


def _zero_pages_after_the_first(db: Path) -> None:
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(4096)
        f.write(bytes(size - 4096))


def _truncate(n: int | None):
    def damage(db: Path) -> None:
        with open(db, "r+b") as f:
            f.truncate(db.stat().st_size // 2 if n is None else n)

    return damage


def _garbage_header(db: Path) -> None:
    with open(db, "r+b") as f:
        f.write(b"this is not an sqlite database, whatever the name says" * 2)


DAMAGE = {
    "empty": _truncate(0),
    "100 bytes": _truncate(100),
    "half": _truncate(None),
    "garbage header": _garbage_header,
    "zeroed pages": _zero_pages_after_the_first,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("read_only", [True, False])
def test_a_damaged_database_is_an_index_format_error_naming_it(model, index_copy, damage, read_only):
    db = index_copy / "index.sqlite"
    assert not (index_copy / "index.sqlite-wal").exists()  # closed: everything is in the main file
    DAMAGE[damage](db)
    vector = model.encode("the cat sleeps", prompt_name="query")
    with (
        pytest.raises(IndexFormatError, match=re.escape(str(db))),
        Index.open(index_copy, read_only=read_only) as index,
    ):
        index.search(vector, k=5)
        index.search(vector, k=5, exact=True)
        index.search(vector, k=5, filter={"group": 1})
        index.get("d59")
    if damage in ("empty", "100 bytes", "garbage header"):
        with pytest.raises(IndexFormatError, match=re.escape(str(db))):
            Index.read_config(index_copy)
    if not read_only:  # the failed open released the write lock
        from sentvec.search.index.store import acquire_lock, release_lock

        release_lock(acquire_lock(index_copy))


# --- point 6: the fingerprint covers what changes the vectors ------------------------------------------------------


def _copy_with(folder: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / f"variant-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(folder, copy)
    edit(copy)
    return copy


def _load(folder: Path, **kwargs: object) -> sentvec.SentenceEncoder:
    return sentvec.load(str(folder), device="cpu", **kwargs)


def test_same_weights_with_cls_pooling_is_refused(model, make_model, small_index):
    """The case of the issue: the same weights with CLS pooling embed differently; version 1 could not tell."""
    cls_model = _load(make_model(pooling=("cls",)))
    assert fingerprint_v1(cls_model) == fingerprint_v1(model)  # same weights, same dimension
    assert model_fingerprint(cls_model) != model_fingerprint(model)
    with pytest.raises(IndexModelMismatchError, match="fingerprint"):
        Index.open(small_index, cls_model, read_only=True)
    with Index.open(small_index, _load(model.source), read_only=True) as index:  # the same model again opens
        assert len(index.search("the cat", k=3)) == 3


def _reorder_dense_and_normalize(folder: Path) -> None:
    modules = json.loads((folder / "modules.json").read_text())
    modules[2], modules[3] = modules[3], modules[2]  # Transformer, Pooling, Normalize, Dense
    write_json(folder / "modules.json", modules)


def _edit_json(relative: str, **changes: object):
    def edit(folder: Path) -> None:
        path = folder / relative
        write_json(path, {**json.loads(path.read_text()), **changes})

    return edit


def test_every_part_of_the_pipeline_is_covered(model, model_dir, make_model, tmp_path):
    base = model_fingerprint(model)
    dense_dir = make_model(dense=True)
    dense = model_fingerprint(_load(dense_dir))
    variants = {
        "mean and max pooling": _load(make_model(pooling=("mean", "max"))),
        "prompt tokens not pooled": _load(make_model(include_prompt=False)),
        "no Normalize": _load(make_model(normalize=False)),
        "another query prompt": _load(make_model(prompts={"query": "search: "})),
        "a default prompt for documents": _load(
            make_model(prompts={"query": "query: ", "text": "text: "}, default_prompt_name="text")
        ),
        "max_seq_length in the folder": _load(make_model(max_seq_length=8)),
        "max_seq_length at load": _load(model_dir, max_seq_length=12),
        "truncate_dim": _load(model_dir, truncate_dim=16),
        "lowercasing": _load(
            _copy_with(model_dir, tmp_path, _edit_json("sentence_bert_config.json", do_lower_case=True))
        ),
        "prompts at load": _load(model_dir, prompts={"query": "q: "}),
    }
    prints = {name: model_fingerprint(m) for name, m in variants.items()}
    assert all(p != base for p in prints.values()), prints
    assert len(set(prints.values())) == len(prints), prints
    dense_variants = {
        "Dense activation": _copy_with(
            dense_dir,
            tmp_path,
            _edit_json("2_Dense/config.json", activation_function="torch.nn.modules.linear.Identity"),
        ),
        "modules.json order": _copy_with(dense_dir, tmp_path, _reorder_dense_and_normalize),
    }
    for name, folder in dense_variants.items():
        changed = _load(folder)
        assert fingerprint_v1(changed) == fingerprint_v1(_load(dense_dir)), name  # same weights
        assert model_fingerprint(changed) not in (dense, base), name


def test_what_does_not_change_the_vectors_keeps_the_fingerprint(model, model_dir, make_model, tmp_path):
    base = model_fingerprint(model)
    assert model_fingerprint(_load(model_dir)) == base
    assert model_fingerprint(_load(make_model(prompts={"query": "query: ", "unused": "x: "}))) == base
    assert model_fingerprint(_load(make_model(similarity="dot"))) == base  # the index records its own similarity
    saved = tmp_path / "saved"
    model.save(saved)
    assert model_fingerprint(_load(saved)) == base  # a re-saved copy: same weights, same pipeline


def test_plain_hugging_face_pooling_chosen_at_load(make_model):
    folder = make_model(plain_hf=True)
    mean = model_fingerprint(_load(folder))
    assert model_fingerprint(_load(folder, pooling="mean")) == mean
    assert model_fingerprint(_load(folder, pooling="cls")) != mean


def test_prompt_names_of_the_index_decide_the_prompts_hashed(model):
    assert model_fingerprint(model) == model_fingerprint(model, ("query", None))
    assert model_fingerprint(model, (None, None)) != model_fingerprint(model)  # no query prompt used


def test_a_test_double_needs_a_model_folder(model, tmp_path):
    weights_only = tmp_path / "weights"
    weights_only.mkdir()
    shutil.copyfile(model.source / "model.safetensors", weights_only / "model.safetensors")
    double = SimpleNamespace(
        name="double", source=weights_only, dimension=32, max_seq_length=16, prompts={}, similarity_fn="cosine"
    )
    with pytest.raises(ModelFormatError, match="not a model folder"):
        model_fingerprint(double)
    honest = SimpleNamespace(**{**vars(double), "source": model.source, "prompts": model.prompts})
    assert model_fingerprint(honest) == model_fingerprint(model)  # the folder, not the object, is described


def _as_version_1(folder: Path, fingerprint: str) -> None:
    """Rewrite an index's config as sentvec wrote it before fingerprint version 2."""
    con = sqlite3.connect(folder / "index.sqlite")
    with con:
        con.execute("DELETE FROM config WHERE key = 'fingerprint_version'")
        con.execute("UPDATE config SET value = ? WHERE key = 'fingerprint'", (json.dumps(fingerprint),))
    con.close()


def test_a_version_1_index_still_opens_with_its_model(model, make_model, index_copy):
    _as_version_1(index_copy, fingerprint_v1(model))
    with Index.open(index_copy, model, read_only=True) as index:
        assert index.config.fingerprint_version == 1
        assert len(index.search("the cat", k=5)) == 5
    with Index.open(index_copy, model) as index:
        index.add([{"id": "new", "text": "a sad fish sings"}])
        assert index.config.fingerprint_version == 1  # kept: it is what the folder can vouch for
    with pytest.raises(IndexModelMismatchError):  # other weights (a Dense layer): refused as before
        Index.open(index_copy, _load(make_model(dense=True)), read_only=True)
    # what version 1 did not record cannot be checked: the same weights with CLS pooling open it, as they did
    Index.open(index_copy, _load(make_model(pooling=("cls",))), read_only=True).close()
    con = sqlite3.connect(index_copy / "index.sqlite")
    with con:
        con.execute("INSERT INTO config (key, value) VALUES ('fingerprint_version', '3')")
    con.close()
    with pytest.raises(IndexFormatError, match="fingerprint version 3"):
        Index.open(index_copy, model, read_only=True)


def test_fingerprint_v1_is_unchanged(tmp_path):
    """The version-1 computation must stay what older sentvec wrote, or their indexes would refuse their model:
    the value below is what sentvec computed before version 2, for this deterministic folder."""
    from safetensors.numpy import save_file

    save_file(
        {
            "encoder.weight": np.arange(300, dtype=np.float32).reshape(30, 10),
            "encoder.bias": np.linspace(-1, 1, 7, dtype=np.float32),
        },
        str(tmp_path / "model.safetensors"),
    )
    (tmp_path / "2_Dense").mkdir()
    save_file(
        {"linear.weight": np.full((4, 4), 0.5, dtype=np.float32)}, str(tmp_path / "2_Dense" / "model.safetensors")
    )
    double = SimpleNamespace(name="m", source=tmp_path, dimension=4)
    assert fingerprint_v1(double) == "692bdb1ac35861d7a81fe7c8a17b6a8a"

"""sentvec.search.index.Index on the tiny model: add/update/delete/search/get, precisions, filters, persistence,
errors."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import shutil
import sys

import numpy as np
import pytest
from _tiny_model import WORDS

from sentvec.errors import DataFormatError, MissingExtraError, SentvecError
from sentvec.quantization import Precision
from sentvec.search.exact import semantic_search
from sentvec.search.index import (
    HnswParams,
    Index,
    IndexConfig,
    IndexFormatError,
    IndexLockedError,
    IndexModelMismatchError,
    LexicalConfig,
    ReadOnlyIndexError,
    SearchHit,
    model_fingerprint,
    text_id,
)
from sentvec.search.index import searching as index_module
from sentvec.search.index.store import DocumentStore, release_lock

pytest.importorskip("usearch")


def make_docs(n, seed=0, prefix="d"):
    rng = random.Random(seed)
    return [
        {
            "id": f"{prefix}{i}",
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))),
            "metadata": {"group": i % 4, "even": i % 2 == 0, "lang": "de" if i % 10 == 3 else "en"},
        }
        for i in range(n)
    ]


DOCS = make_docs(150)
QUERIES = ["the cat sleeps", "a big red house by the river", "dogs like music", "the moon at night"]


def cosine(q, m):
    return (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))


def exact_ids(model, docs, query, k):
    emb = model.encode([d["text"] for d in docs], convert_to_numpy=True)
    q = model.encode(query, prompt_name="query")
    return [docs[h.corpus_id]["id"] for h in semantic_search(q, emb, top_k=k)[0]]


@pytest.fixture(scope="module")
def built(model, tmp_path_factory):
    """A closed float32 index of DOCS."""
    folder = tmp_path_factory.mktemp("idx") / "index"
    with Index.create(folder, model) as index:
        report = index.add(DOCS, batch_size=64)
    assert (report.added, report.skipped, report.batches) == (150, 0, 3)
    return folder


def test_exact_search_equals_semantic_search(model, built):
    with Index.open(built, model, read_only=True) as index:
        assert len(index) == 150
        for query in QUERIES:
            exact = index.search(query, k=5, exact=True)
            assert [h.id for h in exact] == exact_ids(model, DOCS, query, 5)
            assert all(isinstance(h, SearchHit) for h in exact)
        hit = exact[0]
        assert hit.text == next(d["text"] for d in DOCS if d["id"] == hit.id)
        with pytest.raises(dataclasses.FrozenInstanceError):
            hit.score = 0.0  # type: ignore[misc]


def test_hnsw_search_scores_are_exact_and_recall_is_high(model, built):
    """HNSW is approximate: the tiny model's vectors all lie within a narrow cone (cosine ~0.95 to each other), and
    on some builds of the graph (usearch adds on several threads) one of 150 documents is not reached — so this
    asserts what the index guarantees (exact scores, sorted hits) and a recall bound, not perfect recall."""
    emb = model.encode([d["text"] for d in DOCS])
    by_id = {d["id"]: i for i, d in enumerate(DOCS)}
    found = 0
    with Index.open(built, model, read_only=True) as index:
        for query in QUERIES:
            hits = index.search(query, k=5)
            q = model.encode(query, prompt_name="query")
            exact = cosine(q, emb[[by_id[h.id] for h in hits]])
            assert [h.score for h in hits] == pytest.approx(exact.tolist(), abs=1e-6)  # rescored exactly
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
            found += len({h.id for h in hits} & set(exact_ids(model, DOCS, query, 5)))
    assert found / (5 * len(QUERIES)) >= 0.9


def test_search_by_vector_and_many(model, built):
    with Index.open(built, read_only=True) as index:  # no model: vectors only
        vector = model.encode("the cat sleeps", prompt_name="query")
        by_vector = index.search(vector, k=3, exact=True)
        assert [h.id for h in by_vector] == exact_ids(model, DOCS, "the cat sleeps", 3)
        hnsw = index.search(vector, k=3)
        many = index.search_many(np.stack([vector, vector]), k=3)
        assert [[h.id for h in row] for row in many] == [[h.id for h in hnsw]] * 2
        with pytest.raises(ValueError, match="needs the model"):
            index.search("text needs a model")
        with pytest.raises(ValueError, match="dimension"):
            index.search(np.ones(7, dtype=np.float32))


@pytest.mark.parametrize(("precision", "min_recall"), [("int8", 0.85), ("binary", 0.3)])
def test_compressed_precisions_rescore_with_float_vectors(model, tmp_path, monkeypatch, precision, min_recall):
    calibration = [d["text"] for d in DOCS[:50]] if precision == "int8" else None
    with Index.create(tmp_path / "i", model, precision=precision, calibration=calibration) as index:
        index.add(DOCS)
        assert index.info().precision == precision
        for query in QUERIES:
            hits = index.search(query, k=5)
            exact = {h.id: h.score for h in index.search(query, k=150, exact=True)}
            assert len(hits) == 5
            assert [h.score for h in hits] == pytest.approx([exact[h.id] for h in hits], rel=1e-6)  # rescored
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

        # By default 100 of the 150 documents are rescored, so the codes hardly matter above. With 20 candidates
        # they do: the tiny model's vectors lie in a narrow cone, where sign bits say little, yet measured here
        # int8 finds 0.97-1.0 of the exact top 5 and binary 0.40-0.45, codes shuffled at random 0.13-0.20.
        monkeypatch.setattr(index_module, "RESCORE_MIN", 1)
        monkeypatch.setattr(index_module, "RESCORE_FACTOR", 4)
        queries = [*QUERIES, "green tree", "old man walks", "the sun", "fast car"]
        found = sum(
            len({h.id for h in index.search(q, k=5)} & {h.id for h in index.search(q, k=5, exact=True)})
            for q in queries
        )
        assert found / (5 * len(queries)) >= min_recall
    if precision == "int8":
        with Index.open(tmp_path / "i", read_only=True) as ro:
            assert ro.codec.ranges is not None and ro.codec.ranges.shape == (2, model.dimension)


def test_int8_without_calibration_uses_the_first_batch(model, tmp_path):
    with Index.create(tmp_path / "i", model, precision="int8") as index:
        assert index.info().int8_calibrated is False
        index.add(DOCS[:40])
        assert index.info().int8_calibrated is True
        ranges = index.codec.ranges.copy()
        index.add(DOCS[40:])
        assert np.array_equal(index.codec.ranges, ranges)
    with Index.open(tmp_path / "i", model) as index:
        assert np.array_equal(index.codec.ranges, ranges)
    with pytest.raises(ValueError, match="only used with precision='int8'"):
        Index.create(tmp_path / "j", model, precision="binary", calibration=np.ones((3, model.dimension)))


def test_add_skips_present_ids_and_strings_get_content_ids(model, tmp_path):
    batches = []
    with Index.create(tmp_path / "i", model) as index:
        first = index.add(DOCS[:30], batch_size=10, on_batch=batches.append)
        again = index.add(iter(DOCS[:40]), batch_size=25)  # a generator; 30 present, 10 new
        assert (first.added, again.added, again.skipped) == (30, 10, 30)
        assert [len(b.ids) for b in batches] == [10, 10, 10]
        report = index.add(["hello world", "the cat sleeps", "hello world"])
        assert (report.added, report.skipped) == (2, 1)
        assert index.get(text_id("hello world")).text == "hello world"
        assert len(index) == 42 and "d3" in index and "nope" not in index
        assert index.get("nope") is None
        assert index.get("d3").metadata == DOCS[3]["metadata"]


def test_update_and_delete(model, tmp_path):
    with Index.create(tmp_path / "i", model) as index:
        index.add(DOCS[:50])
        report = index.update(
            [
                {"id": "d1", "text": "the moon at night"},
                {"id": "d2", "text": DOCS[2]["text"], "metadata": {"group": 99}},
                {"id": "new", "text": "fish eats food"},
            ]
        )
        assert (report.added, report.updated) == (1, 2)
        assert index.get("d1").text == "the moon at night" and index.get("d1").metadata == {}
        assert index.get("d2").metadata == {"group": 99}
        assert index.search(model.encode("the moon at night"), k=1)[0].id == "d1"
        assert [h.id for h in index.search("x", k=5, filter={"group": 99})] == ["d2"]
        assert index.delete(["d1", "d5", "missing"]) == 2
        assert len(index) == 49 and index.get("d1") is None
        ids = {h.id for q in QUERIES for h in index.search(q, k=49)}
        assert "d1" not in ids and "d5" not in ids and len(ids) == 49
        assert len(index._ann) == 49


def test_filters(model, built):
    with Index.open(built, model, read_only=True) as index:
        for query in QUERIES:
            hits = index.search(query, k=5, filter={"group": 1, "even": False})
            assert len(hits) == 5 and all(h.metadata["group"] == 1 for h in hits)
            exact = index.search(query, k=5, filter={"group": 1, "even": False}, exact=True)
            assert [h.id for h in hits] == [h.id for h in exact]
        rare = index.search("the cat", k=20, filter={"lang": "de"})  # 15 of 150 match: exact fallback
        assert len(rare) == 15 and all(h.metadata["lang"] == "de" for h in rare)
        assert index.search("the cat", k=5, filter={"even": 1}) == []  # True is not 1
        assert index.search("the cat", k=5, filter={"group": 7}) == []


def test_reopen_and_catch_up_after_an_abandoned_writer(model, tmp_path):
    folder = tmp_path / "i"
    with Index.create(folder, model) as index:
        index.add(DOCS[:100])
    index = Index.open(folder, model)
    index.checkpoint_every = 10**9
    index.delete([f"d{i}" for i in range(10)])
    index.add(DOCS[100:])
    # a crash: nothing is checkpointed, the lock goes with the process
    index.store.close()
    release_lock(index._lock_fd)
    with Index.open(folder, model, read_only=True) as reader:
        assert reader.info().ann_pending == 50  # the ANN file lags; searches cover the rest exactly
        hnsw = reader.info().hnsw
        assert dataclasses.asdict(hnsw) == {"connectivity": 16, "expansion_add": 100, "expansion_search": 64}
        ids = {h.id for h in reader.search("the cat", k=140)}
        assert len(ids) == 140 and "d3" not in ids and "d149" in ids
    with Index.open(folder, model) as index:  # catches the graph up and checkpoints
        assert len(index._ann) == 140 == len(index)
        assert index.info().ann_pending == 0
    (folder / index._ann_state.file).unlink()  # a lost ANN file is rebuilt from SQLite
    with Index.open(folder, model) as index:
        assert len(index._ann) == 140 and index.info().ann_pending == 0
        keys = index.store.vectors(np.arange(1, 200), index.dimension)[0]  # every live document's key
        assert len(keys) == 140 and index._ann.contains(keys).all()


def test_read_only_and_locking(model, built, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(built, folder)
    with Index.open(folder, model) as writer:
        with pytest.raises(IndexLockedError, match="read_only=True"):
            Index.open(folder, model)
        reader = Index.open(folder, model, read_only=True)
        assert reader._ann.read_only
        for write in (lambda: reader.add(["x"]), lambda: reader.delete(["d1"]), reader.checkpoint):
            with pytest.raises(ReadOnlyIndexError):
                write()
        writer.add([{"id": "late", "text": "a sad fish sings"}])
        assert reader.search(model.encode("a sad fish sings"), k=1)[0].id == "late"  # committed rows the view lacks
        reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.search("x")


def test_model_mismatch_is_a_clear_error(model, make_model, built):
    import sentvec

    other = sentvec.load(str(make_model(dense=True)), device="cpu")
    assert model_fingerprint(other) != model_fingerprint(model)
    with pytest.raises(IndexModelMismatchError) as info:
        Index.open(built, other, read_only=True)
    assert isinstance(info.value, SentvecError)
    assert model.name in str(info.value) and other.name in str(info.value)


def test_fingerprint_tracks_weights_not_backend(model, model_dir, tmp_path):
    from safetensors.numpy import load_file, save_file

    import sentvec

    again = sentvec.load(str(model_dir), device="cpu")
    assert model_fingerprint(again) == model_fingerprint(model)
    tuned = tmp_path / "tuned"
    shutil.copytree(model_dir, tuned)
    weights = load_file(str(tuned / "model.safetensors"))
    name = sorted(weights)[-1]
    weights[name] = weights[name] + np.float32(1e-3)
    save_file(weights, str(tuned / "model.safetensors"))
    assert model_fingerprint(sentvec.load(str(tuned), device="cpu")) != model_fingerprint(model)


def test_fingerprint_without_a_folder_uses_the_torch_pipeline(model):
    from types import SimpleNamespace

    from sentvec.encoder import SentenceEncoder

    unsaved = SentenceEncoder(model.tokenizer, model.backend, model.config, name="unsaved")  # same weights, no folder
    live = model_fingerprint(unsaved)
    assert live == model_fingerprint(unsaved) and len(live) == 32
    assert live != model_fingerprint(model)  # documented: live parameters do not match the folder's fingerprint
    fake = SimpleNamespace(  # an Embedder's facts, but no folder and no torch pipeline
        name="fake", source=None, dimension=model.dimension, max_seq_length=16, prompts={}, similarity_fn="cosine"
    )
    with pytest.raises(IndexFormatError, match="cannot fingerprint model 'fake': no weights folder"):
        model_fingerprint(fake)


# The config keys every index folder has held since format 1: IndexConfig must keep writing and reading them
# (plus fingerprint_version, written since fingerprint version 2; folders without it hold a version-1 fingerprint;
# and lexical, the lexical index's settings, null without one: folders without the key have none).
STORED_KEYS = {
    "lexical",
    "fingerprint_version",
    "format_version",
    "model_name",
    "model_source",
    "fingerprint",
    "dimension",
    "similarity",
    "precision",
    "int8_ranges",
    "query_prompt_name",
    "document_prompt_name",
    "hnsw",
}


def test_config_keeps_the_on_disk_form_and_info_is_typed(model, built, tmp_path):
    assert Index.exists(built) and not Index.exists(tmp_path)
    config = Index.read_config(built)
    store = DocumentStore(built)
    stored = store.config()
    store.close()
    assert set(stored) == STORED_KEYS and config.to_json() == stored
    assert IndexConfig.from_json(stored, built) == config
    assert config.precision is Precision.FLOAT32 and config.similarity is model.similarity_fn
    assert (config.dimension, config.fingerprint) == (model.dimension, model_fingerprint(model))
    assert config.model_reference() == str(model.source.resolve())
    assert config.hnsw == HnswParams(16, 100, 64)
    assert config.lexical == LexicalConfig() and stored["format_version"] == 2  # a lexical index by default
    assert stored["lexical"] == {"tokenizer": "mixed", "title_weight": 1.0, "text_weight": 1.0, "terms_version": 1}
    # a folder written before hnsw, the source and the prompts were recorded
    legacy = {key: stored[key] for key in ("format_version", "model_name", "fingerprint", "dimension")}
    old = IndexConfig.from_json({**legacy, "similarity": "cos_sim", "precision": "int8"}, built)
    assert (old.hnsw, old.model_source, old.query_prompt_name, old.int8_ranges, old.lexical) == (None,) * 5
    assert (old.fingerprint_version, config.fingerprint_version) == (1, 2)
    assert old.precision is Precision.INT8 and old.model_reference() == config.model_name
    with pytest.raises(IndexFormatError, match="lacks fingerprint"):
        IndexConfig.from_json({key: v for key, v in stored.items() if key != "fingerprint"}, built)
    with pytest.raises(IndexFormatError, match="newer"):
        IndexConfig.from_json({**stored, "format_version": 99}, built)
    with pytest.raises(IndexFormatError, match="unknown index precision 'uint8'"):
        IndexConfig.from_json({**stored, "precision": "uint8"}, built)
    with pytest.raises(IndexFormatError, match="not an index folder"):
        Index.read_config(tmp_path)
    with Index.open(built, read_only=True) as index:
        info = index.info()
    assert (info.path, info.documents, info.precision, info.read_only) == (built, 150, "float32", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.documents = 0  # type: ignore[misc]
    facts = json.loads(json.dumps(info.as_dict()))
    assert list(facts) == [f.name for f in dataclasses.fields(info)]
    assert facts["precision"] == "float32" and facts["similarity"] == "cosine" and facts["path"] == str(built)
    assert facts["hnsw"] == {"connectivity": 16, "expansion_add": 100, "expansion_search": 64}
    assert facts["lexical"] == stored["lexical"]


def test_bad_input(model, tmp_path):
    with Index.create(tmp_path / "i", model) as index:
        with pytest.raises(DataFormatError, match="document 1, field 'text'"):
            index.add([{"id": "a", "text": "x"}, {"id": "b"}])
        with pytest.raises(TypeError, match="single document"):
            index.add({"id": "a", "text": "x"})
        with pytest.raises(DataFormatError, match="metadata"):
            index.add([{"id": "c", "text": "x", "metadata": {"v": object()}}])
        assert len(index) == 0
    with pytest.raises(FileExistsError):
        Index.create(tmp_path / "i", model)
    with pytest.raises(SentvecError, match="not an index folder"):
        Index.open(tmp_path)
    with pytest.raises(ValueError, match="unknown index precision"):
        Index.create(tmp_path / "k", model, precision="float16")


def test_missing_usearch_gives_the_install_hint(model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "usearch.index", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'sentvec\[index\]'"):
        Index.create(tmp_path / "i", model)


def test_checkpoints_grow_with_the_graph(model, tmp_path, monkeypatch):
    """Each checkpoint writes the whole graph, so they come every ``checkpoint_every`` changes or a quarter of the
    graph, whichever is more: the bytes written stay proportional to the index, not quadratic in it."""
    from sentvec.search.index.ann import AnnIndex

    sizes: list[int] = []
    save = AnnIndex.save

    def counting_save(self, folder):
        sizes.append(len(self))
        return save(self, folder)

    monkeypatch.setattr(AnnIndex, "save", counting_save)
    docs = make_docs(400, seed=3)
    with Index.create(tmp_path / "i", model) as index:
        index.checkpoint_every = 10
        index.add(docs, batch_size=10)
    assert sizes[-1] == 400  # close writes the rest
    during = sizes[:-1]
    assert during[0] == 10
    for before, after in itertools.pairwise(during):
        assert after - before >= max(10, before // 4)
    assert len(sizes) < 20  # a checkpoint every 10 changes would write 40 files

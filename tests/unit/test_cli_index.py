"""``sentvec index build|add|search|info|eval`` on the tiny model and a small BEIR folder."""

from __future__ import annotations

import json
import random
import shutil

import pytest
from _tiny_model import WORDS

from sentvec.cli.main import main
from sentvec.evaluation import InformationRetrievalEvaluator

pytest.importorskip("usearch")


def _text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


@pytest.fixture(scope="module")
def beir(tmp_path_factory):
    """A BEIR folder: 60 documents (with titles), 8 queries, graded qrels."""
    rng = random.Random(7)
    folder = tmp_path_factory.mktemp("beir")
    docs = [
        {"_id": f"doc{i}", "title": _text(rng, 2) if i % 3 else "", "text": _text(rng, 7), "metadata": {"src": i % 2}}
        for i in range(60)
    ]
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d) + "\n" for d in docs)
    queries = [{"_id": f"q{j}", "text": docs[j * 7]["text"][:20]} for j in range(8)]
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(q) + "\n" for q in queries)
    (folder / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore"]
    for j in range(7):  # q7 has no relevant document: left out, as by the evaluator
        rows += [f"q{j}\tdoc{j * 7}\t2", f"q{j}\tdoc{(j * 11) % 60}\t1", f"q{j}\tdoc{j}\t0"]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module")
def index_dir(beir, model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "index"
    assert (
        main(["index", "build", "--model", str(model_dir), "--input", str(beir / "corpus.jsonl"), "--out", str(out)])
        == 0
    )
    return out


def test_build_info_search(index_dir, beir, capsys):
    code, out, _ = _run(capsys, "index", "info", index_dir)
    assert code == 0
    assert "documents:        60" in out and "precision:        float32" in out and "fingerprint:" in out
    code, out, _ = _run(capsys, "index", "search", index_dir, "the cat sleeps", "-k", "3", "--json")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 3 and {"id", "score", "text", "metadata"} <= set(hits[0])
    code, out, _ = _run(capsys, "index", "search", index_dir, "the cat sleeps", "-k", "3", "--json", "--exact")
    exact_ids = [h["id"] for h in json.loads(out)]
    # HNSW is approximate (a full-suite run once swapped rank 3 with rank 4): the best hit and most of the
    # top 3 must agree with exact search, and no HNSW score may beat the exact one at the same rank
    assert exact_ids[0] == hits[0]["id"] and len(set(exact_ids) & {h["id"] for h in hits}) >= 2
    exact_scores = [h["score"] for h in json.loads(out)]
    assert all(h["score"] <= s + 1e-6 for h, s in zip(hits, exact_scores, strict=True))
    code, out, _ = _run(capsys, "index", "search", index_dir, "the cat sleeps", "-k", "5", "--filter", "src=1")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5 and lines[0].split()[0] == "1"
    code, out, _ = _run(capsys, "index", "search", index_dir, "x", "--json", "--filter", "src=1", "-k", "60")
    assert {h["metadata"]["src"] for h in json.loads(out)} == {1} and len(json.loads(out)) == 30
    first = next(json.loads(line) for line in (beir / "corpus.jsonl").read_text().splitlines())
    code, out, _ = _run(capsys, "index", "search", index_dir, "x", "--json", "-k", "60")
    stored = {h["id"]: h["text"] for h in json.loads(out)}
    assert stored[first["_id"]] == (first["title"] + " " + first["text"]).strip()


def test_add_skips_present_ids(index_dir, beir, tmp_path, capsys):
    extra = tmp_path / "more.jsonl"
    extra.write_text(
        json.dumps({"_id": "doc1", "text": "dup"}) + "\n" + json.dumps({"_id": "new", "text": "fish eats food"}) + "\n",
        encoding="utf-8",
    )
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    code, out, err = _run(capsys, "index", "add", copy, "--input", extra)
    assert code == 0, err
    assert "indexed 1 documents" in out and "1 skipped" in out and "61 in all" in out


def test_eval_exact_equals_the_ir_evaluator(index_dir, beir, model, tmp_path, capsys):
    expected = InformationRetrievalEvaluator.from_beir(beir)(model)
    out_json = tmp_path / "exact.json"
    code, out, err = _run(
        capsys, "index", "eval", index_dir, "--queries", beir / "queries.jsonl", "--qrels", beir / "qrels" / "test.tsv",
        "--exact", "--json", out_json,
    )  # fmt: skip
    assert code == 0, err
    written = json.loads(out_json.read_text(encoding="utf-8"))
    assert written["metrics"] == dict(expected.metrics)  # exactly
    assert written["primary_metric"] == expected.primary_metric == "cosine_ndcg@10"
    assert "7 queries, 60 documents, exact search" in out and "NDCG@10" in out
    code, out, _ = _run(
        capsys, "index", "eval", index_dir, "--queries", beir / "queries.jsonl", "--qrels", beir / "qrels" / "test.tsv"
    )
    assert code == 0 and "HNSW search" in out and out.count("primary: cosine_ndcg@10") == 1
    # the same through `sentvec eval ir --index`
    alias_json = tmp_path / "alias.json"
    code, _, err = _run(
        capsys, "eval", "ir", "--index", index_dir, "--queries", beir / "queries.jsonl",
        "--qrels", beir / "qrels" / "test.tsv", "--exact", "--json", alias_json,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(alias_json.read_text(encoding="utf-8"))["metrics"] == dict(expected.metrics)
    code, _, err = _run(capsys, "eval", "ir", "--index", index_dir)
    assert code == 2 and "--index needs --queries and --qrels" in err


def test_errors_are_one_line(index_dir, beir, model_dir, tmp_path, capsys):
    code, _, err = _run(capsys, "index", "build", "-m", model_dir, "--input", beir / "corpus.jsonl", "--out", index_dir)
    assert code == 2 and "already holds an index" in err and len(err.splitlines()) == 1
    code, _, err = _run(capsys, "index", "info", tmp_path)
    assert code == 2 and "not an index folder" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "a", "text": "ok"}\n{"_id": "b"}\n', encoding="utf-8")
    code, _, err = _run(capsys, "index", "build", "-m", model_dir, "--input", bad, "--out", tmp_path / "new")
    assert code == 2 and "bad.jsonl, line 2, field 'text'" in err
    code, _, err = _run(capsys, "index", "search", index_dir, "x", "--filter", "nofield")
    assert code == 2 and "FIELD=VALUE" in err

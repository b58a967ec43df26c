"""``sentvec rerank``, ``sentvec index search --rerank`` and ``sentvec eval ir --index --mode --rerank`` (which goes
through ``sentvec.evaluation.evaluate_index``): output equal to the library's, errors one line with exit code 2."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from _tiny_model import WORDS
from test_rerank import build_reranker

from sentvec.cli.main import main
from sentvec.evaluation import evaluate_index, load_qrels, load_queries
from sentvec.rerank import load_reranker
from sentvec.search.index import Index

pytest.importorskip("usearch")

DOCS = ["the cat sleeps on the red car", "a dog runs", "birds sing in the tree", "hello world", "the big moon"]
QUERY = "the cat"


def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module")
def reranker_dir(tmp_path_factory):
    return build_reranker(tmp_path_factory.mktemp("cli-reranker") / "r", seed=4)


@pytest.fixture(scope="module")
def reranker(reranker_dir):
    return load_reranker(reranker_dir, backend="torch")


@pytest.fixture(scope="module")
def beir(tmp_path_factory):
    rng = random.Random(11)
    folder = tmp_path_factory.mktemp("beir-rerank")
    docs = [{"_id": f"doc{i}", "title": "", "text": " ".join(rng.choice(WORDS) for _ in range(6))} for i in range(30)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    queries = [{"_id": f"q{j}", "text": docs[j * 3]["text"][:18]} for j in range(6)]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{j}\tdoc{j * 3}\t1" for j in range(6)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def index_dir(beir, model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-rerank") / "index"
    assert main(["index", "build", "-m", str(model_dir), "--input", str(beir / "corpus.jsonl"), "--out", str(out)]) == 0
    return out


# --- sentvec rerank -----------------------------------------------------------------------------------------------
def test_rerank_prints_the_ranking(reranker_dir, reranker, tmp_path, capsys):
    txt = tmp_path / "docs.txt"
    txt.write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    expected = reranker.rank(QUERY, DOCS)
    code, out, _ = _run(capsys, "rerank", "--model", reranker_dir, "--query", QUERY, "--input", txt, "--json")
    rows = json.loads(out)
    assert code == 0 and [r["index"] for r in rows] == [r.corpus_id for r in expected]
    np.testing.assert_allclose([r["score"] for r in rows], [r.score for r in expected], atol=1e-6)
    assert [r["rank"] for r in rows] == list(range(1, len(DOCS) + 1))
    assert [r["text"] for r in rows] == [DOCS[r.corpus_id] for r in expected]

    code, out, _ = _run(capsys, "rerank", "-m", reranker_dir, "-q", QUERY, "--input", txt, "--top-k", "2")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    for rank, (line, hit) in enumerate(zip(lines, expected[:2], strict=True), start=1):
        assert line.split()[0] == str(rank) and float(line.split()[1]) == pytest.approx(hit.score, abs=1e-4)
        assert line.endswith(DOCS[hit.corpus_id])

    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"body": d}) + "\n" for d in DOCS), encoding="utf-8")
    csv = tmp_path / "docs.csv"
    csv.write_text("id,body\n" + "".join(f"{i},{d}\n" for i, d in enumerate(DOCS)), encoding="utf-8")
    for path, flag in ((jsonl, "--field"), (csv, "--column")):
        code, out, _ = _run(capsys, "rerank", "-m", reranker_dir, "-q", QUERY, "--input", path, flag, "body", "--json")
        assert code == 0 and [r["index"] for r in json.loads(out)] == [r.corpus_id for r in expected]


def test_rerank_errors_are_one_line(reranker_dir, tmp_path, capsys):
    txt = tmp_path / "docs.txt"
    txt.write_text("a\nb\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"text": 3}\n', encoding="utf-8")
    three = build_reranker(tmp_path / "three", num_labels=3, layout="hf")
    capsys.readouterr()  # transformers' progress bar of saving it
    cases = [
        (["--input", tmp_path / "missing.txt"], "file not found"),
        (["--input", empty], "no texts"),
        (["--input", bad, "--field", "text"], "line 2"),
        (["--input", txt, "--top-k", "0"], "--top-k must be a positive integer"),
        (["--input", tmp_path / "docs.jsonl"], "file not found"),
    ]
    for extra, message in cases:
        code, _, err = _run(capsys, "rerank", "-m", reranker_dir, "-q", QUERY, *extra)
        assert code == 2 and message in err and len(err.splitlines()) == 1, (extra, err)
    # after a model loads, transformers' progress bar may come first: the error is still one line, the last
    code, _, err = _run(capsys, "rerank", "-m", three, "-q", QUERY, "--input", txt)
    assert code == 2 and err.splitlines()[-1].startswith("sentvec: error: ") and "one-label" in err.splitlines()[-1]
    code, _, err = _run(capsys, "rerank", "-m", tmp_path / "no-model", "-q", QUERY, "--input", txt)
    assert code == 2 and err.splitlines()[-1].startswith("sentvec: error: ") and err.count("sentvec: error") == 1


# --- sentvec index search --rerank ------------------------------------------------------------------------------------
def test_index_search_rerank(index_dir, reranker_dir, reranker, model, capsys):
    code, out, _ = _run(
        capsys, "index", "search", index_dir, "the cat sleeps", "--mode", "hybrid", "--rerank", reranker_dir,
        "--rerank-candidates", "12", "-k", "4", "--json",
    )  # fmt: skip
    assert code == 0
    hits = json.loads(out)
    with Index.open(index_dir, model, read_only=True) as index:
        expected = index.search("the cat sleeps", k=4, mode="hybrid", rerank=reranker, rerank_candidates=12)
    assert [h["id"] for h in hits] == [h.id for h in expected]
    np.testing.assert_allclose([h["score"] for h in hits], [h.score for h in expected], atol=1e-6)
    assert [h["retrieval_rank"] for h in hits] == [h.retrieval_rank for h in expected]
    assert all(h["rerank_score"] == h["score"] for h in hits)

    # lexical + rerank needs no embedding model; the table names the first stage's rank
    code, out, _ = _run(capsys, "index", "search", index_dir, "the cat", "--mode", "lexical", "--rerank", reranker_dir)
    assert code == 0 and "[lexical #" in out.splitlines()[0]

    code, _, err = _run(capsys, "index", "search", index_dir, "x", "--rerank", reranker_dir, "--rerank-candidates", "0")
    assert code == 2 and "--rerank-candidates must be a positive integer" in err


# --- sentvec eval ir --index / sentvec index eval -----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_eval_ir_goes_through_evaluate_index(index_dir, beir, reranker_dir, reranker, model, tmp_path, capsys, mode):
    queries, qrels = load_queries(beir / "queries.jsonl"), load_qrels(beir / "qrels" / "test.tsv")
    with Index.open(index_dir, model, read_only=True) as index:
        plain = evaluate_index(index, queries, qrels, mode=mode)
        reranked = evaluate_index(index, queries, qrels, mode=mode, rerank=reranker, rerank_candidates=20)
    for command, extra, expected in (
        (["eval", "ir", "--index", index_dir], [], plain),
        (["index", "eval", index_dir], ["--rerank", reranker_dir, "--rerank-candidates", "20"], reranked),
        (["eval", "ir", "--index", index_dir], ["--rerank", reranker_dir, "--rerank-candidates", "20"], reranked),
    ):
        out_json = tmp_path / f"{mode}-{len(extra)}-{command[0]}.json"
        code, out, _ = _run(
            capsys, *command, "--queries", beir / "queries.jsonl", "--qrels", beir / "qrels" / "test.tsv",
            "--mode", mode, "--json", out_json, *extra,
        )  # fmt: skip
        assert code == 0, out
        written = json.loads(out_json.read_text())
        assert written["metrics"] == pytest.approx(expected.metrics, abs=1e-12)
        assert ("reranked by" in out) == bool(extra)


def test_eval_ir_mode_needs_an_index(beir, model_dir, reranker_dir, capsys):
    for extra in (["--mode", "hybrid"], ["--rerank", reranker_dir]):
        code, _, err = _run(capsys, "eval", "ir", "-m", model_dir, "--data", beir, *extra)
        assert code == 2 and "--index" in err

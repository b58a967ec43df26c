"""The cross-encoder recipes run end to end on small slices of their data (a few steps on the real model): they
train, write the reranker, the curve and ``figures.json``, and print their figures as the last line."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
pytestmark = pytest.mark.real_model


def _run(*argv: str) -> str:
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_cross_encoder_stsb_recipe_on_a_slice(tmp_path):
    if not (DATA / "stsb" / "stsb-en-train.csv").is_file():
        pytest.skip("STSb not found")
    stsb = tmp_path / "stsb"
    stsb.mkdir()
    for split, rows in (("train", 64), ("dev", 40), ("test", 40)):
        with open(DATA / "stsb" / f"stsb-en-{split}.csv", encoding="utf-8") as f:
            (stsb / f"stsb-en-{split}.csv").write_text("".join(itertools.islice(f, rows)), encoding="utf-8")
    out = tmp_path / "out"
    last = _run(
        str(REPO / "examples" / "train_cross_encoder_stsb.py"),
        *("--output", str(out), "--stsb", str(stsb), "--epochs", "1", "--eval-steps", "2", "--threads", "1"),
    )
    assert last.startswith("STSb-en Spearman: test ")
    figures = json.loads((out / "figures.json").read_text())
    assert figures["steps"] == 8 and -100 <= figures["test"] <= 100  # 64 pairs in both orders, batch 16
    assert (out / "training_curve.png").is_file() and (out / "checkpoints" / "best" / "modules.json").is_file()
    assert "BinaryCrossEntropyLoss" in (out / "README.md").read_text()


def test_reranker_recipe_on_a_small_beir_folder(tmp_path):
    """A BEIR folder of 30 documents and 12 queries (train, dev, test): mining, training, reranking."""
    topics = ["cats", "dogs", "birds", "fish", "trees", "rivers", "music", "books", "cars", "food", "stars", "rain"]
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = [
        {"_id": f"d{i}", "title": f"About {t}", "text": f"This text is about {t}, part {j}."}
        for i, (t, j) in enumerate(itertools.product(topics, range(2)))
    ]
    docs += [{"_id": f"x{i}", "title": "", "text": f"Unrelated filler number {i}."} for i in range(6)]
    (beir / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    queries = [{"_id": f"q{i}", "text": f"what about {t}?"} for i, t in enumerate(topics)]
    (beir / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    for split, ids in (("train", range(0, 6)), ("dev", range(6, 9)), ("test", range(9, 12))):
        rows = "".join(f"q{i}\td{2 * i}\t1\nq{i}\td{2 * i + 1}\t2\n" for i in ids)
        (beir / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    out = tmp_path / "out"
    last = _run(
        str(REPO / "examples" / "train_reranker.py"),
        *("--output", str(out), "--data", str(beir), "--batch-size", "4", "--depth", "10", "--dev-depth", "5"),
        *("--threads", "1", "--max-length", "64"),
    )
    assert last.startswith("NFCorpus test NDCG@10: dense ")
    figures = json.loads((out / "figures.json").read_text())
    assert figures["train_pairs"] == 6 * 5 and figures["test_queries"] == 3
    assert 0 <= figures["hybrid+rerank"] <= 100 and (out / "cache" / "corpus_embeddings.npy").is_file()
    assert (out / "config_sentence_transformers.json").is_file() and (out / "training_curve.png").is_file()

"""``sentvec index build --no-lexical/--tokenizer``, ``search --mode``, ``eval --mode`` and ``rebuild-lexical``."""

from __future__ import annotations

import json
import random

import pytest
from _tiny_model import WORDS

from sentvec.cli import index as cli_index
from sentvec.cli.main import main
from sentvec.search import FusionMethod, LexicalTokenizer, SearchMode
from sentvec.search.index import Index

pytest.importorskip("usearch")


@pytest.fixture(scope="module")
def beir(tmp_path_factory):
    rng = random.Random(3)
    folder = tmp_path_factory.mktemp("beir")
    docs = [{"_id": f"doc{i}", "title": "", "text": " ".join(rng.choice(WORDS) for _ in range(6))} for i in range(40)]
    docs[5]["text"] = "unicorns dance"
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    queries = [{"_id": f"q{j}", "text": docs[j * 5]["text"]} for j in range(8)]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{j}\tdoc{j * 5}\t1" for j in range(8)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_choices_are_the_enums_values():
    assert tuple(m.value for m in SearchMode) == cli_index.MODE_CHOICES
    assert tuple(f.value for f in FusionMethod) == cli_index.FUSION_CHOICES
    assert set(cli_index.TOKENIZER_CHOICES) == {t.value for t in LexicalTokenizer}


def test_build_search_eval_and_rebuild(beir, model_dir, tmp_path, capsys):
    out = tmp_path / "index"
    corpus = beir / "corpus.jsonl"
    assert (
        _run(capsys, "index", "build", "-m", model_dir, "--input", corpus, "--out", out, "--tokenizer", "english")[0]
        == 0
    )
    code, text, _ = _run(capsys, "index", "info", out)
    assert code == 0 and "'tokenizer': 'english'" in text
    # lexical search loads no model
    code, text, _ = _run(capsys, "index", "search", out, "unicorn", "--mode", "lexical", "--json")
    hits = json.loads(text)
    assert code == 0 and [h["id"] for h in hits] == ["doc5"] and hits[0]["lexical_rank"] == 1
    code, text, _ = _run(capsys, "index", "search", out, "unicorns dance", "--mode", "hybrid", "-k", "3")
    assert code == 0 and "doc5" in text.splitlines()[0] and "[dense+lexical]" in text.splitlines()[0]
    code, text, _ = _run(
        capsys, "index", "search", out, "unicorns", "--mode", "hybrid", "--fusion", "convex", "--alpha", "0.2",
        "--prompt-name", "query", "--json", "-k", "2",
    )  # fmt: skip
    assert code == 0 and json.loads(text)[0]["id"] == "doc5"
    qrels = beir / "qrels" / "test.tsv"
    for mode, label in [("lexical", "lexical search (BM25)"), ("hybrid", "hybrid search (rrf, dense by HNSW search)")]:
        code, text, _ = _run(
            capsys, "index", "eval", out, "--queries", beir / "queries.jsonl", "--qrels", qrels, "--mode", mode
        )
        assert code == 0 and label in text and "NDCG@10" in text
    code, _, err = _run(capsys, "index", "search", out, "x", "--mode", "hybrid", "--alpha", "3", "--fusion", "convex")
    assert code != 0 and "alpha must be within" in err

    plain = tmp_path / "plain"
    assert _run(capsys, "index", "build", "-m", model_dir, "--input", corpus, "--out", plain, "--no-lexical")[0] == 0
    code, _, err = _run(capsys, "index", "search", plain, "unicorn", "--mode", "lexical")
    assert code != 0 and "rebuild-lexical" in err
    code, text, _ = _run(capsys, "index", "rebuild-lexical", plain)
    assert code == 0 and "40 documents, tokenizer mixed" in text
    code, text, _ = _run(capsys, "index", "search", plain, "unicorn", "--mode", "lexical", "--json")
    assert [h["id"] for h in json.loads(text)] == ["doc5"]
    assert Index.read_config(plain).lexical.tokenizer is LexicalTokenizer.MIXED

"""``sentvec eval ir|binary|triplet`` on the tiny model: the CLI prints and writes what the evaluators return."""

from __future__ import annotations

import json

import pytest

from sentvec.cli.main import main
from sentvec.evaluation import BinaryClassificationEvaluator, InformationRetrievalEvaluator, TripletEvaluator

CORPUS = {
    "d1": "the cat sleeps in the house",
    "d2": "a quick brown dog jumps over the lazy cat",
    "d3": "she reads a good book by the river",
    "d4": "the big red sun and the blue moon",
    "d5": "fish eats food in the water",
}
QUERIES = {"q1": "cat sleeps", "q2": "dog jumps", "q3": "good book", "q4": "moon at night"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 2), ("q2", "d1", 1), ("q3", "d3", 1), ("q4", "d4", 1), ("q4", "d5", 0)]
PAIRS = [
    ("the cat sleeps", "a cat sleeps", 1),
    ("the dog runs", "a dog runs fast", 1),
    ("the cat sleeps", "music in the city", 0),
    ("happy birds sing", "birds sing", 1),
    ("red car", "the moon at night", 0),
    ("a good book", "fish eats food", 0),
    ("the cat sleeps", "the cat sleeps in the house", 0),
    ("the red car", "a blue moon", 1),
]
TRIPLETS = [
    ("the cat sleeps", "a cat sleeps", "music in the city"),
    ("the dog runs", "a dog runs fast", "the red car"),
    ("birds sing", "happy birds sing", "fish eats food"),
    ("the big tree", "a big green tree", "she reads a book"),
]


def _run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def _primary(out):
    line = next(line for line in out.splitlines() if line.startswith("primary: "))
    name, _, value = line.removeprefix("primary: ").partition(" = ")
    return name, float(value)


def _assert_matches(out, out_json, expected):
    name, value = _primary(out)
    assert name == expected.primary_metric
    assert value == pytest.approx(round(expected.primary_value, 4), abs=1e-9)
    written = json.loads(out_json.read_text(encoding="utf-8"))
    assert written["name"] == expected.name and written["primary_metric"] == expected.primary_metric
    assert written["primary_value"] == pytest.approx(expected.primary_value, abs=1e-6)
    assert written["metrics"] == pytest.approx(dict(expected.metrics), abs=1e-6)


def _assert_user_error(code, err, *expected):
    assert code == 2
    assert err.count("\n") == 0 and err.startswith("sentvec: error: "), err
    for part in expected:
        assert part in err, err


@pytest.fixture
def beir(tmp_path):
    folder = tmp_path / "tinybeir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": cid, "title": "", "text": text} for cid, text in CORPUS.items()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    queries = [{"_id": qid, "text": text} for qid, text in QUERIES.items()]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    rows = "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    return folder


def test_eval_ir_prints_the_evaluators_metrics(beir, model_dir, model, tmp_path, capsys):
    out_json = tmp_path / "ir.json"
    code, out, err = _run(
        capsys, "eval", "ir", "-m", str(model_dir), "--device", "cpu", "--data", str(beir), "--json", str(out_json)
    )
    assert code == 0, err
    expected = InformationRetrievalEvaluator.from_beir(beir, split="test")(model)
    _assert_matches(out, out_json, expected)
    assert expected.primary_metric == "cosine_ndcg@10"
    table = {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if "@" in line.split()[0]}
    assert table["NDCG@10"] == pytest.approx(round(expected.primary_value, 4), abs=1e-9)
    for label, key in [("MRR@10", "mrr@10"), ("MAP@100", "map@100"), ("Recall@3", "recall@3")]:
        assert table[label] == pytest.approx(round(expected.metrics[f"cosine_{key}"], 4), abs=1e-9)
    assert {"Precision@1", "Precision@10", "Accuracy@1", "Accuracy@10", "Recall@10"} <= set(table)
    assert "4 queries, 5 documents" in out


def test_eval_ir_missing_qrels_names_the_file(beir, model_dir, capsys):
    code, _, err = _run(capsys, "eval", "ir", "-m", str(model_dir), "--data", str(beir), "--split", "dev")
    _assert_user_error(code, err, str(beir / "qrels" / "dev.tsv"), "file not found")
    (beir / "qrels" / "test.tsv").unlink()
    code, _, err = _run(capsys, "eval", "ir", "-m", str(model_dir), "--data", str(beir))
    _assert_user_error(code, err, str(beir / "qrels" / "test.tsv"), "file not found")


def test_eval_binary_csv_and_jsonl_print_the_evaluators_metrics(model_dir, model, tmp_path, capsys):
    s1, s2, labels = (list(column) for column in zip(*PAIRS, strict=True))
    expected = BinaryClassificationEvaluator(s1, s2, labels)(model)
    assert expected.primary_metric == "cosine_ap"
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("".join(f"{a},{b},{y}\n" for a, b, y in PAIRS), encoding="utf-8")
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text("".join(json.dumps({"q": a, "d": b, "dup": y}) + "\n" for a, b, y in PAIRS), encoding="utf-8")
    for data, extra in ((csv_file, []), (jsonl, ["--columns", "q,d,dup"])):
        out_json = tmp_path / f"{data.stem}{data.suffix}.json"
        args = ["eval", "binary", "-m", str(model_dir), "--device", "cpu", "--data", str(data), *extra]
        code, out, err = _run(capsys, *args, "--json", str(out_json))
        assert code == 0, err
        _assert_matches(out, out_json, expected)
        cosine = next(line for line in out.splitlines() if line.startswith("cosine")).split()[1:]
        keys = ("accuracy", "f1", "precision", "recall", "ap")
        assert [float(v) for v in cosine] == pytest.approx([round(expected.metrics[f"cosine_{k}"], 4) for k in keys])
        assert all(any(line.startswith(fn) for line in out.splitlines()) for fn in ("dot", "euclidean", "manhattan"))
    assert 0 < expected.metrics["cosine_ap"] < 1  # not a trivially separable set


def test_eval_binary_label_other_than_0_or_1_names_file_and_line(model_dir, tmp_path, capsys):
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("sentence1,sentence2,label\na,b,1\nc,d,2\n", encoding="utf-8")
    code, _, err = _run(capsys, "eval", "binary", "-m", str(model_dir), "--data", str(csv_file))
    _assert_user_error(code, err, f"{csv_file}, line 3, field 'label'", "'2' is not 0 or 1")
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text('{"sentence1": "a", "sentence2": "b", "label": 0.5}\n', encoding="utf-8")
    code, _, err = _run(capsys, "eval", "binary", "-m", str(model_dir), "--data", str(jsonl))
    _assert_user_error(code, err, f"{jsonl}, line 1, field 'label'", "0.5 is not 0 or 1")
    csv_file.write_text("a,b,0\nc,d,0\n", encoding="utf-8")
    code, _, err = _run(capsys, "eval", "binary", "-m", str(model_dir), "--data", str(csv_file))
    _assert_user_error(code, err, str(csv_file), "no positive pair")


def test_eval_triplet_tsv_and_jsonl_print_the_evaluators_accuracy(model_dir, model, tmp_path, capsys):
    anchors, positives, negatives = (list(column) for column in zip(*TRIPLETS, strict=True))
    expected = TripletEvaluator(anchors, positives, negatives)(model)
    tsv = tmp_path / "triplets.tsv"  # columns in another order than anchor, positive, negative
    tsv.write_text("negative\tanchor\tpositive\n" + "".join(f"{n}\t{a}\t{p}\n" for a, p, n in TRIPLETS))
    jsonl = tmp_path / "triplets.jsonl"
    jsonl.write_text("".join(json.dumps({"q": a, "pos": p, "neg": n}) + "\n" for a, p, n in TRIPLETS))
    for data, extra in ((tsv, []), (jsonl, ["--columns", "q,pos,neg"])):
        out_json = tmp_path / f"{data.stem}{data.suffix}.json"
        args = ["eval", "triplet", "-m", str(model_dir), "--device", "cpu", "--data", str(data), *extra]
        code, out, err = _run(capsys, *args, "--json", str(out_json))
        assert code == 0, err
        _assert_matches(out, out_json, expected)
        rows = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()[2:6]}
        assert rows == pytest.approx({fn: expected.metrics[f"{fn}_accuracy"] for fn in rows}, abs=1e-4)
        assert set(rows) == {"cosine", "dot", "euclidean", "manhattan"}


def test_eval_triplet_bad_rows_name_file_and_line(model_dir, tmp_path, capsys):
    jsonl = tmp_path / "triplets.jsonl"
    jsonl.write_text('{"anchor": "a", "positive": "b", "negative": "c"}\n{"anchor": "a", "positive": "b"}\n')
    code, _, err = _run(capsys, "eval", "triplet", "-m", str(model_dir), "--data", str(jsonl))
    _assert_user_error(code, err, f"{jsonl}, line 2, field 'negative'", "missing field")
    csv_file = tmp_path / "triplets.csv"
    csv_file.write_text("anchor,positive,negative\na,b,c\nd,e\n")
    code, _, err = _run(capsys, "eval", "triplet", "-m", str(model_dir), "--data", str(csv_file))
    _assert_user_error(code, err, f"{csv_file}, line 3", "expected 3 fields, got 2")
    csv_file.write_text("anchor,positive\na,b\n")
    code, _, err = _run(capsys, "eval", "triplet", "-m", str(model_dir), "--data", str(csv_file))
    _assert_user_error(code, err, f"{csv_file}, line 1, field 'negative'", "missing column")


@pytest.mark.parametrize("task", ["ir", "binary", "triplet"])
def test_help(task, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", task, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sentvec eval {task}")
    assert "--data" in out and "--json" in out and "--model" in out

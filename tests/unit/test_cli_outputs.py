"""Issue 14, points 9 and 10 (the CLI part): input that is not UTF-8 names its file and line; a command never
replaces an output file unless told to (``--overwrite``), and finds an output it cannot write before it loads the
model; a failed run leaves an existing output as it was."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import sentvec
from sentvec.cli.main import main

TEXTS = ["the cat sleeps", "a dog runs fast", "she reads a good book", "birds sing at night", "the big red car"]


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def _one_line_error(code: int, err: str, *parts: str, loaded: bool = False) -> None:
    """Exit code 2 and one line on stderr (``loaded``: the last one; transformers may draw a progress bar of its
    own while the model loads)."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    if loaded:
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("sentvec: error: "), err
    for part in parts:
        assert part in lines[0], err


@pytest.fixture
def texts_file(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``sentvec.load`` refuses to run: a check that must come before the model loads fails the test otherwise."""
    loads: list[str] = []

    def refuse(name: object, **_: object) -> None:
        loads.append(str(name))
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(sentvec, "load", refuse)
    return loads


# --- invalid UTF-8 --------------------------------------------------------------------------------------------------

BAD_INPUTS: dict[str, tuple[bytes, list[str], int]] = {
    # suffix: content, the options that read it, the line of the bad byte
    ".txt": (b"the cat sleeps\nthe dog\xff runs\n", [], 2),
    ".csv": (b"id,body\n1,the cat\n2,caf\xe9\n", ["--column", "body"], 3),
    ".tsv": (b"the cat\n\xc3the dog\n", ["--column", "0"], 2),
    ".jsonl": (b'{"text": "the cat"}\n\n{"text": "the \xe9 dog"}\n', ["--field", "text"], 3),
}


@pytest.mark.parametrize("suffix", list(BAD_INPUTS))
def test_invalid_utf8_input_names_file_and_line(suffix, tmp_path, capsys, no_model):
    content, options, line = BAD_INPUTS[suffix]
    source = tmp_path / f"in{suffix}"
    source.write_bytes(content)
    out = tmp_path / "out.npy"
    code, _, err = _run(capsys, "encode", "-m", "m", "--input", source, *options, "--output", out)
    _one_line_error(code, err, f"{source}, line {line}: not valid UTF-8")
    assert not no_model and not out.exists()


def test_invalid_utf8_in_other_commands_inputs(model_dir, tmp_path, capsys, no_model):
    sts = tmp_path / "sts.csv"
    sts.write_bytes(b"the cat,a cat,4.0\nthe dog,\xffa dog,3.0\n")
    code, _, err = _run(capsys, "eval", "sts", "-m", model_dir, "--data", sts)
    _one_line_error(code, err, f"{sts}, line 2: not valid UTF-8", "ff")
    triplets = tmp_path / "triplets.tsv"
    triplets.write_bytes(b"anchor\tpositive\tnegative\na\tb\tc\na\tb\t\xe9\n")
    code, _, err = _run(capsys, "eval", "triplet", "-m", model_dir, "--data", triplets)
    _one_line_error(code, err, f"{triplets}, line 3: not valid UTF-8")
    texts = tmp_path / "cluster.txt"
    texts.write_bytes(("\n".join(TEXTS) + "\n").encode() + b"\xfe\n")
    code, _, err = _run(capsys, "cluster", "-m", model_dir, "--input", texts, "--output", tmp_path / "c.jsonl")
    _one_line_error(code, err, f"{texts}, line 6: not valid UTF-8")
    assert not no_model


def test_invalid_utf8_in_beir_files(model_dir, tmp_path, capsys):
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "the cat"}\n{"_id": "d2", "text": "\xff"}\n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "cat"}\n', encoding="utf-8")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    code, _, err = _run(capsys, "eval", "ir", "-m", model_dir, "--data", beir)
    _one_line_error(code, err, f"{beir / 'corpus.jsonl'}, line 2: not valid UTF-8")
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "text": "the cat"}\n', encoding="utf-8")
    (beir / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\td\xe91\t1\n")
    code, _, err = _run(capsys, "eval", "ir", "-m", model_dir, "--data", beir)
    _one_line_error(code, err, f"{beir / 'qrels' / 'test.tsv'}, line 2: not valid UTF-8")


def test_invalid_utf8_in_an_index_input_is_found_before_anything_is_built(tmp_path, capsys, no_model):
    pytest.importorskip("usearch")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(b'{"_id": "d1", "text": "the cat"}\n{"_id": "d2", "text": "the \xe9"}\n')
    code, _, err = _run(capsys, "index", "build", "-m", "m", "--input", corpus, "--out", tmp_path / "ix")
    _one_line_error(code, err, f"{corpus}, line 2: not valid UTF-8")
    assert not (tmp_path / "ix").exists() and not no_model


# --- encode: --overwrite, and the output checked first -------------------------------------------------------------


def test_encode_refuses_an_existing_output_before_loading_the_model(texts_file, tmp_path, capsys, no_model):
    for name in ("out.npy", "out.jsonl", "out.parquet"):
        out = tmp_path / name
        out.write_bytes(b"precious")
        code, _, err = _run(capsys, "encode", "-m", "m", "--input", texts_file, "--output", out)
        _one_line_error(code, err, f"{out}: already exists; pass --overwrite")
        assert out.read_bytes() == b"precious"
    assert not no_model


def test_encode_overwrite_replaces_the_output(model_dir, model, texts_file, tmp_path, capsys):
    out = tmp_path / "out.npy"
    out.write_bytes(b"old")
    code, _, err = _run(capsys, "encode", "-m", model_dir, "--input", texts_file, "--output", out, "--overwrite")
    assert code == 0, err
    np.testing.assert_allclose(np.load(out), model.encode(TEXTS), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial file left


@pytest.mark.parametrize(
    ("make_output", "expected"),
    [
        (lambda tmp: tmp / "folder.npy", "is a folder"),  # made a folder below
        (lambda tmp: tmp / "a-file" / "out.npy", "a-file is not a folder"),
        (lambda tmp: tmp / "a-file" / "deeper" / "out.npy", "a-file is not a folder"),
    ],
)
def test_encode_unwritable_output_is_found_before_the_model_loads(
    make_output: Callable[[Path], Path], expected, texts_file, tmp_path, capsys, no_model
):
    (tmp_path / "folder.npy").mkdir()
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    out = make_output(tmp_path)
    code, _, err = _run(capsys, "encode", "-m", "m", "--input", texts_file, "--output", out, "--overwrite")
    _one_line_error(code, err, expected)
    assert not no_model


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_encode_read_only_folder_is_found_before_the_model_loads(texts_file, tmp_path, capsys, no_model):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = _run(capsys, "encode", "-m", "m", "--input", texts_file, "--output", locked / "o.npy")
    finally:
        locked.chmod(0o755)
    _one_line_error(code, err, "permission denied")
    assert not no_model


def test_encode_missing_output_folders_are_still_created(model_dir, texts_file, tmp_path, capsys):
    out = tmp_path / "new" / "sub" / "out.jsonl"
    code, _, err = _run(capsys, "encode", "-m", model_dir, "--input", texts_file, "--output", out)
    assert code == 0, err
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(TEXTS)


def test_encode_refuses_to_write_over_its_input(texts_file, capsys, no_model):
    jsonl = texts_file.with_suffix(".jsonl")
    jsonl.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf-8")
    code, _, err = _run(
        capsys, "encode", "-m", "m", "--input", jsonl, "--field", "text", "--output", jsonl, "--overwrite"
    )
    _one_line_error(code, err, "is an input of the command")
    assert not no_model


def test_a_failed_encode_keeps_the_existing_output(model_dir, texts_file, tmp_path, capsys, monkeypatch):
    from sentvec.encoder import SentenceEncoder

    real = SentenceEncoder.encode_stream

    def fail_after_one_chunk(self, sentences, **kwargs):
        chunks = real(self, sentences, **kwargs)
        yield next(chunks)
        raise OSError("disk went away")

    monkeypatch.setattr(SentenceEncoder, "encode_stream", fail_after_one_chunk)
    for name in ("out.jsonl", "out.npy"):
        out = tmp_path / name
        out.write_bytes(b"old")
        args = ["encode", "-m", model_dir, "--input", texts_file, "--output", out, "--chunk-size", 2, "--overwrite"]
        code, _, err = _run(capsys, *args)
        _one_line_error(code, err, "disk went away", loaded=True)
        assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.npy", "texts.txt"]


def test_encode_ray_output_folder_is_checked(texts_file, tmp_path, capsys, no_model):
    pytest.importorskip("ray")
    full = tmp_path / "embeddings"
    full.mkdir()
    (full / "part-0.parquet").write_bytes(b"old")
    code, _, err = _run(capsys, "encode", "--engine", "ray", "-m", "m", "--input", texts_file, "--output", full)
    _one_line_error(code, err, f"{full}: the folder is not empty; pass --overwrite")
    code, _, err = _run(
        capsys, "encode", "--engine", "ray", "-m", "m", "--input", texts_file, "--output", texts_file, "--overwrite"
    )
    _one_line_error(code, err, "--output is a file; give a folder")
    assert (full / "part-0.parquet").read_bytes() == b"old" and not no_model


# --- the other commands that write files ----------------------------------------------------------------------------


def test_eval_json_is_not_replaced_without_overwrite(model_dir, tmp_path, capsys, no_model):
    sts = tmp_path / "sts.csv"
    sts.write_text("the cat,a cat,4.0\nthe dog,a dog,3.0\nred car,blue moon,0.5\n", encoding="utf-8")
    out = tmp_path / "result.json"
    out.write_text("{}", encoding="utf-8")
    code, _, err = _run(capsys, "eval", "sts", "-m", model_dir, "--data", sts, "--json", out)
    _one_line_error(code, err, f"{out}: already exists; pass --overwrite")
    code, _, err = _run(capsys, "eval", "sts", "-m", model_dir, "--data", sts, "--json", tmp_path)
    _one_line_error(code, err, "--json is a folder")
    assert out.read_text(encoding="utf-8") == "{}" and not no_model


def test_eval_json_overwrite(model_dir, model, tmp_path, capsys):
    from sentvec.evaluation import SimilarityEvaluator

    sts = tmp_path / "sts.csv"
    sts.write_text("the cat,a cat,4.0\nthe dog,a dog,3.0\nred car,blue moon,0.5\n", encoding="utf-8")
    out = tmp_path / "result.json"
    out.write_text("{}", encoding="utf-8")
    code, _, err = _run(capsys, "eval", "sts", "-m", model_dir, "--data", sts, "--json", out, "--overwrite")
    assert code == 0, err
    expected = SimilarityEvaluator.from_file(sts)(model)
    assert json.loads(out.read_text(encoding="utf-8"))["metrics"] == pytest.approx(dict(expected.metrics))


def test_index_eval_json_is_checked_before_the_model_loads(tmp_path, capsys, no_model):
    out = tmp_path / "r.json"
    out.write_text("{}", encoding="utf-8")
    args = ["index", "eval", tmp_path, "--queries", tmp_path / "q.jsonl", "--qrels", tmp_path / "q.tsv"]
    code, _, err = _run(capsys, *args, "--json", out)
    _one_line_error(code, err, f"{out}: already exists; pass --overwrite")
    code, _, err = _run(capsys, "eval", "ir", "--index", tmp_path, "--queries", "q", "--qrels", "r", "--json", out)
    _one_line_error(code, err, f"{out}: already exists; pass --overwrite")
    assert not no_model


@pytest.mark.parametrize("command", ["cluster", "mine-paraphrases"])
def test_uses_refuse_an_existing_output(command, texts_file, tmp_path, capsys, no_model):
    out = tmp_path / "o.jsonl"
    out.write_text("old\n", encoding="utf-8")
    code, _, err = _run(capsys, command, "-m", "m", "--input", texts_file, "--output", out)
    _one_line_error(code, err, f"{out}: already exists; pass --overwrite")
    assert out.read_text(encoding="utf-8") == "old\n" and not no_model


def test_cluster_plot_is_checked_and_replaced_whole(model_dir, texts_file, tmp_path, capsys, no_model, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out, plot = tmp_path / "c.jsonl", tmp_path / "c.png"
    plot.write_bytes(b"old")
    args = ["cluster", "-m", model_dir, "--input", texts_file, "--k", 2, "--output", out, "--plot", plot]
    code, _, err = _run(capsys, *args)
    _one_line_error(code, err, f"{plot}: already exists; pass --overwrite")
    assert not out.exists() and not no_model
    monkeypatch.undo()  # the real model from here on
    code, _, err = _run(capsys, *args, "--overwrite")
    assert code == 0, err
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "c.png", "texts.txt"]


def test_export_in_place_keeps_existing_graphs_unless_overwrite(make_model, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnx")
    folder = make_model()
    graph = folder / "onnx" / "model.onnx"
    graph.parent.mkdir()
    graph.write_bytes(b"a graph from the Hub")
    loads: list[object] = []
    real_load = sentvec.load
    monkeypatch.setattr(sentvec, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    code, _, err = _run(capsys, "export", folder)
    _one_line_error(code, err, f"{graph}: already exists; pass --overwrite", "--output DIR")
    assert graph.read_bytes() == b"a graph from the Hub" and not loads
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "notes.txt").write_text("mine", encoding="utf-8")
    code, _, err = _run(capsys, "export", folder, "--output", copy)
    _one_line_error(code, err, f"{copy}: the folder is not empty; pass --overwrite")
    assert not loads
    code, _, err = _run(capsys, "export", folder, "--overwrite")
    assert code == 0, err
    assert graph.read_bytes() != b"a graph from the Hub"

"""Issue 11, the CLI: ``--prompt-name`` and ``--quantized`` on ``encode``, ``index build|add|search`` and
``serve``; ``--quantized`` goes through the shared model loader (``sentvec.load(..., quantized=True)``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sentvec
from sentvec.cli.main import build_parser, main

TEXTS = ["the cat sleeps", "a dog runs fast", "she reads a good book", "birds sing at night", "the big red car"]
DOCS = [{"_id": f"d{i}", "text": text} for i, text in enumerate(TEXTS)]


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def _error_line(code: int, err: str) -> str:
    """The command's one-line error (after whatever transformers drew while the model loaded)."""
    assert code == 2, err
    assert "Traceback" not in err, err
    line = err.splitlines()[-1]
    assert line.startswith("sentvec: error: "), err
    return line


@pytest.fixture
def texts_file(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def quantized_dir(make_model, tmp_path_factory) -> Path:
    """The tiny model (with a query prompt) exported with an int8 graph: onnx/model.onnx and model_qint8.onnx."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from sentvec.export import export_onnx

    out = tmp_path_factory.mktemp("quantized") / "model"
    export_onnx(sentvec.load(str(make_model())), out, quantize="int8", calibration_texts=TEXTS)
    return out


@pytest.fixture
def load_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The keywords of each ``sentvec.load`` call (the real load still runs)."""
    calls: list[dict[str, object]] = []
    real = sentvec.load

    def spy(name: object, **kwargs: object) -> object:
        calls.append({"name": str(name), **kwargs})
        return real(name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sentvec, "load", spy)
    return calls


# --- encode ---------------------------------------------------------------------------------------------------------


def test_encode_prompt_name_is_the_models_prompt(model_dir, model, texts_file, tmp_path, capsys):
    out = tmp_path / "q.npy"
    code, _, err = _run(
        capsys, "encode", "-m", model_dir, "--input", texts_file, "--output", out, "--prompt-name", "query"
    )
    assert code == 0, err
    expected = model.encode(TEXTS, prompt_name="query")
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    assert np.abs(expected - model.encode(TEXTS)).max() > 1e-3  # the prompt does change the vectors


def test_encode_unknown_prompt_name_lists_the_prompts_and_writes_nothing(model_dir, texts_file, tmp_path, capsys):
    out = tmp_path / "o.npy"
    code, _, err = _run(
        capsys, "encode", "-m", model_dir, "--input", texts_file, "--output", out, "--prompt-name", "doc"
    )
    line = _error_line(code, err)
    assert "--prompt-name 'doc' is not a prompt of the model" in line and "its prompts are query" in line
    assert not out.exists()


def test_encode_quantized_runs_the_int8_graph(quantized_dir, texts_file, tmp_path, capsys, load_calls):
    out = tmp_path / "q.npy"
    code, _, err = _run(capsys, "encode", "-m", quantized_dir, "--input", texts_file, "--output", out, "--quantized")
    assert code == 0, err
    assert load_calls[-1]["quantized"] is True
    int8 = sentvec.load(str(quantized_dir), quantized=True)
    assert int8.info().backend.graph.endswith("model_qint8.onnx")
    np.testing.assert_allclose(np.load(out), int8.encode(TEXTS), atol=1e-6)
    fp32 = sentvec.load(str(quantized_dir), backend="onnx").encode(TEXTS)
    assert np.abs(np.load(out) - fp32).max() > 0  # not the float graph


def test_encode_quantized_with_a_prompt(quantized_dir, texts_file, tmp_path, capsys):
    out = tmp_path / "qp.npy"
    args = ["encode", "-m", quantized_dir, "--input", texts_file, "--output", out, "--quantized"]
    code, _, err = _run(capsys, *args, "--prompt-name", "query")
    assert code == 0, err
    expected = sentvec.load(str(quantized_dir), quantized=True).encode(TEXTS, prompt_name="query")
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_quantized_errors_are_one_line(model_dir, texts_file, tmp_path, capsys):
    out = tmp_path / "o.npy"
    args = ["encode", "-m", model_dir, "--input", texts_file, "--output", out, "--quantized"]
    code, _, err = _run(capsys, *args, "--backend", "torch")
    assert "--quantized runs an int8 ONNX graph" in _error_line(code, err)
    code, _, err = _run(capsys, *args)  # the folder has no int8 graph
    line = _error_line(code, err)
    assert "model_qint8.onnx" in line and "sentvec export" in line
    assert not out.exists()


def test_encode_ray_takes_quantized_but_not_a_prompt(texts_file, tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray")
    import sentvec.distributed.ray as ray_module

    seen: dict[str, object] = {}
    monkeypatch.setattr(ray_module, "encode_dataset", lambda *a, **k: seen.update(k) or 1 / 0)
    args = ["encode", "--engine", "ray", "-m", "m", "--input", texts_file, "--output", tmp_path / "out"]
    code, _, err = _run(capsys, *args, "--prompt-name", "query")
    assert "--prompt-name is not supported with --engine ray" in _error_line(code, err) and not seen
    with pytest.raises(ZeroDivisionError):
        main([str(a) for a in args] + ["--quantized"])
    assert seen["quantized"] is True


# --- index ----------------------------------------------------------------------------------------------------------


def test_index_search_prompt_name_encodes_the_query_with_it(model_dir, model, corpus, tmp_path, capsys):
    pytest.importorskip("usearch")
    from sentvec.search.index import Index

    folder = tmp_path / "ix"
    code, _, err = _run(capsys, "index", "build", "-m", model_dir, "--input", corpus, "--out", folder)
    assert code == 0, err
    base = ["index", "search", folder, "the cat", "--json", "--exact", "-k", "5"]
    code, out, err = _run(capsys, *base)
    assert code == 0, err
    default_hits = json.loads(out)
    code, out, err = _run(capsys, *base, "--prompt-name", "query")
    assert code == 0, err
    assert json.loads(out) == default_hits  # the index's query prompt is already "query"
    with Index.open(folder, model, read_only=True) as index:
        plain = index.search(model.encode("the cat"), k=5, exact=True)  # no prompt at all
    assert [h["score"] for h in default_hits] != pytest.approx([h.score for h in plain])
    code, _, err = _run(capsys, *base, "--prompt-name", "passage")
    line = _error_line(code, err)
    assert "'passage' is not a prompt of the model" in line and "query" in line


def test_index_search_prompt_name_other_than_the_index_query_prompt(make_model, corpus, tmp_path, capsys):
    pytest.importorskip("usearch")
    from sentvec.search.index import Index

    folder_model = make_model(prompts={"query": "query: ", "short": "hello: "})
    loaded = sentvec.load(str(folder_model))
    folder = tmp_path / "ix"
    assert _run(capsys, "index", "build", "-m", folder_model, "--input", corpus, "--out", folder)[0] == 0
    code, out, err = _run(capsys, "index", "search", folder, "the cat", "--json", "--exact", "--prompt-name", "short")
    assert code == 0, err
    with Index.open(folder, loaded, read_only=True) as index:
        expected = index.search(loaded.encode("the cat", prompt_name="short"), k=10, exact=True)
    assert [(h["id"], h["score"]) for h in json.loads(out)] == [(h.id, pytest.approx(h.score)) for h in expected]


def test_index_build_and_add_check_the_document_prompt(make_model, corpus, tmp_path, capsys):
    pytest.importorskip("usearch")
    folder_model = make_model(prompts={"query": "query: ", "document": "passage: "})
    folder = tmp_path / "ix"
    args = ["index", "build", "-m", folder_model, "--input", corpus, "--out", folder]
    code, _, err = _run(capsys, *args, "--prompt-name", "query")
    line = _error_line(code, err)
    assert "--prompt-name 'query': the index encodes its documents with the model's 'document' prompt" in line
    assert not folder.exists()  # refused before the index was created
    code, _, err = _run(capsys, *args, "--prompt-name", "document")
    assert code == 0, err
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"_id": "x", "text": "the moon"}) + "\n", encoding="utf-8")
    code, _, err = _run(capsys, "index", "add", folder, "--input", more, "--prompt-name", "query")
    assert "the model's 'document' prompt" in _error_line(code, err)
    code, out, err = _run(capsys, "index", "add", folder, "--input", more, "--prompt-name", "document")
    assert code == 0 and "indexed 1 documents" in out, err


def test_index_quantized_build_add_search(quantized_dir, corpus, tmp_path, capsys, load_calls):
    pytest.importorskip("usearch")
    from sentvec.search.index import Index

    folder = tmp_path / "ix"
    code, _, err = _run(
        capsys, "index", "build", "-m", quantized_dir, "--input", corpus, "--out", folder, "--quantized"
    )
    assert code == 0, err
    assert load_calls[-1]["quantized"] is True
    int8 = sentvec.load(str(quantized_dir), quantized=True)
    with Index.open(folder, int8, read_only=True) as index:
        stored = index.search(int8.encode_document(TEXTS[0]), k=1, exact=True)
    assert stored[0].id == "d0" and stored[0].score == pytest.approx(1.0, abs=1e-5)  # int8 vectors stored
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"_id": "x", "text": "the moon"}) + "\n", encoding="utf-8")
    code, _, err = _run(capsys, "index", "add", folder, "--input", more, "--quantized")
    assert code == 0, err
    assert load_calls[-1]["quantized"] is True and load_calls[-1]["name"] == str(quantized_dir.resolve())
    code, out, err = _run(capsys, "index", "search", folder, "the cat", "--json", "--exact", "--quantized")
    assert code == 0, err
    assert load_calls[-1]["quantized"] is True
    with Index.open(folder, int8, read_only=True) as index:
        expected = index.search(int8.encode_query("the cat"), k=10, exact=True)
    assert [h["id"] for h in json.loads(out)] == [h.id for h in expected]


# --- serve ----------------------------------------------------------------------------------------------------------


def test_serve_options_reach_the_model_loader(quantized_dir, load_calls):
    pytest.importorskip("fastapi")
    from sentvec.cli.serve import build_app

    args = build_parser().parse_args(["serve", "--model", str(quantized_dir), "--quantized", "--prompt-name", "query"])
    assert args.quantized is True and args.prompt_name == "query"
    build_app(args)
    assert load_calls[-1]["quantized"] is True and load_calls[-1]["default_prompt_name"] == "query"
    defaults = build_parser().parse_args(["serve", "--model", str(quantized_dir)])
    build_app(defaults)
    assert load_calls[-1]["quantized"] is False and load_calls[-1]["default_prompt_name"] is None
    bad = build_parser().parse_args(["serve", "--model", str(quantized_dir), "--prompt-name", "nope"])
    with pytest.raises(ValueError, match="nope"):
        build_app(bad)


def test_help_lists_the_options():
    parser = build_parser()
    for argv in (["encode"], ["index", "build"], ["index", "add"], ["index", "search"], ["serve"]):
        sub = parser
        for name in argv:
            action = next(a for a in sub._actions if a.dest in ("command", "index_command"))
            sub = action.choices[name]  # type: ignore[index]
        text = sub.format_help()
        assert "--prompt-name" in text and "--quantized" in text, argv

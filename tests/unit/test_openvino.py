"""The OpenVINO backend runs the same graphs as the ONNX backend: float32 within 1e-5 of torch (sentvec's export and
a Hub-style transformer-only graph), bfloat16 close to it, thread-safe, and its limits are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from _concurrency import assert_same_vectors_from_8_threads

import sentvec
from sentvec.errors import ModelFormatError
from sentvec.export import export_onnx
from sentvec.export.onnx import default_calibration_texts

pytest.importorskip("onnx")
pytest.importorskip("openvino")

TEXTS = ["hello world", "", "a much longer text " * 20, "the cat sat on the mat", "x"]


@pytest.fixture(scope="module")
def exported(make_model, tmp_path_factory):
    """A tiny Transformer → Pooling → Dense → Normalize model exported with an int8 variant."""
    model = sentvec.load(str(make_model(dense=True)))
    out = tmp_path_factory.mktemp("exported-ov")
    export_onnx(model, out, quantize="int8", calibration_texts=default_calibration_texts(64, max_words=40))
    return model, out


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_float32_matches_torch_including_truncation_and_post_processing(exported):
    model, out = exported
    ov_model = sentvec.load(str(out), backend="openvino")
    info = ov_model.info().backend
    assert info.kind.value == "openvino" and info.dtype == "float32" and info.graph.endswith("model.onnx")
    assert ov_model.dimension == model.dimension == 16
    want, want_info = model.encode(TEXTS, return_info=True)
    got, got_info = ov_model.encode(TEXTS, return_info=True)
    assert np.abs(want - got).max() <= 1e-5
    assert got_info.truncated.tolist() == want_info.truncated.tolist() and got_info.n_truncated == 1
    for bs in (1, 3):  # dynamic batch and sequence axes
        assert np.abs(ov_model.encode(TEXTS, batch_size=bs) - want).max() <= 1e-5
    for kwargs in ({"truncate_dim": 8, "normalize_embeddings": True}, {"prompt": "query: "}):
        np.testing.assert_allclose(ov_model.encode(TEXTS, **kwargs), model.encode(TEXTS, **kwargs), atol=1e-5)


def test_bfloat16_stays_close_and_int8_graph_runs(exported):
    model, out = exported
    want = model.encode(TEXTS[:1] + TEXTS[2:])  # the empty text has no tokens to compare in lower precision
    bf16 = sentvec.load(str(out), backend="openvino", dtype="bfloat16")
    assert bf16.info().backend.dtype == "bfloat16"
    assert _cosines(bf16.encode(TEXTS[:1] + TEXTS[2:]), want).min() > 0.99
    int8 = sentvec.load(str(out), backend="openvino", quantized=True)
    assert int8.info().backend.graph.endswith("model_qint8.onnx")
    assert _cosines(int8.encode(TEXTS[:1] + TEXTS[2:]), want).min() > 0.9


def test_transformer_only_graph_with_numpy_head(make_model):
    """A Hub-style graph (the bare transformer) runs under OpenVINO with the folder's pooling in numpy."""
    from _hub_graph import export_transformer_only

    folder = make_model(pooling=("cls",))
    export_transformer_only(folder)
    torch_model = sentvec.load(str(folder), backend="torch", device="cpu")
    ov_model = sentvec.load(str(folder), backend="openvino")
    assert ov_model.info().backend.pooling == "numpy"
    np.testing.assert_allclose(ov_model.encode(TEXTS), torch_model.encode(TEXTS), atol=1e-5)


def test_one_model_shared_by_8_threads(exported):
    _, out = exported
    ov_model = sentvec.load(str(out), backend="openvino", threads=1)
    assert_same_vectors_from_8_threads(ov_model)


def test_limits_are_clear_errors(exported, tmp_path):
    _, out = exported
    with pytest.raises(ValueError, match="runs on the CPU"):
        sentvec.load(str(out), backend="openvino", device="cuda")
    with pytest.raises(ValueError, match=r"dtype 'float16'.*valid: float32, bfloat16"):
        sentvec.load(str(out), backend="openvino", dtype="float16")
    with pytest.raises(ValueError, match="dtype 'bfloat16' needs backend='torch' or 'openvino'"):
        sentvec.load(str(out), backend="onnx", dtype="bfloat16")
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(out, broken)
    (broken / "onnx" / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelFormatError, match=r"model\.onnx.*OpenVINO cannot compile this graph"):
        sentvec.load(str(broken), backend="openvino")


def test_cli_encode_with_openvino_bfloat16(exported, tmp_path):
    from sentvec.cli.main import main

    _, out = exported
    texts = tmp_path / "texts.txt"
    texts.write_text("hello world\nthe cat sat on the mat\n", encoding="utf-8")
    npy = tmp_path / "vectors.npy"
    argv = ["encode", "--model", str(out), "--input", str(texts), "--output", str(npy), "--backend", "openvino"]
    assert main([*argv, "--dtype", "bfloat16"]) == 0
    want = sentvec.load(str(out), backend="openvino", dtype="bfloat16").encode(
        ["hello world", "the cat sat on the mat"]
    )
    np.testing.assert_allclose(np.load(npy), want, atol=1e-6)


# --- OpenVINO IR: sentvec's export converted from torch, and the reference's own IR folders ---------------------


@pytest.fixture(scope="module")
def exported_ir(make_model, tmp_path_factory):
    """A tiny Transformer → Pooling (prompt left out: a pooling-mask input) → Dense → Normalize model with both an
    ONNX graph and an OpenVINO IR converted from torch."""
    from sentvec.export import export_openvino

    model = sentvec.load(str(make_model(dense=True, include_prompt=False)))
    out = tmp_path_factory.mktemp("exported-ir")
    export_onnx(model, out, calibration_texts=default_calibration_texts(32, max_words=40))
    report = export_openvino(model, out, calibration_texts=default_calibration_texts(64, max_words=40))
    return model, out, report


def test_ir_export_is_checked_and_preferred_by_the_openvino_backend(exported_ir):
    model, out, report = exported_ir
    assert (out / "openvino" / "openvino_model.xml").is_file() and (out / "openvino" / "openvino_model.bin").is_file()
    assert report.checks[0].file == "openvino/openvino_model.xml" and report.checks[0].max_abs_diff <= 1e-5
    ov_model = sentvec.load(str(out), backend="openvino")
    info = ov_model.info().backend
    assert info.graph.endswith("openvino_model.xml") and info.pooling == "graph"  # the IR, not the ONNX graph
    for kwargs in ({}, {"prompt": "query: "}, {"truncate_dim": 8, "normalize_embeddings": True}, {"batch_size": 1}):
        np.testing.assert_allclose(ov_model.encode(TEXTS, **kwargs), model.encode(TEXTS, **kwargs), atol=1e-5)
    # the ONNX backend still reads onnx/model.onnx; an .xml named for it is a clear error
    assert sentvec.load(str(out), backend="onnx").info().backend.graph.endswith("model.onnx")
    with pytest.raises(ValueError, match="is an OpenVINO model: load it with backend='openvino'"):
        sentvec.load(str(out), backend="onnx", file_name="openvino/openvino_model.xml")
    bf16 = sentvec.load(str(out), backend="openvino", dtype="bfloat16")
    assert _cosines(bf16.encode(TEXTS[2:]), model.encode(TEXTS[2:])).min() > 0.99


def test_reference_style_ir_folder_loads_with_numpy_head(make_model):
    """What the reference's backend="openvino" writes: the bare transformer as openvino/openvino_model.xml (token
    output only), an int8 variant named openvino_model_qint8_quantized.xml, and no ONNX graph."""
    import openvino as ov
    from _hub_graph import export_transformer_only

    folder = make_model(pooling=("mean",))
    onnx_path = export_transformer_only(folder)
    (folder / "openvino").mkdir()
    ov.save_model(ov.convert_model(str(onnx_path)), str(folder / "openvino" / "openvino_model.xml"), False)
    ov.save_model(ov.convert_model(str(onnx_path)), str(folder / "openvino" / "openvino_model_qint8_quantized.xml"))
    onnx_path.unlink()
    torch_model = sentvec.load(str(folder), backend="torch", device="cpu")
    ov_model = sentvec.load(str(folder), backend="openvino")
    assert ov_model.info().backend.pooling == "numpy"
    np.testing.assert_allclose(ov_model.encode(TEXTS), torch_model.encode(TEXTS), atol=1e-5)
    for kwargs in ({"quantized": True}, {"file_name": "openvino_model_qint8_quantized.xml"}):
        picked = sentvec.load(str(folder), backend="openvino", **kwargs)
        assert picked.info().backend.graph.endswith("openvino_model_qint8_quantized.xml")
        np.testing.assert_allclose(picked.encode(TEXTS), torch_model.encode(TEXTS), atol=1e-2)  # fp16 weights
    with pytest.raises(ModelFormatError, match=r"no OpenVINO or ONNX model named 'nope\.xml'"):
        sentvec.load(str(folder), backend="openvino", file_name="nope.xml")


def test_cli_export_openvino(make_model, tmp_path, capsys):
    from sentvec.cli.main import main

    folder = make_model()
    out = tmp_path / "out"
    assert main(["export", str(folder), "--format", "openvino", "--output", str(out)]) == 0
    assert "openvino/openvino_model.xml: max abs diff" in capsys.readouterr().out
    want = sentvec.load(str(folder), backend="torch").encode(TEXTS)
    np.testing.assert_allclose(sentvec.load(str(out), backend="openvino").encode(TEXTS), want, atol=1e-5)
    assert main(["export", str(folder), "--format", "openvino", "--quantize", "int8"]) == 2
    assert "--quantize applies to --format onnx" in capsys.readouterr().err
    assert main(["export", str(out), "--format", "openvino"]) == 2  # in place over an IR: only with --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(out), "--format", "openvino", "--overwrite"]) == 0


def test_fast_path_flags_reach_eval_and_index(exported_ir, tmp_path):
    """--backend/--dtype (and --quantized) are on every command that embeds: eval and index build use OpenVINO."""
    import json

    from sentvec.cli.main import main
    from sentvec.evaluation import SimilarityEvaluator
    from sentvec.search.index import Index

    _, out, _ = exported_ir
    sts = tmp_path / "sts.csv"
    rows = [("a cat sat", "the cat sat on the mat", 4.5), ("hello world", "x", 0.5), ("dogs run", "a dog runs", 4.0)]
    sts.write_text("".join(f"{a},{b},{s}\n" for a, b, s in rows), encoding="utf-8")
    report = tmp_path / "sts.json"
    argv = ["eval", "sts", "-m", str(out), "--data", str(sts), "--backend", "openvino", "--dtype", "bfloat16"]
    assert main([*argv, "--json", str(report)]) == 0
    bf16 = sentvec.load(str(out), backend="openvino", dtype="bfloat16")
    want = SimilarityEvaluator.from_file(sts)(bf16).primary_value
    assert json.loads(report.read_text())["primary_value"] == pytest.approx(want)
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(TEXTS[2:]) + "\n", encoding="utf-8")
    folder = tmp_path / "index"
    argv = ["index", "build", "-m", str(out), "--input", str(corpus), "--out", str(folder), "--backend", "openvino"]
    assert main(argv) == 0
    ov_model = sentvec.load(str(out), backend="openvino")
    with Index.open(folder, ov_model, read_only=True) as index:
        hits = index.search("the cat", k=3, exact=True)
    query = ov_model.encode_query(["the cat"])  # the index searches with the query prompt
    for hit in hits:  # the stored vectors are the OpenVINO model's
        assert hit.score == pytest.approx(
            float(ov_model.similarity(query, ov_model.encode([hit.text]))[0, 0]), abs=1e-5
        )


def test_lone_batch_runs_on_the_latency_compiled_model(exported_ir):
    """Many batches go through the throughput streams; a single batch (one query) through a model compiled for
    latency, made on first use — with the same vectors."""
    model, out, _ = exported_ir
    ov_model = sentvec.load(str(out), backend="openvino", threads=2)
    backend = ov_model.backend
    many = ov_model.encode(TEXTS, batch_size=1)
    assert backend._latency is None  # streams only
    one = ov_model.encode(TEXTS[:2], batch_size=8)
    assert (backend._latency is not None) == (backend._streams > 1)
    np.testing.assert_allclose(one, many[:2], atol=1e-5)
    np.testing.assert_allclose(many, model.encode(TEXTS), atol=1e-5)


def test_compiled_models_are_cached_between_loads(exported_ir, tmp_path, monkeypatch):
    _, out, _ = exported_ir
    monkeypatch.setenv("SENTVEC_OPENVINO_CACHE", str(tmp_path / "cache"))
    first = sentvec.load(str(out), backend="openvino", dtype="bfloat16")
    assert not first.backend.compiled.get_property("LOADED_FROM_CACHE")  # compiled, and written to the cache
    cached = sorted((tmp_path / "cache").iterdir())
    assert cached
    again = sentvec.load(str(out), backend="openvino", dtype="bfloat16")
    assert again.backend.compiled.get_property("LOADED_FROM_CACHE")  # read, not compiled anew
    np.testing.assert_allclose(again.encode(TEXTS), first.encode(TEXTS), atol=1e-6)
    monkeypatch.setenv("SENTVEC_OPENVINO_CACHE", "0")
    off = sentvec.load(str(out), backend="openvino", dtype="bfloat16")
    assert not off.backend.compiled.get_property("LOADED_FROM_CACHE")
    assert sorted((tmp_path / "cache").iterdir()) == cached  # off: nothing read or written

"""ONNX export of the whole pipeline and the torch-free ONNX backend, on tiny in-test models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _concurrency import assert_same_vectors_from_8_threads

import sentvec
from sentvec.cli.main import main
from sentvec.export import ExportError, export_onnx
from sentvec.export import onnx as export_module
from sentvec.export.onnx import default_calibration_texts

pytest.importorskip("onnx")

TEXTS = ["hello world", "", "a much longer text " * 20, "the cat sat on the mat", "x"]


@pytest.fixture(scope="module")
def exported(make_model, tmp_path_factory):
    """A tiny Transformer → Pooling → Dense → Normalize model exported with an int8 variant."""
    model = sentvec.load(str(make_model(dense=True)))
    out = tmp_path_factory.mktemp("exported")
    report = export_onnx(model, out, quantize="int8", calibration_texts=default_calibration_texts(64, max_words=40))
    return model, out, report


def test_export_writes_graphs_and_report(exported):
    _, out, report = exported
    assert (out / "onnx" / "model.onnx").is_file()
    assert (out / "onnx" / "model_qint8.onnx").is_file()
    stored = json.loads((out / "onnx" / "export_report.json").read_text())
    assert stored == json.loads(json.dumps(report.to_dict()))
    fp32, int8 = report.checks
    assert fp32.file == "onnx/model.onnx" and fp32.max_abs_diff <= 1e-4
    assert fp32.mean_cosine > 0.99999
    assert int8.file == "onnx/model_qint8.onnx" and 0.9 < int8.mean_cosine <= 1.0 + 1e-6


def test_onnx_backend_matches_torch_including_truncation_and_dense(exported):
    model, out, _ = exported
    onnx_model = sentvec.load(str(out), backend="onnx")
    assert onnx_model.info().backend.kind.value == "onnx"
    assert onnx_model.dimension == model.dimension == 16
    want, want_info = model.encode(TEXTS, return_info=True)
    got, got_info = onnx_model.encode(TEXTS, return_info=True)
    assert np.abs(want - got).max() <= 1e-5
    assert got_info.truncated.tolist() == want_info.truncated.tolist() and got_info.n_truncated == 1
    # the graph's dynamic axes: batch size and sequence length vary freely
    for bs in (1, 3):
        assert np.abs(onnx_model.encode(TEXTS, batch_size=bs) - want).max() <= 1e-5


def test_onnx_post_processing_is_shared(exported):
    model, out, _ = exported
    onnx_model = sentvec.load(str(out), backend="onnx")
    for kwargs in ({"truncate_dim": 8, "normalize_embeddings": True}, {"precision": "binary"}, {"prompt": "query: "}):
        np.testing.assert_allclose(onnx_model.encode(TEXTS, **kwargs), model.encode(TEXTS, **kwargs), atol=1e-5)
    tokens = onnx_model.encode(TEXTS[:2], output_value="token_embeddings")
    ref = model.encode(TEXTS[:2], output_value="token_embeddings")
    assert [t.shape for t in tokens] == [r.shape for r in ref]
    assert max(np.abs(t - r).max() for t, r in zip(tokens, ref, strict=True)) <= 1e-5


def test_quantized_loads_int8_graph_and_stays_close(exported):
    model, out, _ = exported
    q = sentvec.load(str(out), quantized=True)
    assert q.info().backend.graph.endswith("model_qint8.onnx")
    a, b = model.encode(TEXTS), q.encode(TEXTS)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() > 0.9


def test_session_is_safe_to_share_between_8_threads(exported):
    _, out, _ = exported
    onnx_model = sentvec.load(str(out), backend="onnx", threads=1)
    assert_same_vectors_from_8_threads(onnx_model)


def test_requested_cuda_provider_is_a_loud_error(exported):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ValueError, match="CUDAExecutionProvider"):
        sentvec.load(str(exported[1]), backend="onnx", device="cuda")


def test_missing_graph_is_named(model_dir):
    with pytest.raises(sentvec.errors.ModelFormatError, match=r"model\.onnx"):
        sentvec.load(str(model_dir), backend="onnx")


def test_export_error_when_the_graph_disagrees(make_model, tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "FP32_TOLERANCE", -1.0)  # any difference, even 0, is too much
    model = sentvec.load(str(make_model()))
    with pytest.raises(ExportError, match="differs from torch"):
        export_onnx(model, tmp_path / "m", calibration_texts=["a b c"])


def test_cli_export_in_place_and_prompt_free_pooling(make_model, capsys):
    folder = make_model(include_prompt=False, prompts={"query": "query: "})
    assert main(["export", str(folder), "--format", "onnx"]) == 0
    assert "onnx/model.onnx: max abs diff" in capsys.readouterr().out
    torch_model, onnx_model = sentvec.load(str(folder), backend="torch"), sentvec.load(str(folder), backend="onnx")
    np.testing.assert_allclose(
        onnx_model.encode(TEXTS, prompt_name="query"), torch_model.encode(TEXTS, prompt_name="query"), atol=1e-5
    )
    assert np.abs(onnx_model.encode(TEXTS, prompt_name="query") - onnx_model.encode(TEXTS)).max() > 1e-3


def test_default_calibration_texts_vary_in_length():
    texts = default_calibration_texts()
    lengths = [len(t.split()) for t in texts]
    assert len(texts) == 512 and min(lengths) == 1 and max(lengths) > 300
    assert texts == default_calibration_texts()  # deterministic

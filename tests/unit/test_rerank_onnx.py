"""A reranker exported to one ONNX graph (token ids → logits) and run torch-free: fp32 equals torch within 1e-5 for
every architecture, int8 stays close, the export checks itself, and the graph runs without torch or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_rerank import ARCHITECTURES, DOCS, PAIRS, QUERY, build_reranker

from sentvec.errors import ModelFormatError
from sentvec.export import ExportError, export_reranker_onnx
from sentvec.export import rerank_onnx as export_module
from sentvec.export.rerank_onnx import default_calibration_pairs
from sentvec.rerank import load_reranker

pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

LONG_PAIRS = [*PAIRS, ("the cat " * 20, "dog runs " * 12), ("dog", "a big red moon " * 9)]
CALIBRATION = default_calibration_pairs(24, max_words=30)


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def exported(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"onnx-{request.param}")
    model = load_reranker(build_reranker(root / "src", request.param), device="cpu")
    report = export_reranker_onnx(model, root / "out", calibration_pairs=CALIBRATION)
    return request.param, model, root / "out", report


@pytest.fixture(scope="module")
def exported_int8(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx-int8")
    model = load_reranker(build_reranker(root / "src", "bert", num_labels=3, layout="hf"), device="cpu")
    report = export_reranker_onnx(model, root / "out", quantize="int8", calibration_pairs=CALIBRATION)
    return model, root / "out", report


def test_fp32_graph_matches_torch(exported):
    arch, model, out, report = exported
    (check,) = report.checks
    assert check.file == "onnx/model.onnx" and check.max_abs_diff <= 1e-5 and check.spearman > 99.9
    assert json.loads((out / "onnx" / "export_report.json").read_text()) == json.loads(json.dumps(report.to_dict()))
    onnx_model = load_reranker(out, backend="onnx")
    info = onnx_model.info()
    assert (info.backend.kind.value, info.architecture, info.activation) == ("onnx", arch, "sigmoid")
    assert info.backend.graph.endswith("onnx/model.onnx")
    want, want_info = model.predict(LONG_PAIRS, activation_fn="identity", return_info=True)
    got, got_info = onnx_model.predict(LONG_PAIRS, activation_fn="identity", return_info=True)
    assert np.abs(want - got).max() <= 1e-5, arch
    assert got_info.truncated.tolist() == want_info.truncated.tolist() and got_info.n_truncated == 2
    for bs in (1, 3):  # dynamic batch and sequence axes
        assert np.abs(onnx_model.predict(LONG_PAIRS, batch_size=bs) - model.predict(LONG_PAIRS)).max() <= 1e-5
    assert [h.corpus_id for h in onnx_model.rank(QUERY, DOCS)] == [h.corpus_id for h in model.rank(QUERY, DOCS)]


def test_int8_graph_is_close_and_loads_with_quantized(exported_int8):
    model, out, report = exported_int8
    _, int8 = report.checks
    assert int8.file == "onnx/model_qint8.onnx" and int8.spearman > 90
    q = load_reranker(out, quantized=True)
    assert q.info().backend.graph.endswith("model_qint8.onnx") and q.num_labels == 3
    want, got = model.predict(LONG_PAIRS), q.predict(LONG_PAIRS)
    assert got.shape == want.shape == (len(LONG_PAIRS), 3)
    assert np.abs(want - got).max() < 0.1 * np.ptp(want)  # within a tenth of the logits' range
    assert (want.argmax(1) == got.argmax(1)).mean() >= 0.8
    np.testing.assert_allclose(q.predict(LONG_PAIRS, apply_softmax=True).sum(1), 1.0, atol=1e-5)
    named = load_reranker(out, file_name="model_qint8.onnx")
    np.testing.assert_array_equal(named.predict(LONG_PAIRS), got)


def test_export_refuses_a_graph_beyond_tolerance(tmp_path, monkeypatch):
    model = load_reranker(build_reranker(tmp_path / "src"), device="cpu")
    monkeypatch.setattr(export_module, "FP32_TOLERANCE", -1.0)
    with pytest.raises(ExportError, match="logits differ from torch by"):
        export_reranker_onnx(model, tmp_path / "out", calibration_pairs=CALIBRATION[:4])


def test_export_needs_torch_and_names_an_untraceable_architecture(exported, tmp_path, monkeypatch):
    arch, model, out, _ = exported
    with pytest.raises(ValueError, match="torch-backed"):
        export_reranker_onnx(load_reranker(out, backend="onnx"))

    def refuse(*args, **kwargs):
        raise RuntimeError("unsupported operator aten::something")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.raises(ExportError, match=rf"cannot export the '{arch}' reranker architecture.*aten::something"):
        export_reranker_onnx(model, tmp_path / "x", calibration_pairs=CALIBRATION[:2])


def test_missing_or_wrong_graphs_are_named(tmp_path, model_dir):
    folder = build_reranker(tmp_path / "plain")
    with pytest.raises(ModelFormatError, match=r"onnx/model\.onnx.*export_reranker_onnx"):
        load_reranker(folder, backend="onnx")
    import sentvec
    from sentvec.export import export_onnx

    encoder_out = tmp_path / "encoder"
    export_onnx(sentvec.load(model_dir), encoder_out, calibration_texts=["a", "b c"])
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes((encoder_out / "onnx" / "model.onnx").read_bytes())
    with pytest.raises(ModelFormatError, match="no 'logits': not a reranker graph"):
        load_reranker(folder, backend="onnx")


BLOCKED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from sentvec.rerank import load_reranker
    model = load_reranker(sys.argv[1], backend="onnx")
    pairs = [tuple(p) for p in json.loads(sys.argv[2])]
    np.save(sys.argv[3], model.predict(pairs))
    hits = model.rank(pairs[0][0], [d for _, d in pairs], top_k=3)
    heavy = [m for m in ("torch", "transformers") if m in sys.modules]
    print(json.dumps({"heavy": heavy, "top": [h.corpus_id for h in hits]}))
    """
)


def test_onnx_reranker_runs_without_torch_or_transformers(tmp_path):
    """torch and transformers replaced by modules that fail on import: the ONNX path must never need them."""
    model = load_reranker(build_reranker(tmp_path / "src", "bert"), device="cpu")
    out = tmp_path / "out"
    export_reranker_onnx(model, out, calibration_pairs=CALIBRATION[:4])
    for name in ("torch", "transformers"):
        (tmp_path / "blocked" / name).mkdir(parents=True)
        (tmp_path / "blocked" / name / "__init__.py").write_text(f"raise ImportError('{name} is blocked')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "blocked"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(out), json.dumps(LONG_PAIRS), str(tmp_path / "scores.npy")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["heavy"] == []
    assert np.abs(np.load(tmp_path / "scores.npy") - model.predict(LONG_PAIRS)).max() <= 1e-5
    assert facts["top"] == [h.corpus_id for h in model.rank(LONG_PAIRS[0][0], [d for _, d in LONG_PAIRS], top_k=3)]

"""The reference's own ONNX exports of all-MiniLM-L6-v2 (``backend="onnx"`` save, O1-O4, dynamic int8 for each
instruction set) run in sentvec's torch-free install: transformer-only graphs, pooling and normalization in numpy.

The graphs are made by the reference in a side venv (see ``_venvs.py``: sentence-transformers 6.2 cannot export ONNX
today), which also encodes the same texts through each graph, so every graph is compared with the reference running
that very graph, and the exact ones with the reference's torch model too.
"""

from __future__ import annotations

import csv
import json
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _venvs import reference_onnx_python, torch_free_python

pytestmark = [pytest.mark.real_model, pytest.mark.reference, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
EXACT = ("model.onnx", "model_O1.onnx", "model_O2.onnx")  # fp32 graphs without approximations
FUSED = ("model_O3.onnx", "model_O4.onnx")  # fused kernels with approximate GELU (O3), fp16 (O4)

SENTVEC_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    import sentvec
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    texts = json.loads((out / "texts.json").read_text())
    sts = json.loads((out / "sts.json").read_text())
    facts = {}
    for name in json.loads((folder / "made.json").read_text())["files"]:
        model = sentvec.load(str(folder), file_name=name)
        np.save(out / f"sentvec_{name}.npy", model.encode(texts, batch_size=32))
        facts[name] = model.info().backend.pooling
    fast = sentvec.load(str(folder), quantized=True)
    facts["quantized_graph"] = Path(fast.info().backend.graph).name
    np.save(out / "sentvec_sts1.npy", fast.encode(sts[0], batch_size=64))
    np.save(out / "sentvec_sts2.npy", fast.encode(sts[1], batch_size=64))
    facts["heavy"] = [m for m in ("torch", "transformers") if m in sys.modules]
    print(json.dumps(facts))
    """
)


@pytest.fixture(scope="module")
def texts(stsb_test_sentences: list[str], long_texts: list[str]) -> list[str]:
    return stsb_test_sentences[:300] + long_texts[:50]


@pytest.fixture(scope="module")
def reference_graphs(model_folder: Path, texts: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("reference-onnx")
    (work / "texts.json").write_text(json.dumps(texts))
    folder = work / "model"
    done = subprocess.run(
        [
            str(reference_onnx_python()),
            str(HERE / "_reference_onnx_export.py"),
            str(model_folder),
            str(folder),
            str(work / "texts.json"),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def sentvec_run(reference_graphs: Path, texts: list[str], stsb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sentvec-onnx")
    with open(stsb_dir / "stsb-en-test.csv", newline="", encoding="utf-8") as f:
        rows = [(r[0], r[1], float(r[2])) for r in csv.reader(f)]
    (out / "texts.json").write_text(json.dumps(texts))
    (out / "sts.json").write_text(json.dumps([[r[0] for r in rows], [r[1] for r in rows]]))
    done = subprocess.run(
        [str(torch_free_python()), "-c", SENTVEC_SCRIPT, str(reference_graphs), str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    return out, facts, np.array([r[2] for r in rows])


def _reference(folder: Path, name: str) -> np.ndarray | None:
    path = folder / f"reference_{name}.npy"
    return np.load(path) if path.is_file() else None


def test_every_graph_runs_torch_free_with_numpy_pooling(reference_graphs: Path, sentvec_run) -> None:
    _, facts, _ = sentvec_run
    files = json.loads((reference_graphs / "made.json").read_text())["files"]
    assert {"model.onnx", "model_O1.onnx", "model_O2.onnx", "model_O3.onnx"} <= set(files)
    assert facts["heavy"] == []
    for name in files:
        assert facts[name] == "numpy", name


def test_exact_graphs_match_the_reference_torch_model(
    reference_graphs: Path, sentvec_run, reference_model, texts: list[str]
) -> None:
    out, _, _ = sentvec_run
    torch_ref = reference_model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    for name in EXACT:
        ours = np.load(out / f"sentvec_{name}.npy")
        assert np.abs(ours - torch_ref).max() <= 1e-5, name
        theirs = _reference(reference_graphs, name)
        assert theirs is not None and np.abs(ours - theirs).max() <= 1e-5, name


def test_fused_graphs_match_the_reference_running_them(reference_graphs: Path, sentvec_run) -> None:
    out, _, _ = sentvec_run
    compared = 0
    for name in FUSED:
        theirs = _reference(reference_graphs, name)
        if theirs is None:  # the reference itself cannot run it on this CPU
            continue
        ours = np.load(out / f"sentvec_{name}.npy")
        assert np.abs(ours - theirs).max() <= 1e-4, name
        compared += 1
    assert compared >= 1


def test_int8_for_this_cpu_keeps_sts_quality(reference_graphs: Path, sentvec_run) -> None:
    from scipy.stats import spearmanr

    out, facts, gold = sentvec_run
    assert facts["quantized_graph"].startswith(("model_qint8_", "model_quint8_"))
    a, b = np.load(out / "sentvec_sts1.npy"), np.load(out / "sentvec_sts2.npy")
    spearman = 100 * spearmanr((a * b).sum(axis=1), gold).statistic
    assert spearman >= 81.5, spearman
    # dynamic int8 quantizes activations per batch, so vectors depend on batch composition: compare by cosine
    ours = np.load(out / f"sentvec_{facts['quantized_graph']}.npy")
    fp32 = np.load(out / "sentvec_model.onnx.npy")
    cosine = (ours * fp32).sum(axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(fp32, axis=1)
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.95, (cosine.mean(), cosine.min())

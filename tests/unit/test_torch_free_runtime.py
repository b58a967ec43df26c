"""The ONNX runtime needs only sentvec's core dependencies: a fresh virtual environment without torch and
transformers installs sentvec core and encodes with an exported model (``backend="auto"`` picks ONNX there)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sentvec
from sentvec.export import export_onnx
from sentvec.export.onnx import default_calibration_texts

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["hello world", "the cat sat on the mat", "", "a longer text " * 30]

SCRIPT = textwrap.dedent(
    """
    import sys, json
    import numpy as np
    import sentvec
    model = sentvec.load(sys.argv[1])
    emb = model.encode(json.loads(sys.argv[2]))
    np.save(sys.argv[3], emb)
    heavy = [m for m in ("torch", "transformers") if m in sys.modules]
    print(json.dumps({"backend": model.info().backend.kind.value, "heavy": heavy}))
    """
)


@pytest.mark.slow
def test_encode_in_a_venv_without_torch(make_model, tmp_path):
    model = sentvec.load(str(make_model(dense=True)))
    folder = tmp_path / "model"
    export_onnx(model, folder, calibration_texts=default_calibration_texts(16, max_words=20))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    has_torch = subprocess.run([str(py), "-c", "import torch"], capture_output=True)
    assert has_torch.returncode != 0, "the core install must not bring torch"
    out = tmp_path / "emb.npy"
    import json

    run = subprocess.run(
        [str(py), "-c", SCRIPT, str(folder), json.dumps(TEXTS), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    facts = json.loads(run.stdout.strip().splitlines()[-1])
    assert facts == {"backend": "onnx", "heavy": []}
    assert np.abs(np.load(out) - model.encode(TEXTS)).max() <= 1e-5

"""Side virtual environments the integration tests build once and cache under ``benchmarks/.cache/`` (gitignored):

- ``reference-onnx``: the reference library with its ONNX exporter. sentence-transformers 6.2 cannot be installed
  with optimum-onnx (it needs transformers >= 5; every optimum-onnx release needs < 4.58), so the reference's own
  ONNX exports are made with sentence-transformers 5.7 + transformers 4.57 + optimum-onnx.
- ``torch-free``: sentvec's core install only (no torch, no transformers), to prove graphs run without them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "benchmarks" / ".cache"
REFERENCE_ONNX_REQUIREMENTS = (
    "sentence-transformers==5.7.*",
    "transformers==4.57.*",
    "optimum-onnx[onnxruntime]==0.1.*",
)


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def _venv(name: str) -> tuple[Path, bool]:
    """The venv's python and whether it was just created."""
    folder = CACHE / name
    python = folder / "bin" / "python"
    if python.is_file():
        return python, False
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return python, True


def reference_onnx_python() -> Path:
    """Python of the reference-with-exporter venv (built on first use: torch 2.13.0 CPU first, pinned)."""
    python, fresh = _venv("reference-onnx")
    stamp = python.parent.parent / ".installed"
    if fresh or not stamp.is_file():
        _pip(python, "torch==2.13.0")
        _pip(python, *REFERENCE_ONNX_REQUIREMENTS)
        stamp.write_text("\n".join(REFERENCE_ONNX_REQUIREMENTS) + "\n")
    return python


def torch_free_python() -> Path:
    """Python of a venv with sentvec's core dependencies only; sentvec itself is reinstalled from this checkout."""
    python, fresh = _venv("torch-free")
    stamp = python.parent.parent / ".installed"
    if fresh or not stamp.is_file():
        _pip(python, str(REPO))  # the core dependencies, once
        stamp.write_text("core\n")
    _pip(python, "--no-deps", "--force-reinstall", str(REPO))  # this checkout's code
    check = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    if check.returncode == 0:
        raise RuntimeError(f"{python}: the torch-free venv has torch")
    return python

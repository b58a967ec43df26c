"""Side virtual environments for ``benchmarks/encode_peers.py``, built once and cached under
``benchmarks/.cache/peers/`` (gitignored). Each holds one peer system of sentvec:

- ``reference-onnx``: sentence-transformers 5.7 + transformers 4.57 + optimum-onnx (the reference's ONNX exporter;
  sentence-transformers 6.2 cannot be installed with optimum-onnx). Reuses ``benchmarks/.cache/reference-onnx`` when
  the integration tests (``tests/integration/_venvs.py``) already built it with the same requirements.
- ``reference-openvino``: sentence-transformers 5.7 + transformers 4.57 + optimum-intel[openvino].
- ``fastembed``: fastembed alone (onnxruntime, no torch).

torch is installed first and pinned (2.13.0 CPU) wherever it is needed: an unpinned torch pulls a multi-GB CUDA
build. A venv is stamped with its requirements once installed; a failed build is stamped with the reason, so that
later runs report "not available" at once instead of retrying (delete the ``.failed`` file to retry).

    .venv/bin/python benchmarks/peers_env.py [NAME ...]     # build (or check) the venvs, print their pythons
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
PEERS = CACHE / "peers"
TORCH = "torch==2.13.0"
MAIN = "main"  # the repo's own .venv (sentvec + sentence-transformers 6.2)


@dataclasses.dataclass(frozen=True)
class VenvSpec:
    """What to pip-install into a side venv, in order (each tuple is one pip call)."""

    name: str
    steps: tuple[tuple[str, ...], ...]
    reuse: Path | None = None  # an equivalent venv built elsewhere, used when its stamp matches

    @property
    def stamp_text(self) -> str:
        return "\n".join(" ".join(step) for step in self.steps) + "\n"


REFERENCE_ONNX_REQUIREMENTS = (
    "sentence-transformers==5.7.*",
    "transformers==4.57.*",
    "optimum-onnx[onnxruntime]==0.1.*",
)
REFERENCE_OPENVINO_REQUIREMENTS = (
    "sentence-transformers==5.7.*",
    "transformers==4.57.*",
    "optimum-intel[openvino]==1.27.*",
    "datasets==5.0.*",  # the calibration set of the static int8 export (a local CSV)
)
FASTEMBED_REQUIREMENTS = ("fastembed==0.9.1",)

SPECS: dict[str, VenvSpec] = {
    "reference-onnx": VenvSpec(
        "reference-onnx", ((TORCH,), REFERENCE_ONNX_REQUIREMENTS), reuse=CACHE / "reference-onnx"
    ),
    "reference-openvino": VenvSpec("reference-openvino", ((TORCH,), REFERENCE_OPENVINO_REQUIREMENTS)),
    "fastembed": VenvSpec("fastembed", (FASTEMBED_REQUIREMENTS,)),
}


class VenvUnavailable(RuntimeError):
    """The venv could not be built; the message is the one-line reason."""


def _pip(python: Path, args: tuple[str, ...]) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "ERROR" in line or "conflict" in line.lower()]
        reason = " / ".join((errors or lines)[-3:])[-600:]
        raise VenvUnavailable(f"pip install {' '.join(args)} failed: {reason}")


def _reusable(spec: VenvSpec) -> Path | None:
    """The python of an equivalent venv built by the integration tests, if its stamp matches."""
    if spec.reuse is None:
        return None
    stamp = spec.reuse / ".installed"
    python = spec.reuse / "bin" / "python"
    wanted = set(REFERENCE_ONNX_REQUIREMENTS) if spec.name == "reference-onnx" else set()
    if python.is_file() and stamp.is_file() and wanted and set(stamp.read_text().split()) >= wanted:
        return python
    return None


def build(name: str, log: bool = True) -> Path:
    """The python of side venv ``name`` (``MAIN``: this interpreter), built on first use.

    Raises ``VenvUnavailable`` with the reason when pip cannot install it (now or on an earlier run)."""
    if name == MAIN:
        return Path(sys.executable)
    spec = SPECS[name]
    reused = _reusable(spec)
    if reused is not None:
        return reused
    folder = PEERS / name
    python, stamp, failed = folder / "bin" / "python", folder / ".installed", folder / ".failed"
    if stamp.is_file() and stamp.read_text() == spec.stamp_text and python.is_file():
        return python
    if failed.is_file() and failed.read_text().split("\n", 1)[-1] == spec.stamp_text:
        raise VenvUnavailable(failed.read_text().split("\n", 1)[0])
    if log:
        print(f"building venv {folder} (once; several minutes) ...", flush=True)
    if not python.is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        _pip(python, ("--upgrade", "pip"))
    try:
        for step in spec.steps:
            _pip(python, step)
    except VenvUnavailable as e:
        failed.write_text(f"{e}\n{spec.stamp_text}")
        raise
    failed.unlink(missing_ok=True)
    stamp.write_text(spec.stamp_text)
    return python


def installed_versions(python: Path, packages: tuple[str, ...]) -> dict[str, str]:
    """Versions of ``packages`` in the venv of ``python`` ("-" when missing)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for p in sys.argv[1:]:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: out[p] = '-'\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return dict.fromkeys(packages, "?")
    import json

    versions: dict[str, str] = json.loads(done.stdout)
    return versions


def main(argv: list[str]) -> int:
    status = 0
    for name in argv or list(SPECS):
        try:
            print(f"{name}: {build(name)}")
        except VenvUnavailable as e:
            print(f"{name}: not available: {e}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

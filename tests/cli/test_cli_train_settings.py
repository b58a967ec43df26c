"""``sentvec train``'s settings: a YAML config with flags on top, read into one typed dataclass (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentvec.cli.main import build_parser
from sentvec.cli.train import TrainSettings


def _settings(*argv):
    return TrainSettings.from_args(build_parser().parse_args(["train", *argv]))


def test_flags_over_the_config_with_typed_values(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        "model: m\ndata: d.csv\nloss: CoSENTLoss\noutput: out\ncolumns: [a, b, score]\nscore_range: 0,5\n"
        "lr: 2e-5\nepochs: 3\nbf16: true\n",
        encoding="utf-8",
    )
    settings = _settings("--config", str(config), "--epochs", "2", "--output", str(tmp_path / "o"))
    assert settings.model == "m" and settings.data == Path("d.csv") and settings.output == tmp_path / "o"
    assert settings.columns == ("a", "b", "score") and settings.score_range == (0.0, 5.0)
    assert settings.lr == 2e-5 and settings.epochs == 2 and settings.bf16 is True and settings.seed is None
    args = settings.training_args()
    assert args.output_dir == str(tmp_path / "o") and args.epochs == 2 and args.learning_rate == 2e-5
    assert args.bf16 and args.batch_size == 32  # not given: TrainingArgs' default


def test_flags_alone():
    settings = _settings("-m", "m", "--data", "d.csv", "--loss", "L", "--output", "o", "--columns", "a,b")
    assert settings.columns == ("a", "b") and settings.score_range is None and settings.bf16 is None
    assert settings.training_args().learning_rate == 2e-5


def test_errors_name_the_option(tmp_path):
    with pytest.raises(ValueError, match="missing --loss"):
        _settings("-m", "m", "--data", "d.csv", "--output", "o")
    config = tmp_path / "c.yaml"
    config.write_text("model: m\nnope: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['nope'\]"):
        _settings("--config", str(config))
    config.write_text("model: m\ndata: d\nloss: L\noutput: o\nepochs: many\n", encoding="utf-8")
    with pytest.raises(ValueError, match="option epochs: expected an integer, got 'many'"):
        _settings("--config", str(config))
    with pytest.raises(ValueError, match="score_range: expected min,max"):
        _settings("-m", "m", "--data", "d", "--loss", "L", "--output", "o", "--score-range", "0,1,2")

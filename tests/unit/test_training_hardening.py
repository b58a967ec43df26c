"""Training hardening (issue 14): a checkpoint cannot run code on resume, an unreadable checkpoint is a one-line
error naming the file (exit 2 through the CLI), and empty data or an epoch without a step stops training at once
instead of looping and writing checkpoints."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

import sentvec
from sentvec.cli.main import main
from sentvec.errors import DataFormatError
from sentvec.training.args import TrainingArgs
from sentvec.training.checkpoint import LEGACY_STATE, STATE_JSON, STATE_TENSORS, CheckpointError, load_state
from sentvec.training.data import load_data
from sentvec.training.losses import MultipleNegativesRankingLoss
from sentvec.training.trainer import LAST_DIR, Trainer, TrainingError

WORDS = ["cat", "dog", "bird", "fish", "house", "car", "tree", "river"]
PAIRS = [(f"the {w} runs", f"a {w} is fast") for w in WORDS]


class _Payload:
    """Unpickling this calls ``os.mkdir(marker)``: the stand-in for arbitrary code in a crafted checkpoint."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (self.marker,)


def _write_crafted_pickle(path: Path, marker: Path) -> None:
    torch.save({"position": _Payload(str(marker)), "optimizer": {}}, path)


def _args(out: Path, **kw: object) -> TrainingArgs:
    base: dict[str, object] = {"batch_size": 4, "learning_rate": 1e-3, "seed": 3, "show_progress_bar": False}
    return TrainingArgs(output_dir=str(out), **{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def checkpoint(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint written by a 2-step run (checkpoints/last at step 2)."""
    out = tmp_path_factory.mktemp("ckpt") / "run"
    model = sentvec.load(str(model_dir))
    data = load_data(PAIRS, columns=[0, 1])
    Trainer(model, MultipleNegativesRankingLoss(model), data, _args(out, max_steps=2, save_steps=1)).train()
    return out / LAST_DIR


def _copy(folder: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(folder, dest)
    return dest


def _trainer(model_dir: Path, out: Path, **kw: object) -> Trainer:
    model = sentvec.load(str(model_dir))
    data = load_data(PAIRS, columns=[0, 1])
    return Trainer(model, MultipleNegativesRankingLoss(model), data, _args(out, **kw))


def test_the_checkpoint_state_is_json_and_safetensors_only(checkpoint: Path) -> None:
    assert (checkpoint / STATE_JSON).is_file() and (checkpoint / STATE_TENSORS).is_file()
    assert not (checkpoint / LEGACY_STATE).exists()
    document = json.loads((checkpoint / STATE_JSON).read_text())
    assert document["format"] == "sentvec-trainer-state" and document["state"]["position"]["step"] == 2
    state = load_state(checkpoint)
    assert isinstance(state["rng"], list) and len(state["rng"]) == 1


def test_the_payload_used_here_runs_when_unpickled(tmp_path: Path) -> None:
    """The control: loading the crafted file the way the old trainer did (``weights_only=False``) runs it."""
    marker = tmp_path / "ran"
    _write_crafted_pickle(tmp_path / LEGACY_STATE, marker)
    torch.load(tmp_path / LEGACY_STATE, map_location="cpu", weights_only=False)
    assert marker.exists()


def test_a_crafted_pickle_beside_the_state_is_never_unpickled(
    checkpoint: Path, model_dir: Path, tmp_path: Path
) -> None:
    folder = _copy(checkpoint, tmp_path / "shared")
    marker = tmp_path / "payload-ran"
    _write_crafted_pickle(folder / LEGACY_STATE, marker)
    result = _trainer(model_dir, tmp_path / "resumed", max_steps=3).train(resume_from=folder)
    assert result.steps == 3  # resumed at step 2 from the JSON + safetensors state
    assert not marker.exists(), "the crafted pickle ran"


def test_an_old_pickled_checkpoint_is_refused_without_unpickling(
    checkpoint: Path, model_dir: Path, tmp_path: Path
) -> None:
    folder = _copy(checkpoint, tmp_path / "old")
    (folder / STATE_JSON).unlink()
    (folder / STATE_TENSORS).unlink()
    marker = tmp_path / "payload-ran"
    _write_crafted_pickle(folder / LEGACY_STATE, marker)
    with pytest.raises(CheckpointError, match="pickled format") as err:
        _trainer(model_dir, tmp_path / "resumed", max_steps=3).train(resume_from=folder)
    assert str(folder / LEGACY_STATE) in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists(), "the crafted pickle ran"


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_json(folder: Path, old: str, new: str) -> None:
    path = folder / STATE_JSON
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize(
    ("damage", "culprit"),
    [
        (lambda f: _truncate(f / STATE_TENSORS), STATE_TENSORS),
        (lambda f: _truncate(f / STATE_JSON), STATE_JSON),
        (lambda f: (f / STATE_JSON).write_bytes(b"\x80\x04not json"), STATE_JSON),
        (lambda f: (f / STATE_TENSORS).write_text("{}"), STATE_TENSORS),
        (lambda f: _edit_json(f, '"state": {', '"state": 7, "x": {'), STATE_JSON),
        (lambda f: _edit_json(f, '"t0"', '"t999"'), STATE_JSON),  # a tensor the safetensors file lacks
        (lambda f: _edit_json(f, '"step": 2', '"step": -2'), STATE_JSON),
        (lambda f: _edit_json(f, '"losses": {"train"', '"losses": {"other"'), STATE_JSON),
        (lambda f: _edit_json(f, '"sentvec-trainer-state"', '"something-else"'), STATE_JSON),
        (lambda f: (f / STATE_TENSORS).unlink(), STATE_TENSORS),
        (lambda f: (f / STATE_JSON).unlink(), ""),
    ],
)
def test_an_unreadable_checkpoint_is_a_one_line_error_naming_the_file(
    checkpoint: Path, model_dir: Path, tmp_path: Path, damage: object, culprit: str
) -> None:
    folder = _copy(checkpoint, tmp_path / "bad")
    damage(folder)  # type: ignore[operator]
    trainer = _trainer(model_dir, tmp_path / "resumed", max_steps=3)
    with pytest.raises(CheckpointError) as err:
        trainer.train(resume_from=folder)
    message = str(err.value)
    assert str(folder / culprit).rstrip("/") in message and "\n" not in message
    assert not (tmp_path / "resumed" / LAST_DIR).exists()


def _pairs_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("anchor,positive\n" + "".join(f"{a},{p}\n" for a, p in rows), encoding="utf-8")
    return path


def _cli_train(model_dir: Path, data: Path, out: Path, *extra: str) -> list[str]:
    argv = ["train", "--model", str(model_dir), "--data", str(data), "--loss", "MultipleNegativesRankingLoss"]
    return [*argv, "--output", str(out), "--batch-size", "4", "--lr", "1e-3", *extra]


def test_cli_resume_from_a_truncated_checkpoint_exits_2_with_one_line(
    checkpoint: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(checkpoint, tmp_path / "bad")
    _truncate(folder / STATE_TENSORS)
    data = _pairs_csv(tmp_path / "train.csv", PAIRS)
    argv = _cli_train(model_dir, data, tmp_path / "out", "--max-steps", "3", "--resume-from", str(folder))
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("sentvec: error:")]
    assert len(errors) == 1 and str(folder / STATE_TENSORS) in errors[0]
    assert "Traceback" not in err


def test_cli_resume_from_an_old_pickled_checkpoint_exits_2_without_running_it(
    checkpoint: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(checkpoint, tmp_path / "old")
    (folder / STATE_JSON).unlink()
    marker = tmp_path / "payload-ran"
    _write_crafted_pickle(folder / LEGACY_STATE, marker)
    data = _pairs_csv(tmp_path / "train.csv", PAIRS)
    assert main(_cli_train(model_dir, data, tmp_path / "out", "--max-steps", "3", "--resume-from", str(folder))) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sentvec: error:")]
    assert len(errors) == 1 and str(folder / LEGACY_STATE) in errors[0]
    assert not marker.exists()


@pytest.fixture
def no_endless_checkpoints(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fails a run that keeps writing checkpoints without training (the old endless loop) instead of hanging."""
    saves: list[int] = []
    original = Trainer._save_checkpoint

    def guarded(self: Trainer) -> None:
        saves.append(self.position.step)
        if len(saves) > 3 and self.position.step == 0:
            raise AssertionError(f"{len(saves)} checkpoints written without a single step")
        original(self)

    monkeypatch.setattr(Trainer, "_save_checkpoint", guarded)
    return saves


def test_an_empty_dataset_is_refused_up_front(
    model_dir: Path, tmp_path: Path, no_endless_checkpoints: list[int]
) -> None:
    path = _pairs_csv(tmp_path / "empty.csv", [])  # a header and no rows
    model = sentvec.load(str(model_dir))
    with pytest.raises(DataFormatError, match="no rows") as err:
        trainer = Trainer(
            model,
            MultipleNegativesRankingLoss(model),
            load_data(path, columns=["anchor", "positive"]),
            _args(tmp_path / "out", max_steps=5),
        )
        trainer.train()
    assert str(path) in str(err.value) and "'train'" in str(err.value)
    assert no_endless_checkpoints == [] and not (tmp_path / "out" / "checkpoints").exists()


def test_cli_on_a_header_only_file_exits_2_naming_it(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_endless_checkpoints: list[int]
) -> None:
    path = _pairs_csv(tmp_path / "empty.csv", [])
    assert main(_cli_train(model_dir, path, tmp_path / "out", "--max-steps", "5")) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sentvec: error:")]
    assert len(errors) == 1 and str(path) in errors[0] and "no rows" in errors[0]
    assert no_endless_checkpoints == [] and not (tmp_path / "out").exists()


def test_an_epoch_without_a_step_stops_training_before_any_checkpoint(
    model_dir: Path, tmp_path: Path, no_endless_checkpoints: list[int]
) -> None:
    """3 rows in batches of 4 make one batch per epoch; accumulating 2 batches per step, no step ever comes."""
    out = tmp_path / "out"
    model = sentvec.load(str(model_dir))
    data = load_data(PAIRS[:3], columns=[0, 1])
    trainer = Trainer(
        model,
        MultipleNegativesRankingLoss(model),
        data,
        _args(out, max_steps=5, gradient_accumulation_steps=2),
    )
    with pytest.raises(TrainingError, match=r"epoch 1 gave no training step.*1 batch\(es\) from 3 row\(s\)"):
        trainer.train()
    assert no_endless_checkpoints == []
    assert not (out / "checkpoints").exists() and not (out / "model.safetensors").exists()


def test_a_resumed_run_that_skips_a_whole_epoch_is_not_an_empty_epoch(model_dir: Path, tmp_path: Path) -> None:
    """A checkpoint written right at the end of an epoch resumes by skipping all of that epoch's batches."""
    out = tmp_path / "run"
    _trainer(model_dir, out, epochs=2, save_steps=2).train()  # 8 pairs / 4: 2 steps per epoch, saved at 2 and 4
    resumed = _trainer(model_dir, tmp_path / "again", epochs=3, save_steps=2)
    folder = _copy(out / LAST_DIR, tmp_path / "at-end")
    state = json.loads((folder / STATE_JSON).read_text())
    state["state"]["position"].update(epoch=1, batches_in_epoch=2, step=4)  # as if saved before the epoch closed
    (folder / STATE_JSON).write_text(json.dumps(state))
    assert resumed.train(resume_from=folder).steps == 6


def test_the_state_encoding_round_trips_what_trainers_hold(tmp_path: Path) -> None:
    import random

    import numpy as np

    from sentvec.training.checkpoint import save_state

    state = {
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2, 3)}}, "betas": (0.9, 0.999)},
        "rng": [{"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}],
        "odd": {"__tensor__": "not a tag", "nan": float("nan"), "inf": float("-inf"), "np": np.float64(0.5)},
    }
    save_state(state, tmp_path)
    json.loads((tmp_path / STATE_JSON).read_text())  # strict JSON (no NaN literals)
    assert "NaN" not in (tmp_path / STATE_JSON).read_text()
    back = load_state(tmp_path)
    opt = back["optimizer"]
    assert isinstance(opt, dict) and opt["betas"] == (0.9, 0.999)
    assert torch.equal(opt["state"][0]["exp_avg"], torch.ones(2, 3)) and float(opt["state"][0]["step"]) == 3.0
    rng = back["rng"][0]  # type: ignore[index]
    assert torch.equal(rng["torch"], state["rng"][0]["torch"]) and rng["python"] == random.getstate()
    numpy_state = rng["numpy"]
    assert numpy_state[0] == "MT19937" and numpy_state[1].dtype == np.uint32
    assert np.array_equal(numpy_state[1], np.random.get_state()[1])
    odd = back["odd"]
    assert odd["__tensor__"] == "not a tag" and math.isnan(odd["nan"]) and odd["inf"] == float("-inf")
    assert odd["np"] == 0.5
    with pytest.raises(TypeError, match=r"state\.bad: cannot checkpoint a object"):
        save_state({"bad": object()}, tmp_path)

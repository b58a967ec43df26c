"""Data-parallel training under torchrun: 2 CPU processes (gloo) match 1 process on the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import WORDS

pytest.importorskip("torch")

STEPS = 3


def _no_dropout_model(make_model: Callable[..., Path]) -> Path:
    """Dropout draws different masks in 1 and 2 processes; without it the runs must agree to float rounding."""
    folder = make_model()
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _write_data(path: Path, n: int, scored: bool) -> Path:
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            a = " ".join(rng.choice(WORDS, size=4 + i % 5))
            b = " ".join(rng.choice(WORDS, size=3 + i % 4))
            row = {"sentence1": a, "sentence2": b}
            if scored:
                row["score"] = float(rng.uniform(0, 1))
            f.write(json.dumps(row) + "\n")
    return path


def _run(procs: int, args: list[str], expect_failure: bool = False) -> None:
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] if procs > 1 else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, *launcher, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert (done.returncode != 0) == expect_failure, done.stderr[-3000:]


def _train(model: Path, data: Path, loss: str, out: Path, procs: int, batch_size: int) -> None:
    flags = [
        "-m",
        "sentvec",
        "train",
        "--model",
        str(model),
        "--data",
        str(data),
        "--loss",
        loss,
        "--output",
        str(out),
        "--max-steps",
        str(STEPS),
        "--batch-size",
        str(batch_size),
        "--lr",
        "1e-3",
        "--warmup-ratio",
        "0",
        "--seed",
        "3",
        "--logging-steps",
        "1",
    ]
    _run(procs, flags)


def _losses(out: Path) -> list[float]:
    records = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if "loss" in r]


def _weights(out: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(out / "model.safetensors"))


def test_torchrun_training_equals_one_process(make_model: Callable[..., Path], tmp_path: Path) -> None:
    """End to end through ``torchrun -m sentvec train``: same logged losses and same weights after 3 steps.

    (AdamW's steps barely change when all gradients are scaled by a constant, so the weights alone would not
    catch a wrongly scaled gradient: the next test compares gradients.)"""
    model = _no_dropout_model(make_model)
    loss = "MultipleNegativesRankingLoss"
    data = _write_data(tmp_path / "train.jsonl", 40, scored=False)
    _train(model, data, loss, tmp_path / "one", procs=1, batch_size=8)
    _train(model, data, loss, tmp_path / "two", procs=2, batch_size=4)

    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one) == len(two) == STEPS
    np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
    assert one[0] != one[-1]  # the weights moved, so later losses check the averaged gradients too

    w1, w2 = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    start = _weights_of(model)
    assert w1.keys() == w2.keys()
    moved = max(float(np.abs(w1[k] - start[k]).max()) for k in w1 if k in start)
    assert moved > 1e-4
    for key in w1:
        np.testing.assert_allclose(w2[key], w1[key], atol=1e-5, rtol=0, err_msg=key)
    # only rank 0 wrote the log: one record per step, not two
    records = [json.loads(line) for line in (tmp_path / "two" / "trainer_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))


def _weights_of(model: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {k.removeprefix("bert."): v for k, v in load_file(str(model / "model.safetensors")).items()}


def test_gathered_losses_and_averaged_gradients_equal_one_process(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    """In-batch-negative losses (plain, GradCache, the seed's margin loss) and a scored-pair loss: 2 ranks with
    7 and 6 texts (uneven shards, as at the end of an epoch) give the loss value and the parameter gradients of
    1 process with all 13."""
    model = _no_dropout_model(make_model)
    worker = str(Path(__file__).with_name("_ddp_worker.py"))
    _run(1, [worker, str(model), str(tmp_path / "one.npz")])
    _run(2, [worker, str(model), str(tmp_path / "two.npz")])
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert sorted(one.files) == sorted(two.files)
    names = {key.split("/")[0] for key in one.files}
    assert len(names) == 4
    for name in names:
        grads = [k for k in one.files if k.startswith(name + "/") and not k.endswith("/loss")]
        assert len(grads) > 10, name
        assert max(float(np.abs(one[k]).max()) for k in grads) > 1e-3, name  # gradients that could disagree
        np.testing.assert_allclose(two[f"{name}/loss"], one[f"{name}/loss"], atol=1e-6, rtol=0, err_msg=name)
        for key in grads:
            np.testing.assert_allclose(two[key], one[key], atol=1e-5, rtol=1e-4, err_msg=key)


def test_shard_keeps_the_global_order_and_balances_sizes() -> None:
    from sentvec.distributed.ddp import Ranks, shard

    for n in (0, 1, 5, 8, 13):
        for world in (1, 2, 3, 4):
            parts = [shard(list(range(n)), Ranks(rank, world)) for rank in range(world)]
            assert [x for part in parts for x in part] == list(range(n))
            sizes = [len(p) for p in parts]
            assert max(sizes) - min(sizes) <= 1
            assert sizes == sorted(sizes, reverse=True)


def test_interrupted_and_resumed_two_rank_run_ends_with_the_same_weights(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    """With dropout on, each rank draws its own masks: the checkpoint keeps every rank's RNG state, so 2 ranks that
    die after the checkpoint at step 6 and resume from it end where an uninterrupted run does (with rank 0's
    state restored on both ranks, rank 1's masks would change and so would the weights)."""
    model = make_model()  # dropout on
    data = _write_data(tmp_path / "train.jsonl", 40, scored=False)  # global batch 8: 5 steps per epoch, 2 epochs
    worker = str(Path(__file__).with_name("_ddp_resume_worker.py"))
    _run(2, [worker, str(model), str(data), str(tmp_path / "full"), "full"])
    _run(2, [worker, str(model), str(data), str(tmp_path / "cut"), "cut"], expect_failure=True)
    from sentvec.training.checkpoint import load_state
    from sentvec.training.trainer import LAST_DIR

    state = load_state(tmp_path / "cut" / LAST_DIR)
    assert state["position"]["step"] == 6 and len(state["rng"]) == 2
    _run(2, [worker, str(model), str(data), str(tmp_path / "cut"), "resume"])
    full, resumed = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    for key in full:
        np.testing.assert_allclose(resumed[key], full[key], atol=1e-6, rtol=0, err_msg=key)

"""The trainer on the tiny model: loss goes down, determinism, exact resume, NaN stop, logs, plot, evaluation,
checkpoints, several datasets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import sentvec
from sentvec.evaluation import SimilarityEvaluator
from sentvec.training.args import TrainingArgs
from sentvec.training.checkpoint import load_state
from sentvec.training.data import load_data
from sentvec.training.losses.base import Loss
from sentvec.training.losses.in_batch_margin import InBatchMarginLoss
from sentvec.training.losses.scored_pairs import CoSENTLoss
from sentvec.training.trainer import LAST_DIR, Trainer, TrainingError

WORDS = ["cat", "dog", "bird", "fish", "lion", "tiger", "horse", "mouse", "snake", "frog"]
PAIRS = [(f"the {a} runs", f"a {a} is running") for a in WORDS] * 3
SCORED = [(f"the {a} sleeps", f"the {b} sleeps", 1.0 if a == b else 0.2) for a in WORDS[:6] for b in WORDS[:4]]


def weights(model):
    return {k: v.detach().clone() for k, v in model.torch.pipeline.state_dict().items()}


def same_weights(a, b, atol=0.0):
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


@pytest.fixture
def fresh(model_dir):
    return lambda: sentvec.load(str(model_dir))


def pair_data():
    return load_data(PAIRS, columns=[0, 1])


def args(tmp_path, name, **kw):
    base = {"batch_size": 4, "learning_rate": 1e-3, "seed": 3, "show_progress_bar": False, "logging_steps": 1}
    return TrainingArgs(output_dir=str(tmp_path / name), **{**base, **kw})


def test_loss_goes_down_and_outputs_are_written(fresh, tmp_path):
    model = fresh()
    trainer = Trainer(model, InBatchMarginLoss(model), pair_data(), args(tmp_path, "run", epochs=6, warmup_ratio=0.0))
    result = trainer.train()
    log = [json.loads(line) for line in (tmp_path / "run" / "trainer_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert result.steps == 6 * 8  # 30 pairs / batch 4 → 8 batches per epoch
    assert sum(losses[-8:]) < sum(losses[:8])
    assert (tmp_path / "run" / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    reloaded = sentvec.load(str(tmp_path / "run"))
    texts = ["the cat runs", "a fish is running"]
    assert abs(reloaded.encode(texts) - model.encode(texts)).max() <= 1e-6


def test_same_seed_same_data_gives_identical_weights(fresh, tmp_path):
    results = []
    for name in ("a", "b"):
        model = fresh()
        Trainer(model, InBatchMarginLoss(model), pair_data(), args(tmp_path, name, epochs=2)).train()
        results.append(weights(model))
    assert same_weights(*results)
    model = fresh()
    Trainer(model, InBatchMarginLoss(model), pair_data(), args(tmp_path, "c", epochs=2, seed=4)).train()
    assert not same_weights(results[0], weights(model))


class Interrupt(Exception):
    pass


class StopAfter(Loss):
    """Wraps a loss and raises on its ``n``-th call: an interruption in the middle of a run."""

    def __init__(self, inner, n):
        super().__init__(inner.model)
        self.inner, self.calls, self.n = inner, 0, n
        self.label_kind, self.min_columns = inner.label_kind, inner.min_columns

    def compute_loss_from_embeddings(self, embeddings, labels):
        self.calls += 1
        if self.calls == self.n:
            raise Interrupt
        return self.inner.compute_loss_from_embeddings(embeddings, labels)


def test_interrupted_and_resumed_run_ends_with_the_same_weights(fresh, tmp_path):
    kw = {"epochs": 2, "save_steps": 3, "gradient_accumulation_steps": 1}
    model = fresh()
    Trainer(
        model,
        CoSENTLoss(model),
        load_data(SCORED, columns=[0, 1], label=2, label_kind="score"),
        args(tmp_path, "full", **kw),
    ).train()
    expected = weights(model)

    model = fresh()
    data = load_data(SCORED, columns=[0, 1], label=2, label_kind="score")
    with pytest.raises(Interrupt):  # dies during step 8, after the checkpoint at step 6 (mid second epoch)
        Trainer(model, StopAfter(CoSENTLoss(model), 8), data, args(tmp_path, "cut", **kw)).train()
    model = fresh()
    resumed = Trainer(model, CoSENTLoss(model), data, args(tmp_path, "cut", **kw))
    result = resumed.train(resume_from=tmp_path / "cut" / LAST_DIR)
    assert result.steps == 12
    assert same_weights(expected, weights(model), atol=1e-6)


class NaNAfter(StopAfter):
    def compute_loss_from_embeddings(self, embeddings, labels):
        self.calls += 1
        value = self.inner.compute_loss_from_embeddings(embeddings, labels)
        return value * float("nan") if self.calls >= self.n else value


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(fresh, tmp_path):
    model = fresh()
    trainer = Trainer(
        model, NaNAfter(InBatchMarginLoss(model), 5), pair_data(), args(tmp_path, "nan", epochs=3, save_steps=2)
    )
    with pytest.raises(TrainingError, match=r"loss is nan at step 5 .*checkpoints/last"):
        trainer.train()
    state = load_state(tmp_path / "nan" / LAST_DIR)
    assert state["position"]["step"] == 4
    kept = sentvec.load(str(tmp_path / "nan" / LAST_DIR))
    assert np.isfinite(kept.encode(["a dog", "the cat runs"])).all()  # the kept weights are the good ones


def test_evaluation_every_n_steps_keeps_the_best_checkpoint(fresh, tmp_path):
    model = fresh()
    s1, s2, gold = zip(*SCORED, strict=True)
    evaluator = SimilarityEvaluator(list(s1), list(s2), list(gold))
    data = load_data(SCORED, columns=[0, 1], label=2, label_kind="score")
    result = Trainer(model, CoSENTLoss(model), data, args(tmp_path, "ev", epochs=2, eval_steps=3), evaluator).train()
    log = [json.loads(line) for line in (tmp_path / "ev" / "trainer_log.jsonl").read_text().splitlines()]
    evals = [r for r in log if "eval" in r]
    assert [r["step"] for r in evals] == [3, 6, 9, 12]
    best = max(evals, key=lambda r: r["eval"]["spearman_cosine"])
    assert result.best_step == best["step"] and result.best_metric == pytest.approx(best["eval"]["spearman_cosine"])
    best_model = sentvec.load(str(tmp_path / "ev" / "checkpoints" / "best"))
    assert evaluator(best_model).primary_value == pytest.approx(result.best_metric, abs=1e-6)


def test_two_datasets_with_their_own_losses(fresh, tmp_path):
    model = fresh()
    calls = {"pairs": 0, "scored": 0}

    class Counting(Loss):
        def __init__(self, inner, key):
            super().__init__(inner.model)
            self.inner, self.key = inner, key
            self.label_kind, self.min_columns = inner.label_kind, inner.min_columns

        def compute_loss_from_embeddings(self, embeddings, labels):
            calls[self.key] += 1
            return self.inner.compute_loss_from_embeddings(embeddings, labels)

    losses = {"pairs": Counting(InBatchMarginLoss(model), "pairs"), "scored": Counting(CoSENTLoss(model), "scored")}
    data = {"pairs": pair_data(), "scored": load_data(SCORED, columns=[0, 1], label=2, label_kind="score")}
    Trainer(model, losses, data, args(tmp_path, "multi", epochs=1)).train()
    assert calls == {"pairs": 6, "scored": 6}  # round robin: whole rounds until the smaller set runs out


def test_incompatible_loss_and_data_are_refused(fresh, tmp_path):
    model = fresh()
    with pytest.raises(ValueError, match="needs 'score'"):
        Trainer(model, CoSENTLoss(model), pair_data(), args(tmp_path, "bad"))


def test_the_last_epoch_is_evaluated_and_checkpointed(fresh, tmp_path):
    model = fresh()
    s1, s2, gold = zip(*SCORED, strict=True)
    evaluator = SimilarityEvaluator(list(s1), list(s2), list(gold))
    data = load_data(SCORED, columns=[0, 1], label=2, label_kind="score")
    Trainer(model, CoSENTLoss(model), data, args(tmp_path, "ep", epochs=2), evaluator).train()
    log = [json.loads(line) for line in (tmp_path / "ep" / "trainer_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "eval" in r] == [6, 12]  # one evaluation per epoch, the last one included
    state = load_state(tmp_path / "ep" / LAST_DIR)
    assert state["position"]["step"] == 12


def test_bf16_autocast_trains(fresh, tmp_path):
    def run(name, bf16):
        model = fresh()
        data = load_data(SCORED, columns=[0, 1], label=2, label_kind="score")
        result = Trainer(model, CoSENTLoss(model), data, args(tmp_path, name, max_steps=3, bf16=bf16)).train()
        return model, result

    before = weights(fresh())
    model, result = run("bf16", True)
    assert result.steps == 3 and math.isfinite(result.final_loss)
    assert not same_weights(before, weights(model))
    assert next(iter(weights(model).values())).dtype == torch.float32  # autocast: the weights stay fp32
    fp32_model, _ = run("fp32", False)  # same seed and data: only the autocast differs
    assert not same_weights(weights(model), weights(fp32_model))  # the flag took effect (bf16 rounds the forward)


def test_a_global_batch_too_short_for_every_rank_is_skipped(fresh, tmp_path):
    """Under torchrun each rank embeds its slice of a global batch; a last batch with fewer rows than ranks
    would leave one with nothing to embed, so it is skipped (and counted, so a resumed run skips it too)."""
    from sentvec.distributed.ddp import Ranks

    model = fresh()
    data = load_data(PAIRS[:9], columns=[0, 1])
    trainer = Trainer(model, InBatchMarginLoss(model), data, args(tmp_path, "short", batch_size=2, epochs=1))
    trainer.ranks, trainer.global_batch_size = Ranks(0, 2), 4  # rank 0 of 2: global batches of 4, 4 and 1
    trainer._end_of_epoch = lambda: None  # (it saves a checkpoint, which would wait for rank 1)
    slices = [batch for group in trainer._batch_groups() for _, batch in group]
    assert [len(b) for b in slices] == [2, 2]  # the 1-row batch gave no group
    assert trainer.position.epoch == 1

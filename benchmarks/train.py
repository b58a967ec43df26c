"""Training throughput on STSb-en train: sentvec's Trainer vs the reference library's trainer, in one process.

    .venv/bin/python benchmarks/train.py [--steps 30] [--batch-size 16] [--loss CoSENTLoss] [--repeats 2]

Both sides fine-tune all-MiniLM-L6-v2 (fresh weights each run) for ``--steps`` optimizer steps with the same loss,
batch size, learning rate (2e-5, 10 % linear warm-up, linear decay), weight decay (0.01), clipping (1.0) and data:
the first N pairs of STSb-en train, scores scaled to 0..1 (N leaves slack so no run reaches an epoch end; the
in-batch-negative loss uses no-duplicates batching on both sides). The reference runs without evaluation or
saving; sentvec's trainer still writes its end-of-run checkpoint and final model into a temporary folder.

Each side first does a short untimed warm-up run, then the sides alternate for ``--repeats`` timed runs (so drift
in machine load hits both alike). Reported per side (median of repeats): wall time of the whole ``train()`` call,
time to the end of step 3 (start-up + first steps), steady steps/s over steps 4..N (from per-step end times:
a trainer callback for the reference, an optimizer step hook for sentvec) and the time after the last step
(sentvec: checkpoint + model save). The final ratio is steady steps/s, sentvec over the reference (>1: faster).

Threads: 1 by default. On a small machine shared with other work, torch's default (one thread per core) makes
OpenMP threads spin against the other load and a step can take 10-20x longer and vary wildly; ``--threads 0``
keeps torch's choice (use it on an idle machine).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STSB_TRAIN = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-train.csv"
MODEL_NAME = "all-MiniLM-L6-v2"
LOSSES = ("CoSENTLoss", "MultipleNegativesRankingLoss")
LEARNING_RATE = 2e-5


def in_batch(loss_name: str) -> bool:
    """Whether the loss uses in-batch negatives (pairs without labels, no duplicates in a batch): sentvec's own
    flag on the loss class, so the two libraries get the same data and sampler."""
    from sentvec.training import losses

    return bool(getattr(losses, loss_name).in_batch_negatives)


WARMUP_RATIO = 0.1
WEIGHT_DECAY = 0.01
SEED = 42
SKIP = 3  # steps left out of the steady-state rate
WARMUP_STEPS = 3  # length of the untimed warm-up run
REFERENCE = "reference"
SENTVEC = "sentvec"
LOSS_KIND = {REFERENCE: "mean over the run", SENTVEC: "last step"}  # what each trainer reports


@dataclasses.dataclass
class Run:
    """One ``train()`` call: its start and end, and the end time of each optimizer step."""

    start: float
    step_ends: list[float]
    end: float
    final_loss: float

    @property
    def wall_s(self) -> float:
        return self.end - self.start

    @property
    def first_s(self) -> float:
        return self.step_ends[min(SKIP, len(self.step_ends)) - 1] - self.start

    @property
    def steady_steps_per_s(self) -> float:
        n = len(self.step_ends) - SKIP
        return n / (self.step_ends[-1] - self.step_ends[SKIP - 1]) if n > 0 else float("nan")

    @property
    def tail_s(self) -> float:
        return self.end - self.step_ends[-1]


def read_pairs(n: int) -> list[tuple[str, str, float]]:
    """The first ``n`` pairs of STSb-en train, scores scaled from 0..5 to 0..1."""
    with open(STSB_TRAIN, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[:n]
    if len(rows) < n:
        raise SystemExit(f"{STSB_TRAIN} has only {len(rows)} pairs; {n} needed (lower --steps or --batch-size)")
    return [(r[0], r[1], float(r[2]) / 5.0) for r in rows]


def reference_runner(source: str, loss_name: str, pairs: list[tuple[str, str, float]], batch_size: int) -> Callable:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments as Args
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import losses
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback

    columns: dict[str, list[Any]] = {"sentence1": [p[0] for p in pairs], "sentence2": [p[1] for p in pairs]}
    if not in_batch(loss_name):
        columns["score"] = [p[2] for p in pairs]
    dataset = Dataset.from_dict(columns)
    sampler = BatchSamplers.NO_DUPLICATES if in_batch(loss_name) else BatchSamplers.BATCH_SAMPLER

    class StepTimes(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.ends.append(time.perf_counter())

    def run(steps: int) -> Run:
        model = SentenceTransformer(source, device="cpu")
        loss = getattr(losses, loss_name)(model)
        times = StepTimes()
        with tempfile.TemporaryDirectory() as out:
            args = Args(
                output_dir=out,
                max_steps=steps,
                per_device_train_batch_size=batch_size,
                learning_rate=LEARNING_RATE,
                warmup_steps=int(steps * WARMUP_RATIO),
                lr_scheduler_type="linear",
                weight_decay=WEIGHT_DECAY,
                max_grad_norm=1.0,
                eval_strategy="no",
                save_strategy="no",
                report_to="none",
                logging_strategy="no",
                dataloader_num_workers=0,
                seed=SEED,
                batch_sampler=sampler,
                disable_tqdm=True,
                use_cpu=True,
            )
            trainer = SentenceTransformerTrainer(
                model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[times]
            )
            trainer.remove_callback(PrinterCallback)  # it prints the metrics dict
            start = time.perf_counter()
            output = trainer.train()
            end = time.perf_counter()
        return Run(start, times.ends, end, float(output.training_loss))

    return run


def sentvec_runner(loss_name: str, pairs: list[tuple[str, str, float]], batch_size: int) -> Callable:
    import sentvec
    from sentvec.training import Trainer, TrainingArgs, load_data, losses

    if in_batch(loss_name):
        data = load_data([p[:2] for p in pairs], columns=(0, 1))
    else:
        data = load_data(pairs, columns=(0, 1), label=2, label_kind="score", score_range=(0.0, 1.0))

    def run(steps: int) -> Run:
        model = sentvec.load(MODEL_NAME, device="cpu")
        loss = getattr(losses, loss_name)(model)
        with tempfile.TemporaryDirectory() as out:
            args = TrainingArgs(
                output_dir=out,
                max_steps=steps,
                batch_size=batch_size,
                learning_rate=LEARNING_RATE,
                warmup_ratio=WARMUP_RATIO,
                weight_decay=WEIGHT_DECAY,
                max_grad_norm=1.0,
                seed=SEED,
                save_steps=None,
                eval_steps=None,
                show_progress_bar=False,
                plot=False,
            )
            trainer = Trainer(model, loss, data, args)
            ends: list[float] = []
            trainer.optimizer.register_step_post_hook(lambda *_: ends.append(time.perf_counter()))
            start = time.perf_counter()
            result = trainer.train()
            end = time.perf_counter()
        if result.steps != steps:
            raise RuntimeError(f"sentvec ran {result.steps} steps, not {steps}")
        return Run(start, ends, end, result.final_loss)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per timed run (> 3)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--loss", choices=LOSSES, default="CoSENTLoss")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per side (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice; see above)")
    args = parser.parse_args(argv)
    if args.steps <= SKIP:
        parser.error(f"--steps must be > {SKIP}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # the libraries' own progress bars (weights, shards, widgets)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    import torch
    import transformers

    import sentvec

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = sentvec.load(MODEL_NAME, device="cpu").source
    assert source is not None
    # slack: no-duplicates batching may defer examples; neither side should reach an epoch end while timed
    pairs = read_pairs(int(args.steps * args.batch_size * 1.25) + args.batch_size)
    runners = {
        REFERENCE: reference_runner(str(source), args.loss, pairs, args.batch_size),
        SENTVEC: sentvec_runner(args.loss, pairs, args.batch_size),
    }
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {os.cpu_count()} logical cores")
    print(
        f"loss {args.loss}, batch_size {args.batch_size}, steps {args.steps}, repeats {args.repeats}, "
        f"{len(pairs)} STSb-en train pairs available"
    )
    for name, run in runners.items():
        warm = run(WARMUP_STEPS)
        print(f"  warm-up     {name:<10} {warm.wall_s:7.2f} s ({WARMUP_STEPS} steps)", flush=True)
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    for i in range(args.repeats):
        order = list(runners) if i % 2 == 0 else list(reversed(runners))
        for name in order:
            result = runners[name](args.steps)
            runs[name].append(result)
            print(
                f"  repeat {i + 1}/{args.repeats}  {name:<10} {result.wall_s:7.2f} s, "
                f"steady {result.steady_steps_per_s:5.2f} steps/s, loss {result.final_loss:.4f} ({LOSS_KIND[name]})",
                flush=True,
            )

    def med(name: str, key: Callable[[Run], float]) -> float:
        return statistics.median(key(r) for r in runs[name])

    header = (
        f"{'trainer':<10} {'wall s':>8} {'steps/s (wall)':>15} {'first 3 s':>10} "
        f"{'steps/s (steady)':>17} {'after last s':>13}"
    )
    print()
    print(header)
    print("-" * len(header))
    for name in runners:
        print(
            f"{name:<10} {med(name, lambda r: r.wall_s):8.2f} {args.steps / med(name, lambda r: r.wall_s):15.2f} "
            f"{med(name, lambda r: r.first_s):10.2f} {med(name, lambda r: r.steady_steps_per_s):17.2f} "
            f"{med(name, lambda r: r.tail_s):13.2f}"
        )
    wall_ratio = med(REFERENCE, lambda r: r.wall_s) / med(SENTVEC, lambda r: r.wall_s)
    steady_ratio = med(SENTVEC, lambda r: r.steady_steps_per_s) / med(REFERENCE, lambda r: r.steady_steps_per_s)
    print()
    print(f"whole train() steps/s, sentvec/reference: {wall_ratio:.2f}")
    print(f"ratio sentvec/reference: {steady_ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

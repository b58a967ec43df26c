"""The trainer: AdamW, warm-up then linear/cosine decay, clipping, accumulation, bf16 autocast, evaluation,
best/last checkpoints, exact resume, several datasets each with its own loss, and a training curve."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from sentvec.distributed import ddp
from sentvec.errors import SentvecError
from sentvec.training.args import Schedule, TrainingArgs
from sentvec.training.data import Example, LabelKind, TrainingData
from sentvec.training.losses.base import Loss
from sentvec.training.samplers import batches_per_epoch, epoch_batches

if TYPE_CHECKING:
    from tqdm import tqdm

    from sentvec.encoder import SentenceEncoder
    from sentvec.evaluation.base import Evaluator

LOG_FILE = "trainer_log.jsonl"
PLOT_FILE = "training_curve.png"
STATE_FILE = "trainer_state.pt"
LAST_DIR = "checkpoints/last"
BEST_DIR = "checkpoints/best"


class TrainingError(SentvecError, RuntimeError):
    """Training cannot go on (a non-finite loss); the message names the step and the last good checkpoint."""


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a run did and where it left things."""

    steps: int
    final_loss: float
    best_metric: float | None
    best_step: int | None
    output_dir: str
    log_file: str
    plot_file: str | None


@dataclasses.dataclass
class _Position:
    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    best_metric: float | None = None
    best_step: int | None = None


class Trainer:
    """Fine-tune a torch-backed :class:`~sentvec.SentenceEncoder` (its torch pipeline, ``model.torch``).

    ``loss`` and ``train_data`` are one loss and one dataset, or two dicts with the same keys (one loss per
    dataset; batches alternate per ``args.multi_dataset_order``). ``evaluator`` is any
    :class:`~sentvec.evaluation.Evaluator`; its primary metric picks the best checkpoint.

    Under ``torchrun`` (several processes) the trainer joins the process group (gloo on CPU, nccl on CUDA),
    ``args.batch_size`` is the batch of each rank, every rank embeds its slice of the same global batch, losses
    score the global batch gathered from all ranks, gradients are averaged across ranks, and only rank 0 logs,
    evaluates and saves (see :mod:`sentvec.distributed.ddp`).
    """

    def __init__(
        self,
        model: SentenceEncoder,
        loss: Loss | Mapping[str, Loss],
        train_data: TrainingData | Mapping[str, TrainingData],
        args: TrainingArgs,
        evaluator: Evaluator | None = None,
    ) -> None:
        self.model = model
        self.losses = dict(loss) if isinstance(loss, Mapping) else {"train": loss}
        self.datasets = dict(train_data) if isinstance(train_data, Mapping) else {"train": train_data}
        if set(self.losses) != set(self.datasets):
            raise ValueError(
                f"losses {sorted(self.losses)} and datasets {sorted(self.datasets)} must have the same keys"
            )
        self.names = list(self.datasets)
        for name in self.names:
            _check_compatible(name, self.losses[name], self.datasets[name])
        self.args = args
        self.evaluator = evaluator
        self.output = Path(args.output_dir)
        self.backend = model.torch  # the torch pipeline (a model on another backend: a TypeError naming the fix)
        self.pipeline = self.backend.pipeline
        self.ranks = ddp.setup(self.backend.device)
        device = ddp.device_for(self.backend.device, self.ranks)
        if device != self.backend.device:  # torchrun on CUDA: each rank trains on its own GPU
            self.backend.to(device)
        for loss_fn in self.losses.values():  # a loss's own parameters (SoftmaxLoss's classifier) go along
            loss_fn.to(device)
        self.global_batch_size = args.batch_size * self.ranks.world_size
        self.params = _unique_parameters([self.pipeline, *self.losses.values()])
        self.optimizer = _adamw(self.params, args.weight_decay, args.learning_rate)
        self.order = args.multi_dataset_order
        self.total_steps = args.max_steps or self._steps_per_epoch() * args.epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.position = _Position()

    def _steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch (counting the datasets: a pass over each file, so only when needed)."""
        lengths = [len(self.datasets[n]) for n in self.names]
        per_epoch = batches_per_epoch(lengths, self.global_batch_size, self.order)
        return max(1, per_epoch // self.args.gradient_accumulation_steps)

    # --- schedule ---------------------------------------------------------------------------------
    def _lr_factor(self, step: int) -> float:
        warmup = int(self.total_steps * self.args.warmup_ratio)
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, self.total_steps - warmup))
        if self.args.schedule is Schedule.LINEAR:
            return max(0.0, 1.0 - progress)
        if self.args.schedule is Schedule.COSINE:
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    # --- the loop ---------------------------------------------------------------------------------
    def train(self, resume_from: str | Path | None = None) -> TrainResult:
        """Run to ``max_steps`` or the last epoch. ``resume_from``: a checkpoint (``<output>/checkpoints/last``)."""
        if self.ranks.is_main:
            self.output.mkdir(parents=True, exist_ok=True)
        _seed_everything(self.args.seed + self.ranks.rank)  # each rank its own dropout masks
        if resume_from is not None:
            self._restore(Path(resume_from))
        ddp.broadcast_parameters(self.params, self.ranks)
        self.pipeline.train()
        progress = self._progress_bar()
        last_loss = float("nan")
        try:
            for batch_group in self._batch_groups():
                last_loss = self._optimizer_step(batch_group)
                progress.update(1)
                progress.set_postfix(loss=f"{last_loss:.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
                self._after_step(last_loss)
                if self.position.step >= self.total_steps:
                    break
        finally:
            progress.close()
            self.pipeline.eval()
        return self._finish(last_loss)

    def _batch_groups(self) -> Iterator[list[tuple[int, list[Example]]]]:
        """Groups of ``gradient_accumulation_steps`` batches, epoch after epoch, skipping what a resumed run did.

        Every rank draws the same global batches and keeps its own slice of each."""
        args = self.args
        no_dup = [self._no_duplicates(n) for n in self.names]
        datasets = [self.datasets[n] for n in self.names]
        while self.position.epoch < args.epochs or (args.max_steps and self.position.step < args.max_steps):
            stream = epoch_batches(
                datasets,
                self.global_batch_size,
                seed=args.seed,
                epoch=self.position.epoch,
                no_duplicates=no_dup,
                order=self.order,
                buffer_size=args.shuffle_buffer,
            )
            for _ in range(self.position.batches_in_epoch):  # resume: the same order, minus what was done
                next(stream, None)
            group: list[tuple[int, list[Example]]] = []
            for index, batch in stream:
                if len(batch) < self.ranks.world_size:  # a last batch too short to give every rank a row
                    self.position.batches_in_epoch += 1  # (counted, so a resumed run skips it too)
                    continue
                group.append((index, ddp.shard(batch, self.ranks)))
                if len(group) == args.gradient_accumulation_steps:
                    self.position.batches_in_epoch += len(group)
                    yield group
                    group = []
            self.position.epoch += 1
            self.position.batches_in_epoch = 0
            self._end_of_epoch()

    def _optimizer_step(self, group: list[tuple[int, list[Example]]]) -> float:
        total = 0.0
        for index, batch in group:
            name = self.names[index]
            loss = self._loss_value(name, batch) / len(group)
            value = float(loss.detach())
            if not math.isfinite(value):
                last = self.output / LAST_DIR
                where = str(last) if last.is_dir() else "none saved yet"
                raise TrainingError(
                    f"loss is {value} at step {self.position.step + 1} (dataset {name!r}); "
                    f"stopped without saving; last good checkpoint: {where}"
                )
            loss.backward()
            total += value
        ddp.average_gradients(self.params, self.ranks)
        if self.args.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.params, self.args.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.position.step += 1
        return total

    def _loss_value(self, name: str, batch: list[Example]) -> torch.Tensor:
        loss_fn = self.losses[name]
        columns = [list(col) for col in zip(*(e.texts for e in batch), strict=True)]
        labels = _labels(batch, loss_fn.label_kind, self.backend.device)
        if self.args.bf16:
            with torch.autocast(device_type=self.backend.device.split(":")[0], dtype=torch.bfloat16):
                return loss_fn(columns, labels).float()
        return loss_fn(columns, labels)

    def _no_duplicates(self, name: str) -> bool:
        if self.args.no_duplicates is not None:
            return self.args.no_duplicates
        return self.losses[name].in_batch_negatives

    # --- logging, evaluation, checkpoints ---------------------------------------------------------
    def _after_step(self, loss: float) -> None:
        args, step = self.args, self.position.step
        if step % args.logging_steps == 0 or step == 1:
            self._log({"step": step, "epoch": self.position.epoch, "loss": loss, "lr": self.scheduler.get_last_lr()[0]})
        if args.save_steps and step % args.save_steps == 0:
            self._save_checkpoint()
        if args.eval_steps and step % args.eval_steps == 0:
            self._evaluate()

    def _end_of_epoch(self) -> None:
        if not self.args.eval_steps:
            self._evaluate()
        if not self.args.save_steps:
            self._save_checkpoint()

    def _evaluate(self) -> None:
        if self.evaluator is None:
            return
        if not self.ranks.is_main:  # the others wait for rank 0 in the next step's collectives
            return
        self.pipeline.eval()
        with torch.no_grad():
            result = self.evaluator(self.model)
        self.pipeline.train()
        value = result.primary_value
        self._log({"step": self.position.step, "eval": dict(result.metrics), "primary": result.primary_metric})
        best = self.position.best_metric
        if best is None or (value > best if result.greater_is_better else value < best):
            self.position.best_metric, self.position.best_step = value, self.position.step
            _atomic_save(self.output / BEST_DIR, self.model.save)

    def _save_checkpoint(self) -> None:
        # each rank draws its own dropout masks: rank 0 saves every rank's RNG state, so a resumed run continues
        rng = ddp.gather_objects(
            {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}, self.ranks
        )
        if not self.ranks.is_main:
            return

        def write(folder: Path) -> None:
            self.model.save(folder)
            state = {
                "position": dataclasses.asdict(self.position),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "losses": {n: loss.state_dict() for n, loss in self.losses.items()},
                "rng": rng,  # one state per rank
                "args": self.args.to_dict(),
            }
            torch.save(state, folder / STATE_FILE)

        _atomic_save(self.output / LAST_DIR, write)

    def _restore(self, folder: Path) -> None:
        from sentvec.loading import load

        state_path = folder / STATE_FILE
        if not state_path.is_file():
            raise FileNotFoundError(f"{state_path}: not a trainer checkpoint (no {STATE_FILE})")
        saved = load(folder, backend="torch", device="cpu")  # only its weights: load_state_dict copies them over
        self.pipeline.load_state_dict(saved.torch.pipeline.state_dict())
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        for name, loss_state in state["losses"].items():
            self.losses[name].load_state_dict(loss_state)
        self.position = _Position(**state["position"])
        rng = state["rng"][self.ranks.rank % len(state["rng"])]  # this rank's (with as many ranks as before)
        torch.set_rng_state(rng["torch"])
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])

    def _log(self, record: dict[str, object]) -> None:
        if not self.ranks.is_main:
            return
        with open(self.output / LOG_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def _progress_bar(self) -> tqdm:
        from tqdm.auto import tqdm

        return tqdm(
            total=self.total_steps,
            initial=self.position.step,
            desc="Training",
            unit="step",
            disable=not (self.args.show_progress_bar and self.ranks.is_main),
        )

    def _finish(self, last_loss: float) -> TrainResult:
        if self.position.batches_in_epoch:  # stopped inside an epoch (or right at its end): close it out
            if not self.args.eval_steps:
                self._evaluate()
            if not self.args.save_steps or self.position.step % self.args.save_steps:
                self._save_checkpoint()
        plot = None
        if self.ranks.is_main:
            self.model.save(self.output)
        if self.args.plot and self.ranks.is_main:
            from sentvec.training.plot import plot_training_curve

            plot = plot_training_curve(self.output / LOG_FILE, self.output / PLOT_FILE)
        ddp.teardown(self.ranks)
        return TrainResult(
            steps=self.position.step,
            final_loss=last_loss,
            best_metric=self.position.best_metric,
            best_step=self.position.best_step,
            output_dir=str(self.output),
            log_file=str(self.output / LOG_FILE),
            plot_file=str(plot) if plot else None,
        )


def _check_compatible(name: str, loss: Loss, data: TrainingData) -> None:
    want, have = loss.label_kind, data.spec.label_kind
    ok = want == have or (want is LabelKind.SCORE and have is LabelKind.BINARY)
    if not ok:
        raise ValueError(
            f"dataset {name!r} ({data.source}) has {have.value!r} labels but {type(loss).__name__} needs {want.value!r}"
        )
    if data.n_columns < loss.min_columns:
        raise ValueError(
            f"dataset {name!r} ({data.source}) has {data.n_columns} text column(s); "
            f"{type(loss).__name__} needs at least {loss.min_columns}"
        )


def _labels(batch: list[Example], kind: LabelKind, device: str) -> torch.Tensor | None:
    if kind is LabelKind.NONE:
        return None
    values = [e.label for e in batch]
    dtype = torch.long if kind is LabelKind.CLASS else torch.float32
    return torch.tensor(np.asarray(values), dtype=dtype, device=device)


def _unique_parameters(modules: list[torch.nn.Module]) -> list[torch.nn.Parameter]:
    seen: set[int] = set()
    params = []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


def _param_groups(params: list[torch.nn.Parameter], weight_decay: float) -> list[dict[str, object]]:
    """No weight decay on biases and normalization weights (1-D parameters)."""
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _adamw(params: list[torch.nn.Parameter], weight_decay: float, lr: float) -> torch.optim.Optimizer:
    """AdamW, fused into one kernel where torch supports it for these parameters (much faster steps on CPU)."""
    groups = _param_groups(params, weight_decay)
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # an older torch, or a device/dtype without a fused kernel
        return torch.optim.AdamW(groups, lr=lr)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _atomic_save(target: Path, write: Callable[[Path], None]) -> None:
    """Write into a sibling temp folder, then swap it in: a crash never leaves a half-written checkpoint."""
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write(tmp)
    old = target.with_name(target.name + ".old")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)

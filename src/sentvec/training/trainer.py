"""The trainer: AdamW, warm-up then linear/cosine decay, clipping, accumulation, bf16 autocast, evaluation (an
evaluator and/or evaluation losses), best/last checkpoints, exact resume from pickle-free checkpoints, several
datasets each with its own loss (sentvec data or Hugging Face datasets), a training curve and a model card.

It trains a bi-encoder (:class:`~sentvec.SentenceEncoder`, with :mod:`sentvec.training.losses`) or a cross-encoder
(:class:`~sentvec.CrossEncoder`, with :mod:`sentvec.training.rerank_losses`) with the same loop; what differs
between the two is behind :mod:`sentvec.training.trainable`."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import torch

from sentvec.distributed import ddp
from sentvec.errors import SentvecError
from sentvec.model_card import DatasetSummary, TrainingSummary
from sentvec.training.args import Schedule, TrainingArgs
from sentvec.training.checkpoint import STATE_JSON, CheckpointError, first_line, load_state, save_state
from sentvec.training.data import Example, LabelKind, TrainingData, _is_hf_dataset, from_dataset, require_rows
from sentvec.training.rerank_losses import CrossEncoderLoss
from sentvec.training.samplers import batches, batches_per_epoch, epoch_batches
from sentvec.training.trainable import AnyEvaluator, TrainableModel, TrainingLoss, trainable

if TYPE_CHECKING:
    import datasets
    from tqdm import tqdm

    # what a dataset may be: sentvec's (load_data) or a Hugging Face Dataset (the reference's column convention)
    DataSource: TypeAlias = TrainingData | datasets.Dataset

LOG_FILE = "trainer_log.jsonl"
PLOT_FILE = "training_curve.png"
STATE_FILE = STATE_JSON  # the resume state beside the weights (and trainer_state.safetensors for its tensors)
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
    """Fine-tune a torch-backed :class:`~sentvec.SentenceEncoder` (its torch pipeline, ``model.torch``) or
    :class:`~sentvec.CrossEncoder` (its sequence-classification model, ``model.torch.model``).

    A bi-encoder trains with the losses of :mod:`sentvec.training.losses` and is evaluated by the evaluators of
    :mod:`sentvec.evaluation` (``SimilarityEvaluator``, ...); a cross-encoder with the losses of
    :mod:`sentvec.training.rerank_losses` (built for that model) and the cross-encoder evaluators
    (``CrossEncoderRerankingEvaluator``, ``CrossEncoderCorrelationEvaluator``). A loss or evaluator for the other
    kind of model is refused up front.

    ``loss`` and ``train_data`` are one loss and one dataset, or two dicts with the same keys (one loss per
    dataset; batches alternate per ``args.multi_dataset_order``); one loss with a dict of datasets (a
    ``DatasetDict``) trains every dataset with that loss. A dataset is :class:`~sentvec.training.data.TrainingData`
    (:func:`~sentvec.training.data.load_data`) or a Hugging Face ``datasets.Dataset`` read with the reference's
    convention: a column named ``label`` or ``score`` is the label, the other columns are the inputs in order.

    ``evaluator`` is any :class:`~sentvec.evaluation.Evaluator`; its primary metric picks the best checkpoint.
    ``eval_dataset`` (a dataset, or a dict of them keyed like the losses) gets its loss computed at each evaluation
    with the loss of the same name (the only loss when there is one) and logged as ``eval_loss`` (one dataset) or
    ``eval_<name>_loss``; without an evaluator, the lowest mean evaluation loss picks the best checkpoint.
    After training, the output folder holds the model and its card (``README.md``): the data, the losses, the
    arguments and the last evaluation.

    Under ``torchrun`` (several processes) the trainer joins the process group (gloo on CPU, nccl on CUDA),
    ``args.batch_size`` is the batch of each rank, every rank embeds its slice of the same global batch, losses
    score the global batch gathered from all ranks, gradients are averaged across ranks, and only rank 0 logs,
    evaluates and saves (see :mod:`sentvec.distributed.ddp`).
    """

    def __init__(
        self,
        model: TrainableModel,
        loss: TrainingLoss | Mapping[str, TrainingLoss],
        train_data: DataSource | Mapping[str, DataSource],
        args: TrainingArgs,
        evaluator: AnyEvaluator | None = None,
        eval_dataset: DataSource | Mapping[str, DataSource] | None = None,
    ) -> None:
        self.model = model
        self.trainable = trainable(model)  # the torch model (a model on another backend: a TypeError naming the fix)
        sources = dict(train_data) if isinstance(train_data, Mapping) else {"train": train_data}
        self.losses = dict(loss) if isinstance(loss, Mapping) else dict.fromkeys(sources, loss)
        if set(self.losses) != set(sources):
            raise ValueError(f"losses {sorted(self.losses)} and datasets {sorted(sources)} must have the same keys")
        for name, loss_fn in self.losses.items():
            self.trainable.check_loss(name, loss_fn)
        if evaluator is not None:
            self.trainable.check_evaluator(evaluator)
        self.datasets = {n: _training_data(n, sources[n], self.losses[n]) for n in sources}
        self.names = list(self.datasets)
        for name in self.names:
            _check_compatible(name, self.losses[name], self.datasets[name])
            require_rows(self.datasets[name], name)
        self.eval_losses, self.eval_datasets = self._eval_sets(eval_dataset)
        self.args = args
        self.evaluator = evaluator
        self.output = Path(args.output_dir)
        self.pipeline = self.trainable.module  # the trained module (an encoder's pipeline, a reranker's model)
        self.ranks = ddp.setup(self.trainable.device)
        device = ddp.device_for(self.trainable.device, self.ranks)
        if device != self.trainable.device:  # torchrun on CUDA: each rank trains on its own GPU
            self.trainable.to(device)
        for loss_fn in self.losses.values():  # a loss's own parameters (SoftmaxLoss's classifier) go along
            loss_fn.to(device)
        self.global_batch_size = args.batch_size * self.ranks.world_size
        self.params = _unique_parameters([self.pipeline, *self.losses.values()])
        self.optimizer = _adamw(self.params, args.weight_decay, args.learning_rate)
        self.order = args.multi_dataset_order
        self.total_steps = args.max_steps or self._steps_per_epoch() * args.epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.position = _Position()
        self.last_evaluation: dict[str, float] = {}  # the metrics (and evaluation losses) of the last evaluation
        self.last_eval_step: int | None = None

    def _eval_sets(
        self, eval_dataset: DataSource | Mapping[str, DataSource] | None
    ) -> tuple[dict[str, TrainingLoss], dict[str, TrainingData]]:
        """The evaluation datasets and the loss each is scored with (the training loss of the same name)."""
        if eval_dataset is None:
            return {}, {}
        if isinstance(eval_dataset, Mapping):
            sources = dict(eval_dataset)
        else:
            sources = {self.names[0] if len(self.names) == 1 else "eval": eval_dataset}
        losses: dict[str, TrainingLoss] = {}
        for name in sources:
            if name in self.losses:
                losses[name] = self.losses[name]
            elif len(set(map(id, self.losses.values()))) == 1:
                losses[name] = next(iter(self.losses.values()))
            else:
                raise ValueError(
                    f"evaluation dataset {name!r} has no loss of the same name (losses: {', '.join(self.losses)})"
                )
        data = {n: _training_data(n, sources[n], losses[n]) for n in sources}
        for name in data:
            _check_compatible(name, losses[name], data[name])
            require_rows(data[name], name)
        return losses, data

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
            skipped = self.position.batches_in_epoch
            for _ in range(skipped):  # resume: the same order, minus what was done
                next(stream, None)
            group: list[tuple[int, list[Example]]] = []
            stepped, seen_batches, seen_rows = False, 0, 0
            for index, batch in stream:
                seen_batches, seen_rows = seen_batches + 1, seen_rows + len(batch)
                if len(batch) < self.ranks.world_size:  # a last batch too short to give every rank a row
                    self.position.batches_in_epoch += 1  # (counted, so a resumed run skips it too)
                    continue
                group.append((index, ddp.shard(batch, self.ranks)))
                if len(group) == args.gradient_accumulation_steps:
                    self.position.batches_in_epoch += len(group)
                    stepped = True
                    yield group
                    group = []
            if not stepped and not skipped:  # an epoch without a step: without this check, an endless loop
                raise TrainingError(self._no_step_message(seen_batches, seen_rows))
            self.position.epoch += 1
            self.position.batches_in_epoch = 0
            self._end_of_epoch()

    def _no_step_message(self, seen_batches: int, seen_rows: int) -> str:
        args, world = self.args, self.ranks.world_size
        datasets = ", ".join(f"{n!r} ({self.datasets[n].source})" for n in self.names)
        return (
            f"epoch {self.position.epoch + 1} gave no training step: dataset(s) {datasets} made {seen_batches} "
            f"batch(es) from {seen_rows} row(s), and a step needs {args.gradient_accumulation_steps} batch(es) "
            f"(gradient_accumulation_steps) of at least {world} row(s) (one per rank); use more rows or a smaller "
            "gradient_accumulation_steps; stopped without saving"
        )

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

    def _loss_value(self, name: str, batch: list[Example], loss_fn: TrainingLoss | None = None) -> torch.Tensor:
        loss_fn = self.losses[name] if loss_fn is None else loss_fn
        columns = [list(col) for col in zip(*(e.texts for e in batch), strict=True)]
        device = self.trainable.device
        labels = _labels(batch, loss_fn.label_kind, device)
        if self.args.bf16:
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
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
        if self.evaluator is None and not self.eval_datasets:
            return
        self.last_eval_step = self.position.step
        eval_losses = self._evaluation_losses()  # every rank: the losses gather the global batch
        if not self.ranks.is_main:  # the others wait for rank 0 in the next step's collectives
            return
        record: dict[str, object] = {"step": self.position.step, **eval_losses}
        self.last_evaluation = dict(eval_losses)
        if self.evaluator is not None:
            self.pipeline.eval()
            with torch.no_grad():
                result = self.trainable.evaluate(self.evaluator)
            self.pipeline.train()
            value, greater_is_better = result.primary_value, result.greater_is_better
            record.update({"eval": dict(result.metrics), "primary": result.primary_metric})
            self.last_evaluation.update(result.metrics)
        else:  # no evaluator: the lowest evaluation loss is the best
            value, greater_is_better = sum(eval_losses.values()) / len(eval_losses), False
        self._log(record)
        best = self.position.best_metric
        if not math.isfinite(value):
            return
        if best is None or (value > best if greater_is_better else value < best):
            self.position.best_metric, self.position.best_step = value, self.position.step
            _atomic_save(self.output / BEST_DIR, self.trainable.save)

    def _evaluation_losses(self) -> dict[str, float]:
        """The mean loss over each evaluation dataset (batches of the global batch size, in order, no gradients),
        keyed ``eval_loss`` for one dataset and ``eval_<name>_loss`` for several."""
        out: dict[str, float] = {}
        if not self.eval_datasets:
            return out
        self.pipeline.eval()
        try:
            with torch.no_grad():
                for name, data in self.eval_datasets.items():
                    total, rows = 0.0, 0
                    for batch in batches(data, self.global_batch_size):
                        if len(batch) < self.ranks.world_size:  # as in training: every rank needs a row
                            continue
                        value = self._loss_value(name, ddp.shard(batch, self.ranks), self.eval_losses[name])
                        total += float(value) * len(batch)
                        rows += len(batch)
                    key = "eval_loss" if len(self.eval_datasets) == 1 else f"eval_{name}_loss"
                    out[key] = total / rows if rows else float("nan")
        finally:
            self.pipeline.train()
        return out

    def _save_checkpoint(self) -> None:
        # each rank draws its own dropout masks: rank 0 saves every rank's RNG state, so a resumed run continues
        rng = ddp.gather_objects(
            {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}, self.ranks
        )
        if not self.ranks.is_main:
            return

        def write(folder: Path) -> None:
            self.trainable.save(folder)
            state = {
                "position": dataclasses.asdict(self.position),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "losses": {n: loss.state_dict() for n, loss in self.losses.items()},
                "rng": rng,  # one state per rank
                "args": self.args.to_dict(),
            }
            save_state(state, folder)  # tensors in safetensors, the rest in JSON: nothing to unpickle on resume

        _atomic_save(self.output / LAST_DIR, write)

    def _restore(self, folder: Path) -> None:
        """Weights, optimizer, scheduler, loss parameters, position and RNG states from a checkpoint folder; the
        state is read (tensors and plain values only) and checked before anything is changed."""
        state = load_state(folder)  # a CheckpointError naming the file when missing, truncated or malformed
        where = folder / STATE_JSON
        position = _position(state.get("position"), where)
        optimizer, scheduler = _mapping(state, "optimizer", where), _mapping(state, "scheduler", where)
        losses = _mapping(state, "losses", where)
        unknown = sorted(set(losses) - set(self.losses))
        if unknown:
            raise CheckpointError(where, f"holds the state of loss(es) {unknown}, which this run does not have")
        rngs = state.get("rng")
        if not isinstance(rngs, list) or not rngs:
            raise CheckpointError(where, "no RNG states")
        rng = rngs[self.ranks.rank % len(rngs)]  # this rank's (with as many ranks as before)
        weights = self.trainable.saved_weights(folder)  # only its weights: load_state_dict copies them over
        try:
            self.pipeline.load_state_dict(weights)
            self.optimizer.load_state_dict(optimizer)
            self.scheduler.load_state_dict(scheduler)
            for name in losses:
                self.losses[name].load_state_dict(_mapping(losses, name, where))
            if not isinstance(rng, dict):
                raise TypeError("an RNG state is not a mapping")
            torch.set_rng_state(rng["torch"])
            random.setstate(rng["python"])
            np.random.set_state(rng["numpy"])
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(where, f"does not fit this run ({first_line(e)})") from None
        self.position = position

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
        if self.position.step and self.last_eval_step != self.position.step:
            self._evaluate()  # the final model's figures, for the card (stopped inside an epoch or between evals)
        # stopped inside an epoch (or right at its end): close it out
        if self.position.batches_in_epoch and (not self.args.save_steps or self.position.step % self.args.save_steps):
            self._save_checkpoint()
        plot = None
        if self.ranks.is_main:
            self.trainable.save(self.output, self._summary())
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

    def _summary(self) -> TrainingSummary:
        """What the run did, for the model card: data (columns, rows), losses, arguments, the last evaluation."""
        return TrainingSummary(
            datasets=tuple(
                DatasetSummary(
                    name=_dataset_name(name, self.datasets[name]),
                    columns=self.datasets[name].column_names,
                    rows=len(self.datasets[name]),
                    loss=type(self.losses[name]).__name__,
                )
                for name in self.names
            ),
            arguments=self.args.to_dict(),
            steps=self.position.step,
            evaluation=dict(self.last_evaluation),
        )


def _training_data(name: str, source: DataSource, loss: TrainingLoss) -> TrainingData:
    """``source`` as training data: sentvec's as is; a Hugging Face Dataset with the reference's convention (the
    ``label``/``score`` column is the label, as ``loss`` needs it; the other columns are the inputs)."""
    if isinstance(source, TrainingData):
        return source
    if _is_hf_dataset(source):
        return from_dataset(source, loss.label_kind)
    raise TypeError(
        f"dataset {name!r}: expected TrainingData (sentvec.training.load_data) or a datasets.Dataset, "
        f"got {type(source).__name__}"
    )


def _dataset_name(name: str, data: TrainingData) -> str:
    """The card's name of a dataset: its key, and where it came from when that says more (a file, a named
    Hugging Face dataset)."""
    source = data.source
    if source in ("Dataset", "DataFrame", "list"):
        return name
    return f"{name} ({Path(source).name if Path(source).is_file() else source})"


def _mapping(state: Mapping[str, object], key: str, where: Path) -> dict[str, object]:
    value = state.get(key)
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise CheckpointError(where, f"{key!r} is missing or not a mapping")
    return value


def _position(value: object, where: Path) -> _Position:
    """The saved position, each field checked (counts are integers >= 0)."""
    if not isinstance(value, dict):
        raise CheckpointError(where, "'position' is missing or not a mapping")
    fields = {f.name for f in dataclasses.fields(_Position)}
    if set(value) != fields:
        raise CheckpointError(where, f"'position' has fields {sorted(value)}; expected {sorted(fields)}")
    counts = ("step", "epoch", "batches_in_epoch")
    ok = all(isinstance(value[k], int) and not isinstance(value[k], bool) and value[k] >= 0 for k in counts)
    ok = ok and (value["best_step"] is None or isinstance(value["best_step"], int))
    ok = ok and (value["best_metric"] is None or isinstance(value["best_metric"], int | float))
    if not ok:
        raise CheckpointError(where, f"malformed 'position' {value!r}")
    best_metric = value["best_metric"]
    return _Position(
        step=value["step"],
        epoch=value["epoch"],
        batches_in_epoch=value["batches_in_epoch"],
        best_metric=None if best_metric is None else float(best_metric),
        best_step=value["best_step"],
    )


def _check_compatible(name: str, loss: TrainingLoss, data: TrainingData) -> None:
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
    if isinstance(loss, CrossEncoderLoss) and loss.max_columns is not None and data.n_columns > loss.max_columns:
        raise ValueError(
            f"dataset {name!r} ({data.source}) has {data.n_columns} text column(s); "
            f"{type(loss).__name__} takes at most {loss.max_columns} (query, document(s))"
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

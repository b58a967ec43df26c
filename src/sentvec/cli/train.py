"""``sentvec train``: fine-tune a model on a file with one loss, from flags or a YAML config: an embedding model
(``--task embedding``, the default) or a cross-encoder (``--task rerank``)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sentvec.cli.common import Subparsers
from sentvec.jsonl import field_names

if TYPE_CHECKING:
    from sentvec.evaluation.rerank import CrossEncoderEvaluator
    from sentvec.rerank.model import CrossEncoder
    from sentvec.training.args import TrainingArgs
    from sentvec.training.data import TrainingData
    from sentvec.training.losses import Loss
    from sentvec.training.rerank_losses import CrossEncoderLoss
    from sentvec.training.trainer import TrainResult

# Losses that need more than the model to build (use the Python API for them).
NOT_FROM_CLI = ("Loss", "SoftmaxLoss", "MatryoshkaLoss", "CrossEncoderLoss")
TASKS = ("embedding", "rerank")
REQUIRED = ("model", "data", "loss", "output")
T = TypeVar("T")


def add_parser(sub: Subparsers) -> None:
    """Register ``train``."""
    p = sub.add_parser(
        "train",
        help="fine-tune a model on a file",
        description="Fine-tune a model on a file. Under torchrun (torchrun --nproc_per_node N -m sentvec train "
        "FLAGS) every process trains on its slice of each global batch of N x --batch-size.",
    )
    p.add_argument("--config", type=Path, help="a YAML file with any of the options below (flags override it)")
    p.add_argument(
        "--task",
        choices=TASKS,
        help="embedding (default): a bi-encoder with a loss of sentvec.training.losses; rerank: a cross-encoder "
        "with a loss of sentvec.training.rerank_losses, from a reranker folder or, with a new head, an encoder",
    )
    p.add_argument("--model", "-m", help="model name or folder to start from")
    p.add_argument("--data", type=Path, help="training data: .csv, .tsv or .jsonl")
    p.add_argument(
        "--loss",
        help="loss class name, e.g. CoSENTLoss, MultipleNegativesRankingLoss, InBatchMarginLoss; with --task rerank: "
        "BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss, MarginMSELoss, ListNetLoss",
    )
    p.add_argument(
        "--num-labels",
        type=int,
        help="--task rerank from an encoder: outputs of the new head (default 1; CrossEntropyLoss: the classes in "
        "the data)",
    )
    p.add_argument("--output", type=Path, help="output folder (model, checkpoints, trainer_log.jsonl, plot)")
    p.add_argument("--columns", help="comma-separated names of the columns of a headerless file, in order")
    p.add_argument("--label", help="label column (default: 'score' or 'label' when present)")
    p.add_argument("--score-range", help="min,max of the scores: scaled to 0..1 (e.g. 0,5 for STS)")
    p.add_argument(
        "--eval",
        type=Path,
        help="an STS file (sentence1,sentence2,score) to evaluate on; with --task rerank also a .jsonl of "
        '{"query", "positive": [...], "negative": [...]} samples (MRR@10, NDCG@10)',
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup-ratio", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--eval-steps", type=int)
    p.add_argument("--save-steps", type=int)
    p.add_argument("--logging-steps", type=int, help="log the loss every N steps (default 10)")
    p.add_argument("--bf16", action="store_true", default=None)
    p.add_argument("--resume-from", type=Path, help="a checkpoint folder (<output>/checkpoints/last)")
    p.set_defaults(func=run)


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """The options of one ``sentvec train`` run: the YAML config's, overridden by the flags given.

    The field names are the config's keys (and the flags without ``--``). ``columns`` names the columns of a
    headerless file in order (None: the file's header names them); ``score_range`` is the scores' ``(min, max)``,
    scaled to 0..1. The training options left None keep :class:`~sentvec.training.args.TrainingArgs`' defaults.
    """

    model: str
    data: Path
    loss: str
    output: Path
    task: str = "embedding"
    num_labels: int | None = None
    columns: tuple[str, ...] | None = None
    label: str | None = None
    score_range: tuple[float, float] | None = None
    eval: Path | None = None
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    warmup_ratio: float | None = None
    seed: int | None = None
    eval_steps: int | None = None
    save_steps: int | None = None
    logging_steps: int | None = None
    bf16: bool | None = None
    resume_from: Path | None = None

    @classmethod
    def options(cls) -> list[str]:
        """The options, in the order of the flags."""
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainSettings:
        """The config file of ``--config`` (when given) with the flags given on top; every value checked."""
        raw: dict[str, object] = {}
        if args.config:
            raw.update(_read_config(args.config, cls.options()))
        raw.update({key: value for key in cls.options() if (value := getattr(args, key, None)) is not None})
        for key in REQUIRED:
            if not raw.get(key):
                raise ValueError(f"missing --{key} (or '{key}:' in the config)")

        def get(key: str, convert: Callable[[str, object], T]) -> T | None:
            value = raw.get(key)
            return None if value is None else convert(key, value)

        return cls(
            model=_text("model", raw["model"]),
            data=_path("data", raw["data"]),
            loss=_text("loss", raw["loss"]),
            output=_path("output", raw["output"]),
            task=get("task", _task) or "embedding",
            num_labels=get("num_labels", _integer),
            columns=get("columns", _names),
            label=get("label", _text),
            score_range=get("score_range", _range),
            eval=get("eval", _path),
            epochs=get("epochs", _integer),
            max_steps=get("max_steps", _integer),
            batch_size=get("batch_size", _integer),
            lr=get("lr", _number),
            warmup_ratio=get("warmup_ratio", _number),
            seed=get("seed", _integer),
            eval_steps=get("eval_steps", _integer),
            save_steps=get("save_steps", _integer),
            logging_steps=get("logging_steps", _integer),
            bf16=get("bf16", _flag),
            resume_from=get("resume_from", _path),
        )

    def training_args(self) -> TrainingArgs:
        """The trainer's arguments: ``output`` and the training options given (the others: their defaults)."""
        from sentvec.training.args import TrainingArgs

        default = TrainingArgs(output_dir=str(self.output))
        return dataclasses.replace(
            default,
            epochs=_given(self.epochs, default.epochs),
            max_steps=_given(self.max_steps, default.max_steps),
            batch_size=_given(self.batch_size, default.batch_size),
            learning_rate=_given(self.lr, default.learning_rate),
            warmup_ratio=_given(self.warmup_ratio, default.warmup_ratio),
            seed=_given(self.seed, default.seed),
            eval_steps=_given(self.eval_steps, default.eval_steps),
            save_steps=_given(self.save_steps, default.save_steps),
            logging_steps=_given(self.logging_steps, default.logging_steps),
            bf16=_given(self.bf16, default.bf16),
        )


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


def _read_config(path: Path, keys: list[str]) -> dict[str, object]:
    from sentvec._extras import require

    yaml = require("yaml", "Reading a YAML config")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of options")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}; valid: {', '.join(keys)}")
    return {str(key): value for key, value in raw.items()}


def _text(key: str, value: object) -> str:
    return str(value)


def _task(key: str, value: object) -> str:
    if value not in TASKS:
        raise ValueError(f"option {key}: expected one of {', '.join(TASKS)}, got {value!r}")
    return str(value)


def _path(key: str, value: object) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"option {key}: expected a path, got {value!r}")
    return Path(value)


def _integer(key: str, value: object) -> int:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError
        return int(value)
    except ValueError:
        raise ValueError(f"option {key}: expected an integer, got {value!r}") from None


def _number(key: str, value: object) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        return float(value)
    except ValueError:
        raise ValueError(f"option {key}: expected a number, got {value!r}") from None


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"option {key}: expected true or false, got {value!r}")
    return value


def _names(key: str, value: object) -> tuple[str, ...]:
    """Column names: ``"a,b,score"`` (a flag or a config string) or a list (a config)."""
    if isinstance(value, str):
        return tuple(value.split(","))
    if isinstance(value, (list, tuple)):
        return tuple(str(name) for name in value)
    raise ValueError(f"option {key}: expected comma-separated names or a list, got {value!r}")


def _range(key: str, value: object) -> tuple[float, float]:
    """``"min,max"`` or a two-item list."""
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)) or len(parts) != 2:
        raise ValueError(f"option {key}: expected min,max, got {value!r}")
    return _number(key, parts[0]), _number(key, parts[1])


def _columns(settings: TrainSettings) -> tuple[list[str | int], str | int | None]:
    """Text columns and label column, from ``columns`` names (headerless files) or the file's header."""
    names = list(settings.columns) if settings.columns else field_names(settings.data)
    label = settings.label or next((n for n in ("score", "label") if n in names), None)
    if label is not None and label not in names:
        raise ValueError(f"label column {label!r} is not among the columns {names}")
    texts = [n for n in names if n != label]
    if settings.columns:  # headerless: positions
        return [names.index(n) for n in texts], (names.index(label) if label is not None else None)
    return list(texts), label


def run(args: argparse.Namespace) -> int:
    """``sentvec train``: train and report."""
    return train(TrainSettings.from_args(args))


def train(settings: TrainSettings) -> int:
    """Train as ``settings`` say; rank 0 (the only process without torchrun) prints the report."""
    import sentvec
    from sentvec.training import losses

    if settings.task == "rerank":
        return train_reranker(settings)
    loss_cls: type[Loss] | None = getattr(losses, settings.loss, None)
    if loss_cls is None or settings.loss not in losses.__all__ or settings.loss in NOT_FROM_CLI:
        valid = ", ".join(n for n in losses.__all__ if n not in NOT_FROM_CLI)
        raise ValueError(f"unknown loss {settings.loss!r} for the command line; valid: {valid}")
    data = _training_data(settings, loss_cls.label_kind.value)
    model = sentvec.load(settings.model, backend="torch")
    evaluator = None
    if settings.eval:
        from sentvec.evaluation import SimilarityEvaluator

        evaluator = SimilarityEvaluator.from_file(settings.eval)
    from sentvec.training.trainer import Trainer

    trainer = Trainer(model, loss_cls(model), data, settings.training_args(), evaluator)
    return _report(trainer.train(resume_from=settings.resume_from))


def train_reranker(settings: TrainSettings) -> int:
    """``--task rerank``: a cross-encoder from a reranker folder, or from an encoder with a new head of
    ``--num-labels`` outputs; ``--eval``: a scored-pairs file (correlation) or a JSONL of reranking samples."""
    from sentvec.training import rerank_losses

    loss_cls: type[CrossEncoderLoss] | None = getattr(rerank_losses, settings.loss, None)
    if loss_cls is None or settings.loss not in rerank_losses.__all__ or settings.loss in NOT_FROM_CLI:
        valid = ", ".join(n for n in rerank_losses.__all__ if n not in NOT_FROM_CLI)
        raise ValueError(f"unknown loss {settings.loss!r} for --task rerank; valid: {valid}")
    data = _training_data(settings, loss_cls.label_kind.value)
    model, started = _reranker(settings, loss_cls, data)
    evaluator = _rerank_evaluator(settings.eval) if settings.eval else None
    from sentvec.training.trainer import Trainer

    trainer = Trainer(model, loss_cls(model), data, settings.training_args(), evaluator)
    result = trainer.train(resume_from=settings.resume_from)
    if int(os.environ.get("RANK", "0")) == 0:
        print(started)
    return _report(result)


def _reranker(
    settings: TrainSettings, loss_cls: type[CrossEncoderLoss], data: TrainingData
) -> tuple[CrossEncoder, str]:
    """The cross-encoder to train, and a line saying where it came from: a reranker folder as it is (with
    ``--num-labels`` it must have that many), else the encoder's weights with a new head."""
    from sentvec.errors import ModelFormatError
    from sentvec.rerank import load_reranker, new_reranker

    try:
        model = load_reranker(settings.model, backend="torch")
    except ModelFormatError as e:
        num_labels = settings.num_labels or _classes(loss_cls, data)
        model = new_reranker(settings.model, num_labels=num_labels, seed=42 if settings.seed is None else settings.seed)
        return model, f"started from the encoder {settings.model} with a new {num_labels}-label head ({e.path})"
    if settings.num_labels is not None and settings.num_labels != model.num_labels:
        raise ValueError(f"--num-labels {settings.num_labels}: the reranker {settings.model} has {model.num_labels}")
    return model, f"started from the reranker {settings.model} ({model.num_labels} label(s))"


def _classes(loss_cls: type[CrossEncoderLoss], data: TrainingData) -> int:
    """The head's outputs when not given: 1, or for a classification loss the largest class id in the data + 1."""
    from sentvec.training.data import LabelKind

    if loss_cls.label_kind is not LabelKind.CLASS:
        return 1
    labels = [e.label for e in data]
    return max(2, 1 + max(int(label) for label in labels if isinstance(label, int)))


def _rerank_evaluator(path: Path) -> CrossEncoderEvaluator:
    """A JSONL of ``{"query", "positive", "negative" | "documents"}`` samples: reranking; otherwise scored pairs."""
    from sentvec.evaluation.rerank import CrossEncoderCorrelationEvaluator, CrossEncoderRerankingEvaluator

    if path.suffix.lower() == ".jsonl":
        from sentvec.jsonl import iter_objects

        first = next((row for _, row in iter_objects(path)), None)
        if isinstance(first, dict) and "query" in first:
            samples = [row for _, row in iter_objects(path)]
            return CrossEncoderRerankingEvaluator(samples, name=path.stem)
    return CrossEncoderCorrelationEvaluator.from_file(path)


def _training_data(settings: TrainSettings, label_kind: str) -> TrainingData:
    """The training file as the loss needs it (labels of ``label_kind``), checked not to be empty."""
    from sentvec.training.data import load_data, require_rows, scale_scores

    text_columns, label = _columns(settings)
    kind = label_kind if label is not None else "none"
    names = None
    if settings.columns:  # headerless: the columns are positions; the card names them as --columns does
        label_names = [settings.columns[label]] if isinstance(label, int) else []
        names = [*(settings.columns[c] for c in text_columns if isinstance(c, int)), *label_names]
    data = load_data(
        settings.data,
        columns=text_columns,
        label=label,
        label_kind=kind,
        score_range=settings.score_range,
        names=names,
    )
    if settings.score_range:
        data = scale_scores(data, *settings.score_range)
    require_rows(data, "train")  # an empty file: one line naming it, before loading the model
    return data


def _report(result: TrainResult) -> int:
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports for all
        return 0
    print(f"trained {result.steps} steps; final loss {result.final_loss:.4f}; model saved to {result.output_dir}")
    if result.best_metric is not None:
        print(f"best evaluation: {result.best_metric:.2f} at step {result.best_step}")
    if result.plot_file:
        print(f"training curve: {result.plot_file}")
    return 0

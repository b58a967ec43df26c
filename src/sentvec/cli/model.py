"""``sentvec export`` (the pipeline as one ONNX graph or OpenVINO IR) and ``sentvec info`` (what a model is)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentvec.cli.common import Subparsers, check_output_file, check_output_folder, overwrite_arg


def add_export_parser(sub: Subparsers) -> None:
    """Register ``export``."""
    p = sub.add_parser(
        "export", help="export the whole pipeline to one ONNX graph or OpenVINO IR, checked against torch"
    )
    p.add_argument("model", help="model name or folder")
    p.add_argument(
        "--format",
        default="onnx",
        choices=["onnx", "openvino"],
        help="onnx: onnx/model.onnx (onnxruntime, OpenVINO); openvino: openvino/openvino_model.xml, converted from "
        "torch with fused attention (the faster input for backend='openvino')",
    )
    p.add_argument("--quantize", choices=["int8"], help="also write onnx/model_qint8.onnx (dynamic int8 weights)")
    p.add_argument("--output", type=Path, help="write a complete copy of the model folder here (default: in place)")
    overwrite_arg(p, "the graphs of an in-place export, or write into an --output folder that holds files")
    p.add_argument("--calibration", type=Path, help="texts (.txt, one per line) to check the graph on")
    p.add_argument("--sts", type=Path, help="an STS file: report each graph's Spearman on it")
    p.set_defaults(func=cmd_export)


def add_info_parser(sub: Subparsers) -> None:
    """Register ``info``."""
    p = sub.add_parser("info", help="describe a model: modules, dimension, max length, files")
    p.add_argument("model", help="model name or folder")
    p.set_defaults(func=cmd_info)


def cmd_export(args: argparse.Namespace) -> int:
    """``sentvec export``."""
    import sentvec
    from sentvec.cli.textio import read_texts
    from sentvec.export import export_onnx, export_openvino

    if args.format == "openvino" and args.quantize:
        raise ValueError("--quantize applies to --format onnx (an OpenVINO IR is float32; bf16 is chosen at load)")
    if args.output is not None:
        check_output_folder(args.output, overwrite=args.overwrite)
    elif Path(args.model).is_dir():  # before the model loads; a model name is checked once it is resolved
        _check_in_place(Path(args.model), args)
    texts = list(read_texts(args.calibration)) if args.calibration else None
    model = sentvec.load(args.model, backend="torch", device="cpu")
    if args.output is None and model.source is not None:
        _check_in_place(model.source, args)
    if args.format == "openvino":
        report = export_openvino(model, args.output, calibration_texts=texts, sts_file=args.sts)
    else:
        report = export_onnx(model, args.output, quantize=args.quantize, calibration_texts=texts, sts_file=args.sts)
    print(f"exported to {report.folder}/{args.format} ({report.calibration_texts} calibration texts)")
    for check in report.checks:
        line = f"  {check.file}: max abs diff {check.max_abs_diff:.2e}, mean cosine {check.mean_cosine:.6f}"
        if check.sts_spearman is not None:
            line += f", STS Spearman {check.sts_spearman:.2f} (torch {check.sts_spearman_torch:.2f})"
        print(line)
    return 0


def _check_in_place(folder: Path, args: argparse.Namespace) -> None:
    """An in-place export writes ``onnx/model.onnx`` (and ``onnx/model_qint8.onnx``) or
    ``openvino/openvino_model.xml`` into the model's folder: graphs already there (a Hub export, say) are replaced
    only with ``--overwrite``."""
    from sentvec.formats import (
        ONNX_DIR,
        ONNX_FP32_FILE,
        ONNX_INT8_FILE,
        OPENVINO_DIR,
        OPENVINO_FILE,
        OPENVINO_WEIGHTS_FILE,
    )

    if args.format == "openvino":
        paths = [folder / OPENVINO_DIR / OPENVINO_FILE, folder / OPENVINO_DIR / OPENVINO_WEIGHTS_FILE]
    else:
        paths = [folder / ONNX_DIR / name for name in [ONNX_FP32_FILE] + ([ONNX_INT8_FILE] * (args.quantize == "int8"))]
    for path in paths:
        if path.exists() and not args.overwrite:
            raise FileExistsError(
                f"{path}: already exists; pass --overwrite to replace it, or --output DIR to export a copy"
            )
        check_output_file(path, overwrite=True)


def cmd_info(args: argparse.Namespace) -> int:
    """``sentvec info``: the model's :class:`~sentvec.encoder.ModelInfo`, one fact a line, and its files."""
    import sentvec

    model = sentvec.load(args.model)
    info = model.info()
    backend = info.backend
    lines = {
        "name": info.name,
        "source": info.source,
        "backend": backend.kind.value,
        "device": backend.device,
        "modules": None if backend.modules is None else list(backend.modules),
        "dimension": info.dimension,
        "max_seq_length": info.max_seq_length,
        "similarity_fn": info.similarity_fn.value,
        "prompts": info.prompts or "-",
        "parameters": "-" if backend.parameters is None else backend.parameters,
    }
    for key, value in lines.items():
        print(f"{key + ':':<16}{value}")
    if model.source is not None:
        files = sorted(str(p.relative_to(model.source)) for p in model.source.rglob("*") if p.is_file())
        print(f"{'files:':<16}{', '.join(files)}")
    return 0

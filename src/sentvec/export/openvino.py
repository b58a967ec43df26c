"""torch → one OpenVINO IR (Transformer + Pooling + Dense + Normalize), converted from the torch pipeline and checked
against torch after conversion.

Why a second export format when OpenVINO also reads the ONNX graph: converting from torch keeps the attention as one
``ScaledDotProductAttention`` operation (and LayerNorm as ``MVN``, GELU as ``Gelu``), which OpenVINO's CPU plugin
runs as fused kernels; the ONNX graph spells attention out as MatMul/Softmax/Add, which it runs op by op. The IR is
written where the reference's ``backend="openvino"`` writes its own (``openvino/openvino_model.xml`` + ``.bin``), so
either library finds it; weights stay float32 (``dtype="bfloat16"`` converts at compile time).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sentvec._extras import require
from sentvec.backends.onnx import cpu_isa
from sentvec.export.onnx import (
    FP32_TOLERANCE,
    GRAPH_OUTPUTS,
    REPORT_FILE,
    ExportError,
    ExportReport,
    GraphCheck,
    Reference,
    check_backend,
    example_inputs,
    graph_module,
    prepare_export,
)
from sentvec.formats import OPENVINO_DIR, OPENVINO_FILE

if TYPE_CHECKING:
    from sentvec.backends.torch import TorchBackend
    from sentvec.encoder import SentenceEncoder


def _convert(model: SentenceEncoder, backend: TorchBackend, path: Path) -> None:
    import torch

    ov = require("openvino", "Export to OpenVINO")
    names, args = example_inputs(model, backend)
    try:
        with torch.inference_mode(False), torch.no_grad():
            converted = ov.convert_model(graph_module(backend.pipeline), example_input=args)
    except Exception as e:  # the converter's errors name neither the model nor the architecture
        arch = backend.transformer.auto_model.config.model_type
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"cannot convert the {arch!r} architecture to OpenVINO: {first}") from e
    for port, name in zip(converted.inputs, names, strict=True):
        port.get_tensor().set_names({name})
    for port, name in zip(converted.outputs, GRAPH_OUTPUTS, strict=True):
        port.get_tensor().set_names({name})
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(converted, str(path), compress_to_fp16=False)  # the default would halve the weights to fp16


def export_openvino(
    model: SentenceEncoder,
    output: str | Path | None = None,
    *,
    calibration_texts: Sequence[str] | None = None,
    sts_file: str | Path | None = None,
) -> ExportReport:
    """Convert ``model`` (a torch-backed :class:`SentenceEncoder`) to ``<folder>/openvino/openvino_model.xml``.

    ``output``: write a complete copy of the model folder there first and put ``openvino/`` inside; default: the
    model's own folder. The IR is checked against torch on the calibration texts at float32 (max abs difference
    above 1e-4 raises :class:`ExportError`) and, on a CPU with AVX512-BF16 or AMX, at bfloat16 too (reported). With
    ``sts_file`` the STS Spearman of each is reported. ``sentvec.load(folder, backend="openvino")`` then runs it.
    """
    from sentvec.backends.openvino import OpenVinoBackend

    backend, folder, texts, sts = prepare_export(model, output, calibration_texts, sts_file)
    path = folder / OPENVINO_DIR / OPENVINO_FILE
    _convert(model, backend, path)
    reference = Reference.of(model, backend, texts, sts)
    file = f"{OPENVINO_DIR}/{OPENVINO_FILE}"
    checks: list[GraphCheck] = [check_backend(model, OpenVinoBackend(path, root=folder), file, reference, sts)]
    if checks[0].max_abs_diff > FP32_TOLERANCE:
        raise ExportError(
            f"{path}: the converted model differs from torch by {checks[0].max_abs_diff:.2e} "
            f"(> {FP32_TOLERANCE:g}) on the calibration texts"
        )
    if "bf16" in cpu_isa():
        bf16 = OpenVinoBackend(path, root=folder, dtype="bfloat16")
        checks.append(check_backend(model, bf16, f"{file} (bfloat16)", reference, sts))
    report = ExportReport(folder=str(folder), calibration_texts=len(texts), checks=tuple(checks))
    (folder / OPENVINO_DIR / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report

"""torch → one ONNX graph of a whole reranker (token ids → logits), checked against torch after export.

The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` (dropped by the exporter for models that do
not read them) and returns ``logits`` (B, C), the interface of the reference's ONNX rerankers; the activation runs
in numpy after it. The checks are the encoder export's: max abs difference to torch on calibration pairs, an
:class:`ExportError` beyond :data:`FP32_TOLERANCE` for the fp32 graph, int8 (dynamic quantization) reported.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from sentvec.backends.rerank_onnx import OnnxRerankBackend
from sentvec.batching import TokenBatch, padded_batches, plan_batches
from sentvec.export.onnx import FP32_TOLERANCE, REPORT_FILE, ExportError, _quantize_int8, default_calibration_texts
from sentvec.formats import ONNX_DIR, ONNX_FP32_FILE, ONNX_INT8_FILE, ONNX_LOGITS_OUTPUT
from sentvec.rerank.activation import apply_activation

if TYPE_CHECKING:
    import torch

    from sentvec.backends.rerank_torch import TorchRerankBackend
    from sentvec.rerank.model import CrossEncoder

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


@dataclasses.dataclass(frozen=True)
class RerankGraphCheck:
    """How one reranker graph compares with the torch model on the calibration pairs: the largest logit and score
    differences, and how alike the two rankings of the pairs are (Spearman of the first logit column, x100)."""

    file: str
    max_abs_diff: float  # logits
    max_score_diff: float  # after the model's activation
    spearman: float


@dataclasses.dataclass(frozen=True)
class RerankExportReport:
    """What was exported and how closely it matches torch (also written to ``onnx/export_report.json``)."""

    folder: str
    calibration_pairs: int
    checks: tuple[RerankGraphCheck, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return dataclasses.asdict(self)


def default_calibration_pairs(n: int = 256, max_words: int = 400, seed: int = 0) -> list[tuple[str, str]]:
    """Deterministic pairs of the encoder export's calibration texts: short with short, short with long (beyond
    any usual ``max_length``, so truncation is exercised) and long with long."""
    texts = default_calibration_texts(n, max_words, seed)
    return [(texts[i], texts[(i * 7 + 3) % n]) for i in range(n)]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two score vectors (x100; ties ranked by position)."""
    if len(a) < 2:
        return 100.0
    ra, rb = (np.argsort(np.argsort(x, kind="stable")).astype(np.float64) for x in (a, b))
    return round(100.0 * float(np.corrcoef(ra, rb)[0, 1]), 4)


def _graph_module(model: torch.nn.Module, token_types: bool) -> torch.nn.Module:
    """The traced module: token tensors in, logits out."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_types:
                kwargs["token_type_ids"] = token_type_ids
            logits: torch.Tensor = self.model(**kwargs, return_dict=True).logits  # (B, C)
            return logits

    return Wrapper().eval()


def _export_fp32(model: CrossEncoder, backend: TorchRerankBackend, path: Path, opset: int) -> None:
    import torch

    tokenized = model.tokenizer.tokenize_pairs([("sentvec exports a reranker", "a graph"), ("short", "pair")])
    batch = next(padded_batches(tokenized, plan_batches(tokenized, 2), model.tokenizer.pad_id))
    feats = backend.features(batch)
    wrapper = _graph_module(backend.model, "token_type_ids" in feats)
    args = tuple(
        torch.from_numpy(a).to(backend.device) for a in (batch.input_ids, batch.attention_mask, batch.token_type_ids)
    )
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes[ONNX_LOGITS_OUTPUT] = {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                wrapper,
                args,
                str(path),
                input_names=list(INPUT_NAMES),
                output_names=[ONNX_LOGITS_OUTPUT],
                dynamic_axes=axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as e:  # the tracer's errors name neither the model nor the architecture
        arch = backend.model.config.model_type
        raise ExportError(f"cannot export the {arch!r} reranker architecture to ONNX (opset {opset}): {e}") from e


@dataclasses.dataclass(frozen=True)
class _Reference:
    """The torch side of every check, computed once: the padded calibration batches and the torch logits of each."""

    batches: list[tuple[TokenBatch, np.ndarray]]

    @classmethod
    def of(cls, model: CrossEncoder, backend: TorchRerankBackend, pairs: Sequence[tuple[str, str]]) -> _Reference:
        tokenized = model.tokenizer.tokenize_pairs(list(pairs))
        plan = plan_batches(tokenized, 32)
        return cls([(b, backend.forward(b)) for b in padded_batches(tokenized, plan, model.tokenizer.pad_id)])


def _check(model: CrossEncoder, graph: Path, reference: _Reference) -> RerankGraphCheck:
    onnx_backend = OnnxRerankBackend(graph, num_labels=model.num_labels)
    want = np.concatenate([ref for _, ref in reference.batches])  # (N, C)
    got = np.concatenate([onnx_backend.forward(batch) for batch, _ in reference.batches])
    act = model.activation_fn
    scores_want, scores_got = apply_activation(want, act, False), apply_activation(got, act, False)
    return RerankGraphCheck(
        file=f"{ONNX_DIR}/{graph.name}",
        max_abs_diff=float(np.abs(want - got).max()),
        max_score_diff=float(np.abs(scores_want - scores_got).max()),
        spearman=_spearman(want[:, 0], got[:, 0]),
    )


def export_reranker_onnx(
    model: CrossEncoder,
    output: str | Path | None = None,
    *,
    quantize: Literal["int8"] | None = None,
    calibration_pairs: Sequence[tuple[str, str]] | None = None,
    opset: int = 17,
) -> RerankExportReport:
    """Export ``model`` (a torch-backed :class:`~sentvec.CrossEncoder`) to ``<folder>/onnx/model.onnx``.

    ``output``: write a complete copy of the reranker folder there first (loadable by ``load_reranker`` and by
    sentence-transformers) and put ``onnx/`` inside; default: the model's own folder. ``quantize="int8"`` adds
    ``onnx/model_qint8.onnx`` (dynamic int8 weights, as the encoder's export). Every graph is checked against torch
    on the calibration pairs (default: :func:`default_calibration_pairs`); an fp32 graph whose logits differ by more
    than 1e-4 raises :class:`ExportError`. The graph then runs without torch: ``load_reranker(folder,
    backend="onnx")``.
    """
    try:
        backend = model.torch
    except TypeError as e:
        raise ValueError("export needs a torch-backed reranker: load_reranker(..., backend='torch')") from e
    if quantize not in (None, "int8"):
        raise ValueError(f"unknown quantization {quantize!r}; valid: int8")
    folder = Path(output) if output is not None else model.source
    if output is not None:
        model.save(folder)
    pairs = list(calibration_pairs) if calibration_pairs is not None else default_calibration_pairs()
    if not pairs:
        raise ValueError("calibration_pairs is empty")
    fp32 = folder / ONNX_DIR / ONNX_FP32_FILE
    _export_fp32(model, backend, fp32, opset)
    reference = _Reference.of(model, backend, pairs)
    checks = [_check(model, fp32, reference)]
    if checks[0].max_abs_diff > FP32_TOLERANCE:
        raise ExportError(
            f"{fp32}: the exported graph's logits differ from torch by {checks[0].max_abs_diff:.2e} "
            f"(> {FP32_TOLERANCE:g}) on the calibration pairs"
        )
    if quantize == "int8":
        int8 = folder / ONNX_DIR / ONNX_INT8_FILE
        _quantize_int8(fp32, int8)
        checks.append(_check(model, int8, reference))
    report = RerankExportReport(folder=str(folder), calibration_pairs=len(pairs), checks=tuple(checks))
    (folder / ONNX_DIR / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report

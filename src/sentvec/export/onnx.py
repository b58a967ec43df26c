"""torch → one ONNX graph (Transformer + Pooling + Dense + Normalize), checked against torch after export."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from sentvec.arrays import to_numpy
from sentvec.backends.base import Backend, OutputValue
from sentvec.backends.onnx import OnnxBackend
from sentvec.batching import TokenBatch, length_sorted_batches
from sentvec.errors import SentvecError
from sentvec.formats import ONNX_DIR, ONNX_FP32_FILE, ONNX_INT8_FILE
from sentvec.similarity import pairwise_cosine

if TYPE_CHECKING:
    import torch

    from sentvec.backends.torch import TorchBackend
    from sentvec.encoder import SentenceEncoder
    from sentvec.evaluation.sts import SimilarityEvaluator

logger = logging.getLogger(__name__)

FP32_TOLERANCE = 1e-4
GRAPH_OUTPUTS = ("sentence_embedding", "token_embeddings")  # what the traced wrapper returns, in order
REPORT_FILE = "export_report.json"
_VOCAB_TEXT = """
the a man woman child dog cat is are was playing eating running walking reading writing on in at with under
over near street park kitchen guitar piano ball bread water river mountain city small large red blue quickly
slowly today yesterday because although while and or but not very two three several people a new study shows
that markets rose sharply after the announcement of lower interest rates 北京 今天 天气 很好 我们 学习 机器 翻译
émigré naïve café 123 4.5% e-mail co-operate don't U.S.A. #hashtag @user
"""


class ExportError(SentvecError, RuntimeError):
    """The exported graph disagrees with the torch model beyond tolerance (or could not be built)."""


@dataclasses.dataclass(frozen=True)
class GraphCheck:
    """How one graph compares with the torch model on the calibration texts."""

    file: str
    max_abs_diff: float
    mean_cosine: float
    min_cosine: float
    sts_spearman: float | None = None
    sts_spearman_torch: float | None = None


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """What was exported and how closely it matches torch (also written to ``onnx/export_report.json``)."""

    folder: str
    calibration_texts: int
    checks: tuple[GraphCheck, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return dataclasses.asdict(self)


def default_calibration_texts(n: int = 512, max_words: int = 400, seed: int = 0) -> list[str]:
    """Deterministic texts of varied length, from one word up to beyond any usual ``max_seq_length``."""
    rng = random.Random(seed)
    lengths = [max(1, int(max_words * (i / n) ** 2)) for i in range(n)]  # many short, some very long
    words = _VOCAB_TEXT.split()
    return [" ".join(rng.choice(words) for _ in range(k)) for k in lengths]


def graph_module(pipeline: torch.nn.Sequential) -> torch.nn.Module:
    """The torch module that is traced: token tensors (and an optional pooling mask) in, both outputs out."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pipeline = pipeline

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
            *rest: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor]:
            feats = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            if rest:
                feats["pooling_mask"] = rest[0]
            feats = self.pipeline(feats)
            return feats["sentence_embedding"], feats["token_embeddings"]

    return Wrapper().eval()


def example_inputs(model: SentenceEncoder, backend: TorchBackend) -> tuple[list[str], tuple[torch.Tensor, ...]]:
    """The graph's input names and a small example batch for the tracer (``pooling_mask`` when the Pooling leaves
    a prompt out)."""
    import torch

    from sentvec.modules import Pooling

    with_pooling_mask = any(isinstance(m, Pooling) and not m.config.include_prompt for m in backend.modules)
    tokenized = model.tokenizer.tokenize(["sentvec exports a graph", "short"])
    batch = next(length_sorted_batches(tokenized, 2, model.tokenizer.pad_id))
    names = ["input_ids", "attention_mask", "token_type_ids"] + (["pooling_mask"] if with_pooling_mask else [])
    arrays = [batch.input_ids, batch.attention_mask, batch.token_type_ids] + (
        [batch.attention_mask] if with_pooling_mask else []
    )
    return names, tuple(torch.from_numpy(a).to(backend.device) for a in arrays)


def _export_fp32(model: SentenceEncoder, backend: TorchBackend, path: Path, opset: int) -> None:
    import torch

    wrapper = graph_module(backend.pipeline)
    names, args = example_inputs(model, backend)
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["sentence_embedding"] = {0: "batch"}
    axes["token_embeddings"] = {0: "batch", 1: "sequence"}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                wrapper,
                args,
                str(path),
                input_names=names,
                output_names=list(GRAPH_OUTPUTS),
                dynamic_axes=axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as e:  # the tracer's errors name neither the model nor the architecture
        arch = backend.transformer.auto_model.config.model_type
        raise ExportError(f"cannot export the {arch!r} architecture to ONNX (opset {opset}): {e}") from e


def _quantize_int8(fp32: Path, int8: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False)


@dataclasses.dataclass(frozen=True)
class Reference:
    """The torch side of every check, computed once for all graphs: the padded calibration batches, the torch
    vectors of each, and the torch model's STS Spearman."""

    batches: list[tuple[TokenBatch, np.ndarray]]
    sts_spearman: float | None

    @classmethod
    def of(
        cls, model: SentenceEncoder, backend: TorchBackend, texts: Sequence[str], sts: SimilarityEvaluator | None
    ) -> Reference:
        tokenized = model.tokenizer.tokenize(list(texts))
        batches = [
            (batch, backend.forward(batch, OutputValue.SENTENCE_EMBEDDING).cpu().numpy())
            for batch in length_sorted_batches(tokenized, 32, model.tokenizer.pad_id)
        ]
        return cls(batches, round(sts(model).primary_value, 4) if sts is not None else None)


def _check(model: SentenceEncoder, graph: Path, reference: Reference, sts: SimilarityEvaluator | None) -> GraphCheck:
    return check_backend(model, OnnxBackend(graph), f"{ONNX_DIR}/{graph.name}", reference, sts)


def check_backend(
    model: SentenceEncoder, backend: Backend, file: str, reference: Reference, sts: SimilarityEvaluator | None
) -> GraphCheck:
    """How ``backend`` (an exported graph, loaded) compares with the torch vectors of ``reference``."""
    diffs, cosines = [], []
    for batch, ref in reference.batches:
        got = to_numpy(backend.forward(batch, OutputValue.SENTENCE_EMBEDDING))
        diffs.append(float(np.abs(ref - got).max()))
        cosines.extend(pairwise_cosine(ref, got))
    spearman = None
    if sts is not None:
        from sentvec.encoder import SentenceEncoder

        graph_model = SentenceEncoder(model.tokenizer, backend, model.config, source=model.source)
        spearman = round(sts(graph_model).primary_value, 4)
    return GraphCheck(
        file=file,
        max_abs_diff=max(diffs),
        mean_cosine=float(np.mean(cosines)),
        min_cosine=float(np.min(cosines)),
        sts_spearman=spearman,
        sts_spearman_torch=reference.sts_spearman,
    )


def prepare_export(
    model: SentenceEncoder,
    output: str | Path | None,
    calibration_texts: Sequence[str] | None,
    sts_file: str | Path | None,
) -> tuple[TorchBackend, Path, list[str], SimilarityEvaluator | None]:
    """What every export starts from: the torch pipeline (traced, and the reference every graph is checked against),
    the folder written to (a saved copy of the model when ``output`` is given), the calibration texts and the STS
    evaluator (when ``sts_file`` is given)."""
    try:
        backend = model.torch
    except TypeError as e:
        raise ValueError("export needs a torch-backed model: sentvec.load(..., backend='torch')") from e
    folder = Path(output) if output is not None else model.source
    if folder is None:
        raise ValueError("the model has no folder: pass output=")
    if output is not None:
        model.save(folder)
    texts = list(calibration_texts) if calibration_texts is not None else default_calibration_texts()
    sts = None
    if sts_file is not None:
        from sentvec.evaluation import SimilarityEvaluator

        sts = SimilarityEvaluator.from_file(sts_file)
    return backend, folder, texts, sts


def export_onnx(
    model: SentenceEncoder,
    output: str | Path | None = None,
    *,
    quantize: Literal["int8"] | None = None,
    calibration_texts: Sequence[str] | None = None,
    sts_file: str | Path | None = None,
    opset: int = 17,
) -> ExportReport:
    """Export ``model`` (a torch-backed :class:`SentenceEncoder`) to ``<folder>/onnx/model.onnx``.

    ``output``: write a complete copy of the model folder there first (loadable by ``sentvec.load`` and by
    sentence-transformers) and put ``onnx/`` inside; default: the model's own folder. ``quantize="int8"`` adds
    ``onnx/model_qint8.onnx`` (dynamic int8 weights). Every graph is checked against torch on the calibration
    texts (default: :func:`default_calibration_texts`); an fp32 graph whose max abs difference exceeds 1e-4
    raises :class:`ExportError`. With ``sts_file`` the STS Spearman of each graph is reported too.
    """
    if quantize not in (None, "int8"):
        raise ValueError(f"unknown quantization {quantize!r}; valid: int8")
    backend, folder, texts, sts = prepare_export(model, output, calibration_texts, sts_file)
    fp32 = folder / ONNX_DIR / ONNX_FP32_FILE
    _export_fp32(model, backend, fp32, opset)
    reference = Reference.of(model, backend, texts, sts)
    checks = [_check(model, fp32, reference, sts)]
    if checks[0].max_abs_diff > FP32_TOLERANCE:
        raise ExportError(
            f"{fp32}: the exported graph differs from torch by {checks[0].max_abs_diff:.2e} "
            f"(> {FP32_TOLERANCE:g}) on the calibration texts"
        )
    if quantize == "int8":
        int8 = folder / ONNX_DIR / ONNX_INT8_FILE
        _quantize_int8(fp32, int8)
        checks.append(_check(model, int8, reference, sts))
    report = ExportReport(folder=str(folder), calibration_texts=len(texts), checks=tuple(checks))
    (folder / ONNX_DIR / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report

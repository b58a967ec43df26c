"""The ONNX backend: an exported graph run with onnxruntime and numpy only (no torch)."""

from __future__ import annotations

import dataclasses
import platform
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec.backends.base import Backend, BackendInfo, BackendKind, OutputValue
from sentvec.backends.numpy_head import NumpyHead
from sentvec.batching import TokenBatch
from sentvec.errors import ModelFormatError

if TYPE_CHECKING:
    import onnxruntime as ort


def resolve_providers(device: str | None) -> list[str]:
    """Execution providers for a device. A requested CUDA provider that is absent is an error, never a
    silent fallback to CPU."""
    import onnxruntime as ort

    if device is None or device == "cpu":
        return ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError(
                f"device {device!r} needs onnxruntime's CUDAExecutionProvider, which this onnxruntime build lacks "
                f"(available: {ort.get_available_providers()}); install onnxruntime-gpu or use device='cpu'"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ValueError(f"unsupported device {device!r} for the onnx backend; use 'cpu' or 'cuda'")


def cpu_isa() -> frozenset[str]:
    """The instruction sets relevant to int8 graphs that this CPU has: "avx2", "avx512", "avx512_vnni", "arm64";
    and "bf16" (AVX512-BF16 or AMX)."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return frozenset({"arm64"})
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: assume the common x86-64 baseline of the reference's exports
        return frozenset({"avx2"})
    found = set()
    if "avx2" in flags:
        found.add("avx2")
    if "avx512f" in flags and "avx512bw" in flags:
        found.add("avx512")
        if "avx512_vnni" in flags or "avx512vnni" in flags:
            found.add("avx512_vnni")
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        found.add("bf16")  # native bfloat16 arithmetic: OpenVINO's dtype="bfloat16" is fast here
    return frozenset(found)


def ort_session(path: Path, device: str | None, threads: int | None) -> tuple[ort.InferenceSession, list[str]]:
    """An onnxruntime session for the graph at ``path`` (all graph optimisations; ``threads`` intra-op threads) and
    its providers; a graph onnxruntime cannot load is a ``ModelFormatError`` naming the file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = resolve_providers(device)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers), providers
    except Exception as e:
        raise ModelFormatError(path, f"cannot load ONNX graph: {e}") from e


# Graph outputs: sentvec's whole-pipeline graph has ``sentence_embedding``; a transformer-only graph as the Hub ships
# it (sentence-transformers' ``backend="onnx"``, optimum) has one of these, and pooling runs in numpy.
PIPELINE_OUTPUT = "sentence_embedding"
TOKEN_OUTPUTS = ("token_embeddings", "last_hidden_state")


class OnnxBackend(Backend):
    """Runs one ONNX graph of a model folder with onnxruntime (thread-safe ``run``): sentvec's whole-pipeline graph,
    or a transformer-only graph followed by the folder's Pooling/Dense/Normalize in numpy (``head``)."""

    kind = BackendKind.ONNX
    # batches of long texts are split to at most 2,048 padded tokens (8 texts of 256): the activations, the attention
    # matrices above all, then take a third of the memory, at the same speed (benchmarks/batch_budget.py)
    default_max_batch_tokens = 2048

    def __init__(
        self,
        path: Path,
        *,
        root: Path | None = None,
        head: Callable[[], NumpyHead] | None = None,
        device: str | None = None,
        threads: int | None = None,
    ) -> None:
        if not path.is_file():
            raise ModelFormatError(path, "missing ONNX graph; create it with `sentvec export MODEL --format onnx`")
        self._device = device or "cpu"
        inputs, outputs = self._open(path, device, threads)
        self.path = path
        self.root = root or path.parent.parent
        self._inputs = inputs
        self._token_output = next((name for name in TOKEN_OUTPUTS if name in outputs), None)
        if PIPELINE_OUTPUT in outputs:
            self.head: NumpyHead | None = None  # pooling runs inside the graph
        elif self._token_output is not None:
            if head is None:
                raise ModelFormatError(path, "a transformer-only graph needs the folder's Pooling configuration")
            self.head = head()
        else:
            raise ModelFormatError(
                path,
                f"unknown graph outputs {outputs}: expected {PIPELINE_OUTPUT!r} (a sentvec export) or one of "
                f"{list(TOKEN_OUTPUTS)} (a transformer-only graph)",
            )

    def _open(self, path: Path, device: str | None, threads: int | None) -> tuple[set[str], list[str]]:
        """Load the graph into onnxruntime; the names of its inputs and outputs."""
        self.session, self._providers = ort_session(path, device, threads)
        return {i.name for i in self.session.get_inputs()}, [o.name for o in self.session.get_outputs()]

    def _run(self, output: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """One output of the graph for ``feeds`` (thread-safe)."""
        (result,) = self.session.run([output], feeds)
        return np.asarray(result, dtype=np.float32)

    def _output_width(self, output: str) -> int:
        """The last dimension of a graph output."""
        return int(next(o for o in self.session.get_outputs() if o.name == output).shape[-1])

    @property
    def pooling_in_graph(self) -> bool:
        """Whether the graph pools (sentvec's export) or numpy does (a Hub-style transformer-only graph)."""
        return self.head is None

    @property
    def dimension(self) -> int:
        """Size of the sentence embedding."""
        if self.head is not None:
            return self.head.dimension
        return self._output_width(PIPELINE_OUTPUT)

    @property
    def device(self) -> str:
        """Where the graph runs."""
        return self._device

    def to(self, device: str) -> None:
        """Changing device means a new session: load again with ``device=``."""
        if device != self._device:
            raise ValueError("the onnx backend's device is fixed at load time; call sentvec.load(..., device=...)")

    def forward(self, batch: TokenBatch, output: OutputValue, prompt_length: int | None = None) -> np.ndarray:
        """Run the graph (and the numpy head after a transformer-only graph); returns float32 numpy arrays."""
        raw = self._run(self._graph_output(output), self._feeds(batch, prompt_length))
        return self._finish(raw, batch, output, prompt_length)

    def _graph_output(self, output: OutputValue) -> str:
        """The graph output that ``output`` is read from (the token output of a transformer-only graph)."""
        if self.head is None:
            return output.value
        assert self._token_output is not None
        return self._token_output

    def _feeds(self, batch: TokenBatch, prompt_length: int | None) -> dict[str, np.ndarray]:
        """The graph's inputs for ``batch`` (the pooling mask leaves a prompt out when the graph pools)."""
        feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = batch.token_type_ids
        if "pooling_mask" in self._inputs:
            mask = batch.attention_mask.copy()
            if prompt_length:
                mask[:, :prompt_length] = 0
            feeds["pooling_mask"] = mask
        return feeds

    def _finish(self, raw: np.ndarray, batch: TokenBatch, output: OutputValue, prompt_length: int | None) -> np.ndarray:
        """The graph's output as ``output``: as it is, or pooled by the numpy head (transformer-only graphs)."""
        if self.head is None or output is OutputValue.TOKEN_EMBEDDINGS:
            return raw
        return self.head(raw, batch.attention_mask, prompt_length)

    def save(self, root: Path) -> None:
        """Copy the model folder the graph belongs to (modules, weights, ``onnx/``)."""
        if self.root.resolve() != root.resolve():
            shutil.copytree(self.root, root, dirs_exist_ok=True)

    def describe(self) -> BackendInfo:
        """Backend, device, graph file, where pooling runs, and providers."""
        return dataclasses.replace(
            super().describe(),
            graph=str(self.path),
            pooling="graph" if self.head is None else "numpy",
            providers=tuple(self._providers),
        )

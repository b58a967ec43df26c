"""The ONNX backend: one exported graph of the whole pipeline, run with onnxruntime and numpy only."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from sentvec.backends.base import Backend, BackendInfo, BackendKind, OutputValue
from sentvec.batching import TokenBatch
from sentvec.errors import ModelFormatError


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


class OnnxBackend(Backend):
    """Runs ``onnx/model.onnx`` (or ``model_qint8.onnx``). One session, safe to share between threads
    (onnxruntime's ``run`` is thread-safe)."""

    kind = BackendKind.ONNX

    def __init__(self, path: Path, *, device: str | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        if not path.is_file():
            raise ModelFormatError(path, "missing ONNX graph; create it with `sentvec export MODEL --format onnx`")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self._providers = resolve_providers(device)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=self._providers)
        except Exception as e:
            raise ModelFormatError(path, f"cannot load ONNX graph: {e}") from e
        self.path = path
        self._device = device or "cpu"
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._outputs = [o.name for o in self.session.get_outputs()]

    @property
    def dimension(self) -> int:
        """Width of the ``sentence_embedding`` output."""
        out = next(o for o in self.session.get_outputs() if o.name == "sentence_embedding")
        return int(out.shape[-1])

    @property
    def device(self) -> str:
        """Where the graph runs."""
        return self._device

    def to(self, device: str) -> None:
        """Changing device means a new session: load again with ``device=``."""
        if device != self._device:
            raise ValueError("the onnx backend's device is fixed at load time; call sentvec.load(..., device=...)")

    def forward(self, batch: TokenBatch, output: OutputValue, prompt_length: int | None = None) -> np.ndarray:
        """Run the graph; returns float32 numpy arrays."""
        feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = batch.token_type_ids
        if "pooling_mask" in self._inputs:
            mask = batch.attention_mask.copy()
            if prompt_length:
                mask[:, :prompt_length] = 0
            feeds["pooling_mask"] = mask
        name = output.value
        (result,) = self.session.run([name], feeds)
        return np.asarray(result, dtype=np.float32)

    def save(self, root: Path) -> None:
        """Copy the model folder the graph belongs to (modules, weights, ``onnx/``)."""
        source = self.path.parent.parent
        if source.resolve() != root.resolve():
            shutil.copytree(source, root, dirs_exist_ok=True)

    def describe(self) -> BackendInfo:
        """Backend, device, graph file and providers."""
        return dataclasses.replace(super().describe(), graph=str(self.path), providers=tuple(self._providers))

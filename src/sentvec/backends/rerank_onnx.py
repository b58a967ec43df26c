"""The ONNX reranker backend: a sequence-classification graph (``logits`` out) run with onnxruntime and numpy only.

It runs sentvec's export and the reference's (``CrossEncoder(..., backend="onnx")``) alike: both take
``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the model reads them) and return ``logits``.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from sentvec.backends.base import BackendInfo, BackendKind
from sentvec.backends.onnx import ort_session
from sentvec.backends.rerank_base import RerankBackend
from sentvec.batching import TokenBatch
from sentvec.errors import ModelFormatError
from sentvec.formats import ONNX_LOGITS_OUTPUT


class OnnxRerankBackend(RerankBackend):
    """One reranker graph in an onnxruntime session (``run`` is thread-safe)."""

    kind = BackendKind.ONNX

    def __init__(
        self,
        path: Path,
        *,
        root: Path | None = None,
        num_labels: int | None = None,
        device: str | None = None,
        threads: int | None = None,
    ) -> None:
        if not path.is_file():
            raise ModelFormatError(path, "missing ONNX graph; create it with sentvec.export.export_reranker_onnx")
        self.session, self._providers = ort_session(path, device, threads)
        self.path = path
        self.root = root or path.parent.parent
        self._device = device or "cpu"
        self._inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if ONNX_LOGITS_OUTPUT not in outputs:
            raise ModelFormatError(
                path,
                f"graph outputs {sorted(outputs)} have no {ONNX_LOGITS_OUTPUT!r}: not a reranker graph "
                "(an embedding model's graph loads with sentvec.load)",
            )
        width = outputs[ONNX_LOGITS_OUTPUT].shape[-1]
        if isinstance(width, int):
            if num_labels is not None and width != num_labels:
                raise ModelFormatError(path, f"the graph returns {width} logits per pair; config.json has {num_labels}")
            num_labels = width
        if num_labels is None:
            raise ModelFormatError(path, "the graph's logits width is dynamic and no num_labels was given")
        self._num_labels = num_labels

    @property
    def num_labels(self) -> int:
        """Width of a row of logits."""
        return self._num_labels

    @property
    def device(self) -> str:
        """Where the graph runs."""
        return self._device

    def to(self, device: str) -> None:
        """Changing device means a new session: load again with ``device=``."""
        if device != self._device:
            raise ValueError("the onnx backend's device is fixed at load time; call load_reranker(..., device=...)")

    def forward(self, batch: TokenBatch) -> np.ndarray:
        """Run the graph: logits (B, C), float32."""
        feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = batch.token_type_ids
        (logits,) = self.session.run([ONNX_LOGITS_OUTPUT], feeds)
        return np.asarray(logits, dtype=np.float32).reshape(len(batch.rows), self._num_labels)

    def save(self, root: Path) -> None:
        """Copy the model folder the graph belongs to (weights, tokenizer, ``onnx/``)."""
        if self.root.resolve() != root.resolve():
            shutil.copytree(self.root, root, dirs_exist_ok=True)

    def describe(self) -> BackendInfo:
        """Backend, device, graph file and providers."""
        return dataclasses.replace(super().describe(), graph=str(self.path), providers=tuple(self._providers))

"""The torch reranker backend: a ``transformers`` sequence-classification model (what training builds on)."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import numpy as np
import torch

from sentvec._extras import require
from sentvec.backends.base import BackendInfo, BackendKind
from sentvec.backends.rerank_base import RerankBackend
from sentvec.backends.torch import resolve_device
from sentvec.batching import TokenBatch, Tokenized, pad_batch
from sentvec.errors import ModelFormatError
from sentvec.formats import HF_CONFIG_FILE, WEIGHT_FILES
from sentvec.modules.base import HFModel

Features = dict[str, torch.Tensor]


class TorchRerankBackend(RerankBackend):
    """``AutoModelForSequenceClassification``: token ids (B, T) → logits (B, C), in float32."""

    kind = BackendKind.TORCH

    def __init__(self, model: torch.nn.Module, device: str | None = None, trust_remote_code: bool = False) -> None:
        self.model: HFModel = model
        self.trust_remote_code = trust_remote_code
        self._device = resolve_device(device)
        self._accepts_token_type_ids = "token_type_ids" in inspect.signature(model.forward).parameters
        self.model.to(self._device)
        self.model.eval()

    @classmethod
    def from_folder(
        cls, folder: Path, *, device: str | None = None, trust_remote_code: bool = False
    ) -> TorchRerankBackend:
        """Load the model; missing weights, or a classification head absent from the weights (which transformers
        would fill with random values), are a ModelFormatError naming the file."""
        transformers = require("transformers", "The torch reranker backend")
        weights = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
        if not weights:
            raise ModelFormatError(folder / WEIGHT_FILES[0], f"missing weights (looked for {', '.join(WEIGHT_FILES)})")
        try:
            model, loading = transformers.AutoModelForSequenceClassification.from_pretrained(
                str(folder), local_files_only=True, trust_remote_code=trust_remote_code, output_loading_info=True
            )
        except Exception as e:
            raise ModelFormatError(weights[0], f"cannot load the sequence-classification model: {e}") from e
        missing = sorted(loading.get("missing_keys") or [])
        if missing:
            raise ModelFormatError(
                weights[0],
                f"weights missing for {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}: "
                f"they would be initialised at random (see {folder / HF_CONFIG_FILE})",
            )
        return cls(model, device=device, trust_remote_code=trust_remote_code)

    @property
    def num_labels(self) -> int:
        """Width of a row of logits (``config.num_labels``)."""
        return int(self.model.config.num_labels)

    @property
    def device(self) -> str:
        """Where the model lives."""
        return self._device

    def to(self, device: str) -> None:
        """Move the model."""
        self._device = resolve_device(device)
        self.model.to(self._device)

    def features(self, batch: TokenBatch) -> Features:
        """The batch as tensors on the device (``token_type_ids`` only for models that read them)."""
        feats: Features = {
            "input_ids": torch.from_numpy(batch.input_ids).to(self._device),
            "attention_mask": torch.from_numpy(batch.attention_mask).to(self._device),
        }
        if self._accepts_token_type_ids:
            feats["token_type_ids"] = torch.from_numpy(batch.token_type_ids).to(self._device)
        return feats

    def logits(self, tokenized: Tokenized, pad_id: int = 0) -> torch.Tensor:
        """The training forward pass: logits (B, C) that carry gradients, rows in input order. ``tokenized`` comes
        from ``CrossEncoder.tokenize`` (truncated at ``max_length``, token type ids kept)."""
        batch = pad_batch(tokenized.ids, np.arange(len(tokenized.ids)), pad_id, tokenized.type_ids)
        out: torch.Tensor = self.model(**self.features(batch), return_dict=True).logits
        return out

    def forward(self, batch: TokenBatch) -> np.ndarray:
        """Logits (B, C) without gradients or dropout, float32 numpy."""
        training = self.model.training
        if training:
            self.model.eval()
        try:
            with torch.inference_mode(), torch.autocast(device_type=self._device.split(":")[0], enabled=False):
                logits = self.model(**self.features(batch), return_dict=True).logits  # (B, C)
        finally:
            if training:
                self.model.train()
        return logits.float().cpu().numpy()

    def save(self, root: Path) -> None:
        """``config.json`` and ``model.safetensors``."""
        self.model.save_pretrained(str(root), safe_serialization=True)

    def describe(self) -> BackendInfo:
        """Backend, device, dtype, the model class and its size."""
        return dataclasses.replace(
            super().describe(),
            dtype="float32",
            modules=(type(self.model).__name__,),
            parameters=int(sum(p.numel() for p in self.model.parameters())),
            remote_code=self.trust_remote_code,
        )

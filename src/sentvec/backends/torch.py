"""The torch backend: runs the module pipeline (also what training uses)."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import torch

from sentvec.backends.base import Backend, BackendInfo, BackendKind, OutputValue
from sentvec.batching import TokenBatch, Tokenized, pad_batch
from sentvec.formats import ModelLayout, ModuleKind, write_modules
from sentvec.modules.base import Features, Module
from sentvec.modules.configs import PoolingConfig, PoolingMode
from sentvec.modules.dense import Dense
from sentvec.modules.normalize import Normalize
from sentvec.modules.pooling import Pooling
from sentvec.modules.transformer import Transformer

_LOADERS: dict[ModuleKind, type[Module]] = {
    ModuleKind.POOLING: Pooling,
    ModuleKind.DENSE: Dense,
    ModuleKind.NORMALIZE: Normalize,
}

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str | None) -> str:
    """``None`` → cuda when available, else cpu. A requested device that is absent is an error."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but torch sees no CUDA device")
    return device


class TorchBackend(Backend):
    """A ``torch.nn.Sequential`` of sentvec modules: the torch pipeline that training, vocabulary extension, ONNX
    export and weight fingerprints work on (``SentenceEncoder.torch``)."""

    kind = BackendKind.TORCH

    def __init__(self, modules: list[Module], device: str | None = None, dtype: str = "float32") -> None:
        if not modules or not isinstance(modules[0], Transformer):
            raise ValueError("the first module must be a Transformer")
        if dtype not in _DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(_DTYPES)}")
        self.pipeline = torch.nn.Sequential(*modules)
        self._device = resolve_device(device)
        self.dtype = dtype
        self.pipeline.to(self._device)
        self.pipeline.eval()

    @classmethod
    def from_layout(
        cls,
        layout: ModelLayout,
        *,
        device: str | None = None,
        max_seq_length: int | None = None,
        pooling: PoolingMode | None = None,
        dtype: str = "float32",
        trust_remote_code: bool = False,
    ) -> TorchBackend:
        """Load every module listed by the layout."""
        transformer = Transformer.load(layout.module_dir(layout.modules[0]), max_seq_length, trust_remote_code)
        modules: list[Module] = [transformer]
        for entry in layout.modules[1:]:
            folder = layout.module_dir(entry)
            if entry.kind is ModuleKind.POOLING and layout.layout == "huggingface":
                mode = pooling or PoolingMode.MEAN
                modules.append(Pooling(PoolingConfig(dimension=transformer.hidden_size, modes=(mode,))))
            else:
                modules.append(_LOADERS[entry.kind].load(folder))
        return cls(modules, device=device, dtype=dtype)

    @property
    def modules(self) -> list[Module]:
        """The pipeline's modules in order."""
        return list(self.pipeline)  # type: ignore[arg-type]

    @property
    def transformer(self) -> Transformer:
        """The first module."""
        return self.pipeline[0]  # type: ignore[return-value]

    @property
    def dimension(self) -> int:
        """Size of the sentence embedding (probed from the last module that sets it)."""
        dim = self.transformer.hidden_size
        for module in self.modules[1:]:
            if isinstance(module, Pooling):
                dim = module.config.output_dimension
            elif isinstance(module, Dense):
                dim = module.config.out_features
        return dim

    @property
    def device(self) -> str:
        """Where the pipeline lives."""
        return self._device

    def to(self, device: str) -> None:
        """Move the pipeline."""
        self._device = resolve_device(device)
        self.pipeline.to(self._device)

    def features(self, batch: TokenBatch, prompt_length: int | None = None) -> Features:
        """The batch as tensors on the device."""
        feats: Features = {
            "input_ids": torch.from_numpy(batch.input_ids).to(self._device),
            "attention_mask": torch.from_numpy(batch.attention_mask).to(self._device),
            "token_type_ids": torch.from_numpy(batch.token_type_ids).to(self._device),
        }
        if prompt_length:
            feats["prompt_length"] = prompt_length
        return feats

    def set_max_seq_length(self, max_seq_length: int) -> None:
        """Saved models truncate at ``max_seq_length`` too."""
        transformer = self.transformer
        transformer.config = dataclasses.replace(transformer.config, max_seq_length=max_seq_length)

    def embed(self, tokenized: Tokenized, pad_id: int = 0) -> torch.Tensor:
        """The training forward pass: sentence embeddings (B, D) that carry gradients, rows in input order.

        ``tokenized`` comes from ``SentenceEncoder.tokenize`` (truncated at ``max_seq_length``, prompt counted)."""
        batch = pad_batch(tokenized.ids, np.arange(len(tokenized.ids)), pad_id)
        features = self.features(batch, tokenized.prompt_length)
        out: torch.Tensor = self.pipeline(features)["sentence_embedding"]
        return out

    def forward(self, batch: TokenBatch, output: OutputValue, prompt_length: int | None = None) -> torch.Tensor:
        """Run the pipeline without gradients; returns float32 tensors."""
        feats = self.features(batch, prompt_length)
        training = self.pipeline.training  # encode always runs without dropout, even mid-training
        if training:
            self.pipeline.eval()
        try:
            with torch.inference_mode(), self._autocast():
                if output is OutputValue.TOKEN_EMBEDDINGS:
                    out = self.transformer(feats)["token_embeddings"]  # (B, T, H)
                else:
                    out = self.pipeline(feats)["sentence_embedding"]  # (B, D)
        finally:
            if training:
                self.pipeline.train()
        return out.float()

    def _autocast(self) -> AbstractContextManager[None]:
        if self.dtype == "float32":
            return torch.autocast(device_type=self._device.split(":")[0], enabled=False)
        return torch.autocast(device_type=self._device.split(":")[0], dtype=_DTYPES[self.dtype])

    def save(self, root: Path) -> None:
        """Write each module into its folder (the Transformer at the root) and ``modules.json``."""
        entries: list[tuple[ModuleKind, str]] = []
        for i, module in enumerate(self.modules):
            rel = "" if module.kind is ModuleKind.TRANSFORMER else f"{i}_{module.kind.value}"
            folder = root / rel
            folder.mkdir(parents=True, exist_ok=True)
            module.save(folder)
            entries.append((module.kind, rel))
        write_modules(root, entries)

    def describe(self) -> BackendInfo:
        """Backend, device, dtype and the module chain."""
        return dataclasses.replace(
            super().describe(),
            dtype=self.dtype,
            modules=tuple(type(m).__name__ for m in self.modules),
            parameters=int(sum(p.numel() for p in self.pipeline.parameters())),
            remote_code=self.transformer.trust_remote_code,
        )

"""Transformer: any Hugging Face encoder, token ids (B, T) → token embeddings (B, T, H)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from sentvec._extras import require
from sentvec.errors import ModelFormatError
from sentvec.formats import (
    HF_CONFIG_FILE,
    SBERT_CONFIG_FILE,
    WEIGHT_FILES,
    ModuleKind,
    TransformerConfig,
    read_json,
    read_transformer_config,
    write_json,
)
from sentvec.modules.base import Features, Module


class Transformer(Module):
    """Wraps a ``transformers`` encoder; adds ``token_embeddings`` to the features."""

    kind = ModuleKind.TRANSFORMER

    def __init__(self, model: torch.nn.Module, config: TransformerConfig) -> None:
        super().__init__()
        self.auto_model: Any = model
        self.config = config
        params = inspect.signature(model.forward).parameters
        self._accepts_token_type_ids = "token_type_ids" in params

    @property
    def hidden_size(self) -> int:
        """Width of the token embeddings."""
        return int(self.auto_model.config.hidden_size)

    def forward(self, features: Features) -> Features:
        """input_ids, attention_mask (B, T) → token_embeddings (B, T, H)."""
        inputs = {"input_ids": features["input_ids"], "attention_mask": features["attention_mask"]}
        if self._accepts_token_type_ids and "token_type_ids" in features:
            inputs["token_type_ids"] = features["token_type_ids"]
        out = self.auto_model(**inputs, return_dict=True)
        features["token_embeddings"] = out.last_hidden_state
        return features

    def save(self, folder: Path) -> None:
        """Write the encoder (``config.json``, ``model.safetensors``) and ``sentence_bert_config.json``."""
        self.auto_model.save_pretrained(str(folder), safe_serialization=True)
        write_json(folder / SBERT_CONFIG_FILE, self.config.to_json())

    @classmethod
    def load(cls, folder: Path, max_seq_length: int | None = None) -> Transformer:
        """Load the encoder with ``transformers.AutoModel``; missing or broken files are named."""
        transformers = require("transformers", "The torch backend")
        config = read_transformer_config(folder, max_seq_length)
        if not (folder / HF_CONFIG_FILE).is_file():
            raise ModelFormatError(folder / HF_CONFIG_FILE, "missing encoder configuration")
        read_json(folder / HF_CONFIG_FILE)  # a syntax error names the file, not a transformers internal
        weights = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
        if not weights:
            raise ModelFormatError(folder / WEIGHT_FILES[0], f"missing weights (looked for {', '.join(WEIGHT_FILES)})")
        try:
            model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True)
        except Exception as e:
            raise ModelFormatError(weights[0], f"cannot load the encoder: {e}") from e
        return cls(model, config)

"""Transformer: any Hugging Face encoder, token ids (B, T) → token embeddings (B, T, H)."""

from __future__ import annotations

import inspect
from pathlib import Path

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
from sentvec.modules.base import Features, HFModel, Module


class Transformer(Module):
    """Wraps a ``transformers`` encoder; adds ``token_embeddings`` to the features."""

    kind = ModuleKind.TRANSFORMER

    def __init__(self, model: torch.nn.Module, config: TransformerConfig) -> None:
        super().__init__()
        self.auto_model: HFModel = model
        self.config = config
        self.trust_remote_code = False  # whether transformers was allowed to run the model's own code
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
    def load(cls, folder: Path, max_seq_length: int | None = None, trust_remote_code: bool = False) -> Transformer:
        """Load the encoder with ``transformers.AutoModel``; missing or broken files are named."""
        transformers = require("transformers", "The torch backend")
        config = read_transformer_config(folder, max_seq_length)
        if not (folder / HF_CONFIG_FILE).is_file():
            raise ModelFormatError(folder / HF_CONFIG_FILE, "missing encoder configuration")
        hf_config = read_json(folder / HF_CONFIG_FILE)  # a syntax error names the file, not a transformers internal
        weights = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
        if not weights:
            raise ModelFormatError(folder / WEIGHT_FILES[0], f"missing weights (looked for {', '.join(WEIGHT_FILES)})")
        _check_sizes(folder / HF_CONFIG_FILE, hf_config, weights[0])
        try:
            model = transformers.AutoModel.from_pretrained(
                str(folder), local_files_only=True, trust_remote_code=trust_remote_code
            )
        except Exception as e:
            raise ModelFormatError(weights[0], f"cannot load the encoder: {e}") from e
        module = cls(model, config)
        module.trust_remote_code = trust_remote_code
        return module


# config.json sizes checked against the weights' shapes before transformers allocates anything.
_SIZE_KEYS = {"max_position_embeddings": "position_embeddings.weight", "vocab_size": "word_embeddings.weight"}


def _check_sizes(config_path: Path, hf_config: object, weights: Path) -> None:
    """A ``config.json`` whose sizes disagree with the weights is named as the culprit (transformers would try to
    allocate the configured size first, then blame the weights). Only single-file safetensors are checked."""
    if not isinstance(hf_config, dict) or weights.name != "model.safetensors":
        return
    shapes = _safetensors_shapes(weights)
    for key, suffix in _SIZE_KEYS.items():
        value = hf_config.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelFormatError(config_path, f"{key} must be a positive integer, got {value!r}")
        rows = next((shape[0] for name, shape in shapes.items() if name.endswith(suffix) and shape), None)
        if rows is not None and value != rows:
            raise ModelFormatError(
                config_path, f"{key}={value} does not match the weights ({rows} rows of {suffix} in {weights.name})"
            )


def _safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor shapes from a safetensors header (8-byte length, then JSON), without reading the tensors."""
    import json
    import struct

    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(min(size, 100_000_000)))
    except (OSError, struct.error, ValueError) as e:
        raise ModelFormatError(path, f"cannot read the safetensors header: {e}") from e
    if not isinstance(header, dict):
        raise ModelFormatError(path, "malformed safetensors header")
    return {
        name: list(entry.get("shape", []))
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict)
    }

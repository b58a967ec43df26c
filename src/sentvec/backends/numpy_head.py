"""Pooling, Dense and Normalize in numpy, from the folder's module configs: what runs after a transformer-only
ONNX graph (as the Hub ships them: output ``last_hidden_state`` / ``token_embeddings``), torch-free."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sentvec.errors import ModelFormatError
from sentvec.formats import MODULE_CONFIG_FILE, MODULE_WEIGHT_FILES, ModelLayout, ModuleKind, read_json
from sentvec.modules.configs import DenseConfig, PoolingConfig, PoolingMode

_erf = np.vectorize(math.erf, otypes=[np.float64])

# The activations sentence-transformers writes (the same closed registry as the torch Dense), as numpy functions.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.Tanh": np.tanh,
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.Identity": lambda x: x,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0),
    "torch.nn.modules.activation.GELU": lambda x: (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(x.dtype),
    "torch.nn.modules.activation.Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "torch.nn.modules.activation.SiLU": lambda x: x / (1.0 + np.exp(-x)),
}


@dataclasses.dataclass(frozen=True)
class DenseLayer:
    """One Dense module: ``activation(x @ weight.T + bias)``."""

    config: DenseConfig
    weight: np.ndarray  # (out, in) float32
    bias: np.ndarray | None  # (out,)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(B, in) → (B, out)."""
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        return ACTIVATIONS[self.config.activation](y).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class NumpyHead:
    """Everything after the transformer: pooling (one or several modes, concatenated), Dense layers, Normalize."""

    pooling: PoolingConfig
    dense: tuple[DenseLayer, ...] = ()
    normalize: bool = False

    @property
    def dimension(self) -> int:
        """Size of the sentence embedding."""
        return self.dense[-1].config.out_features if self.dense else self.pooling.output_dimension

    @classmethod
    def from_layout(cls, layout: ModelLayout, hidden_size: int, pooling: PoolingMode | None = None) -> NumpyHead:
        """The head a model folder describes (a plain Hugging Face folder: ``pooling``, mean by default)."""
        config: PoolingConfig | None = None
        dense: list[DenseLayer] = []
        normalize = False
        for entry in layout.modules[1:]:
            folder = layout.module_dir(entry)
            if entry.kind is ModuleKind.POOLING:
                config = _pooling_config(folder, layout, hidden_size, pooling)
            elif entry.kind is ModuleKind.DENSE:
                dense.append(_dense_layer(folder))
            elif entry.kind is ModuleKind.NORMALIZE:
                normalize = True
        if config is None:
            raise ModelFormatError(layout.root / "modules.json", "no Pooling module: cannot pool token embeddings")
        return cls(pooling=config, dense=tuple(dense), normalize=normalize)

    def __call__(self, tokens: np.ndarray, mask: np.ndarray, prompt_length: int | None = None) -> np.ndarray:
        """Token embeddings (B, T, H) and attention mask (B, T) → sentence embeddings (B, D) float32."""
        tokens = np.asarray(tokens, dtype=np.float32)
        pool_mask = mask
        if prompt_length and not self.pooling.include_prompt:
            pool_mask = mask.copy()
            pool_mask[:, :prompt_length] = 0  # right padding: the prompt is the first tokens
        parts = [pool(mode, tokens, pool_mask) for mode in self.pooling.modes]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)
        for layer in self.dense:
            out = layer(out)
        if self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        return np.asarray(out, dtype=np.float32)


def pool(mode: PoolingMode, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One pooling mode as the torch Pooling computes it. tokens (B, T, H), mask (B, T) → (B, H)."""
    rows = np.arange(tokens.shape[0])
    m = mask.astype(np.float32)[:, :, None]  # (B, T, 1)
    if mode is PoolingMode.CLS:
        return tokens[rows, mask.argmax(axis=1)]
    if mode is PoolingMode.MAX:
        return np.where(m > 0, tokens, -np.inf).max(axis=1).astype(np.float32)
    if mode in (PoolingMode.MEAN, PoolingMode.MEAN_SQRT_LEN):
        total = (tokens * m).sum(axis=1)  # (B, H)
        count = np.maximum(m.sum(axis=1), 1e-9)  # (B, 1)
        return total / (count if mode is PoolingMode.MEAN else np.sqrt(count))
    if mode is PoolingMode.WEIGHTED_MEAN:
        wm = m * np.arange(1, tokens.shape[1] + 1, dtype=np.float32)[None, :, None]  # position weights 1..T
        return (tokens * wm).sum(axis=1) / np.maximum(wm.sum(axis=1), 1e-9)
    # LAST_TOKEN: the last position whose mask is 1 (a row with no such position gives zeros)
    last = tokens.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
    return (tokens * m)[rows, last]


def _pooling_config(folder: Path, layout: ModelLayout, hidden: int, mode: PoolingMode | None) -> PoolingConfig:
    if layout.layout == "huggingface":
        return PoolingConfig(dimension=hidden, modes=(mode or PoolingMode.MEAN,))
    path = folder / MODULE_CONFIG_FILE
    if not path.is_file():
        raise ModelFormatError(path, "missing pooling configuration")
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise ModelFormatError(path, "expected a JSON object")
    return PoolingConfig.from_json(raw, path)


def _dense_layer(folder: Path) -> DenseLayer:
    path = folder / MODULE_CONFIG_FILE
    if not path.is_file():
        raise ModelFormatError(path, "missing Dense configuration")
    config = DenseConfig.from_json(read_json(path), path)
    if config.activation not in ACTIVATIONS:
        raise ModelFormatError(path, f"unsupported activation {config.activation!r}; supported: {sorted(ACTIVATIONS)}")
    weights = folder / MODULE_WEIGHT_FILES[0]
    if not weights.is_file():
        raise ModelFormatError(weights, "missing Dense weights (the torch-free runtime reads safetensors only)")
    from safetensors.numpy import load_file

    try:
        state = load_file(str(weights))
        weight = state["linear.weight"].astype(np.float32)
        bias = state["linear.bias"].astype(np.float32) if config.bias else None
    except Exception as e:  # the safetensors error is opaque; name the file
        raise ModelFormatError(weights, f"cannot read Dense weights: {e}") from e
    if weight.shape != (config.out_features, config.in_features):
        raise ModelFormatError(
            weights,
            f"linear.weight has shape {weight.shape}, config says ({config.out_features}, {config.in_features})",
        )
    return DenseLayer(config=config, weight=weight, bias=bias)

"""The torch-free configurations of the pipeline's modules, as ``N_Pooling/config.json`` and ``N_Dense/config.json``
hold them (the ONNX backend pools in numpy from the same configs)."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

from sentvec.enums import parse_enum
from sentvec.errors import ModelFormatError


class PoolingMode(str, enum.Enum):
    """How token embeddings are reduced to one vector. Values are sentence-transformers' names."""

    MEAN = "mean"
    MAX = "max"
    CLS = "cls"
    MEAN_SQRT_LEN = "mean_sqrt_len_tokens"
    WEIGHTED_MEAN = "weightedmean"
    LAST_TOKEN = "lasttoken"

    @classmethod
    def parse(cls, value: str | PoolingMode) -> PoolingMode:
        """Accept a member, its value, or a spelling such as ``weighted_mean`` / ``last_token``."""
        return parse_enum(cls, value, "pooling mode", _ALIASES)


_ALIASES = {
    "mean_tokens": "mean",
    "max_tokens": "max",
    "cls_token": "cls",
    "mean_sqrt_len": "mean_sqrt_len_tokens",
    "weighted_mean": "weightedmean",
    "weightedmean_tokens": "weightedmean",
    "last_token": "lasttoken",
}
# Legacy config keys (one boolean per mode), as written by sentence-transformers < 6, in the order in which
# sentence-transformers concatenates the enabled modes.
_LEGACY_KEYS = {
    "pooling_mode_cls_token": PoolingMode.CLS,
    "pooling_mode_max_tokens": PoolingMode.MAX,
    "pooling_mode_mean_tokens": PoolingMode.MEAN,
    "pooling_mode_mean_sqrt_len_tokens": PoolingMode.MEAN_SQRT_LEN,
    "pooling_mode_weightedmean_tokens": PoolingMode.WEIGHTED_MEAN,
    "pooling_mode_lasttoken": PoolingMode.LAST_TOKEN,
}
_LEGACY_ORDER = tuple(_LEGACY_KEYS.values())


@dataclasses.dataclass(frozen=True)
class PoolingConfig:
    """Token dimension, the mode(s) (several are concatenated) and whether prompt tokens are pooled."""

    dimension: int
    modes: tuple[PoolingMode, ...] = (PoolingMode.MEAN,)
    include_prompt: bool = True

    @property
    def output_dimension(self) -> int:
        """Size of the pooled vector."""
        return self.dimension * len(self.modes)

    def to_json(self) -> dict[str, Any]:
        """The classic on-disk form (booleans), which every sentence-transformers version reads, when it can
        express the order of the modes; otherwise the newer ``pooling_mode`` list, which keeps it."""
        data: dict[str, Any] = {"word_embedding_dimension": self.dimension}
        if tuple(sorted(self.modes, key=_LEGACY_ORDER.index)) == self.modes:
            data.update({key: mode in self.modes for key, mode in _LEGACY_KEYS.items()})
        else:
            data["pooling_mode"] = [mode.value for mode in self.modes]
        data["include_prompt"] = self.include_prompt
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path) -> PoolingConfig:
        """Read either the classic (booleans) or the newer (``pooling_mode``) form."""
        dim = data.get("word_embedding_dimension", data.get("embedding_dimension"))
        if not isinstance(dim, int):
            raise ModelFormatError(source, "missing integer 'word_embedding_dimension'")
        raw_modes = data.get("pooling_mode")
        try:
            if raw_modes is None:
                modes = tuple(mode for key, mode in _LEGACY_KEYS.items() if data.get(key))
            elif isinstance(raw_modes, str):
                modes = (PoolingMode.parse(raw_modes),)
            else:
                modes = tuple(PoolingMode.parse(m) for m in raw_modes)
        except ValueError as e:
            raise ModelFormatError(source, str(e)) from e
        if not modes:
            raise ModelFormatError(source, "no pooling mode is enabled")
        return cls(dimension=dim, modes=modes, include_prompt=bool(data.get("include_prompt", True)))


@dataclasses.dataclass(frozen=True)
class DenseConfig:
    """Shape of the layer and the activation's dotted name (one of :data:`sentvec.modules.dense.ACTIVATIONS`)."""

    in_features: int
    out_features: int
    bias: bool = True
    activation: str = "torch.nn.modules.activation.Tanh"

    def to_json(self) -> dict[str, Any]:
        """The on-disk form (sentence-transformers' keys)."""
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias,
            "activation_function": self.activation,
        }

    @classmethod
    def from_json(cls, data: object, source: Path) -> DenseConfig:
        """Read sentence-transformers' keys; a missing or mistyped key names the file."""
        if not isinstance(data, dict):
            raise ModelFormatError(source, "expected a JSON object")
        try:
            return cls(
                in_features=int(data["in_features"]),
                out_features=int(data["out_features"]),
                bias=bool(data.get("bias", True)),
                activation=str(data.get("activation_function", cls.activation)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFormatError(source, f"invalid Dense configuration: {e}") from e

"""Pooling: token embeddings (B, T, H) → one sentence embedding (B, D) per text."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

import torch

from sentvec.errors import ModelFormatError
from sentvec.formats import ModuleKind, read_json, write_json
from sentvec.modules.base import Features, Module


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
        if isinstance(value, PoolingMode):
            return value
        key = str(value).lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown pooling mode {value!r}; valid: {valid}") from None


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


class Pooling(Module):
    """Reduce ``token_embeddings`` (B, T, H) with ``attention_mask`` (B, T) to ``sentence_embedding``."""

    kind = ModuleKind.POOLING

    def __init__(self, config: PoolingConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, features: Features) -> Features:
        """Pool with every configured mode and concatenate."""
        tokens = features["token_embeddings"]  # (B, T, H)
        mask = features["attention_mask"]  # (B, T)
        prompt_length = features.get("prompt_length")
        # an exported graph takes the prompt-free mask as an input of its own
        pool_mask: Any = features.get("pooling_mask", mask)
        if prompt_length and not self.config.include_prompt:
            pool_mask = mask.clone()
            pool_mask[:, : int(prompt_length)] = 0  # right padding: the prompt is the first tokens
        outputs = [_pool(mode, tokens, pool_mask) for mode in self.config.modes]
        features["sentence_embedding"] = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        return features

    def save(self, folder: Path) -> None:
        """Write ``config.json``."""
        write_json(folder / "config.json", self.config.to_json())

    @classmethod
    def load(cls, folder: Path) -> Pooling:
        """Read ``config.json``."""
        path = folder / "config.json"
        if not path.is_file():
            raise ModelFormatError(path, "missing pooling configuration")
        return cls(PoolingConfig.from_json(read_json(path), path))


def _pool(mode: PoolingMode, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One pooling mode. tokens (B, T, H), mask (B, T) → (B, H)."""
    acc_dtype = torch.float32 if tokens.dtype in (torch.float16, torch.bfloat16) else tokens.dtype
    if mode is PoolingMode.CLS:
        first = mask.to(torch.int32).argmax(dim=1)  # (B,)
        return tokens[torch.arange(tokens.shape[0], device=tokens.device), first]
    if mode is PoolingMode.MAX:
        return tokens.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values
    if mode in (PoolingMode.MEAN, PoolingMode.MEAN_SQRT_LEN):
        m = mask.unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
        total = (tokens * m).sum(dim=1, dtype=acc_dtype)  # (B, H)
        count = torch.clamp(m.sum(dim=1, dtype=acc_dtype), min=1e-9)  # (B, 1)
        denom = count if mode is PoolingMode.MEAN else torch.sqrt(count)
        return (total / denom).to(tokens.dtype)
    if mode is PoolingMode.WEIGHTED_MEAN:
        m = mask.unsqueeze(-1).to(acc_dtype)
        weights = torch.arange(1, tokens.shape[1] + 1, device=tokens.device, dtype=acc_dtype).view(1, -1, 1)
        wm = m * weights  # (B, T, 1): position weights 1..T on real tokens
        total = (tokens * wm).sum(dim=1)
        return (total / torch.clamp(wm.sum(dim=1), min=1e-9)).to(tokens.dtype)
    # LAST_TOKEN: the last position whose mask is 1 (a row with no such position gives zeros)
    last = tokens.shape[1] - 1 - mask.flip(1).to(torch.int32).argmax(dim=1)  # (B,)
    masked = tokens * mask.unsqueeze(-1).to(tokens.dtype)
    return masked[torch.arange(tokens.shape[0], device=tokens.device), last]

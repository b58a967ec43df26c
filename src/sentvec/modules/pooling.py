"""Pooling: token embeddings (B, T, H) → one sentence embedding (B, D) per text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sentvec.errors import ModelFormatError
from sentvec.formats import MODULE_CONFIG_FILE, ModuleKind, read_json, write_json
from sentvec.modules.base import Features, Module
from sentvec.modules.configs import PoolingConfig, PoolingMode


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
        write_json(folder / MODULE_CONFIG_FILE, self.config.to_json())

    @classmethod
    def load(cls, folder: Path) -> Pooling:
        """Read ``config.json``."""
        path = folder / MODULE_CONFIG_FILE
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

"""Modules of the encoding pipeline: Transformer → Pooling → Dense → Normalize.

The torch modules load lazily (their import imports torch); their configurations (:mod:`sentvec.modules.configs`)
need no torch, so the ONNX backend and the CLI read them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentvec._lazy import lazy_getattr
from sentvec.modules.configs import DenseConfig, PoolingConfig, PoolingMode

if TYPE_CHECKING:
    from sentvec.modules.base import Module
    from sentvec.modules.dense import Dense
    from sentvec.modules.normalize import Normalize
    from sentvec.modules.pooling import Pooling
    from sentvec.modules.transformer import Transformer, TransformerConfig

__all__ = [
    "Dense",
    "DenseConfig",
    "Module",
    "Normalize",
    "Pooling",
    "PoolingConfig",
    "PoolingMode",
    "Transformer",
    "TransformerConfig",
]

_LAZY = {
    "Dense": "sentvec.modules.dense",
    "Module": "sentvec.modules.base",
    "Normalize": "sentvec.modules.normalize",
    "Pooling": "sentvec.modules.pooling",
    "Transformer": "sentvec.modules.transformer",
    "TransformerConfig": "sentvec.modules.transformer",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

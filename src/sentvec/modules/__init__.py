"""Torch modules of the encoding pipeline: Transformer → Pooling → Dense → Normalize.

Importing this package imports torch; ``import sentvec`` does not.
"""

from sentvec.modules.base import Module
from sentvec.modules.dense import Dense, DenseConfig
from sentvec.modules.normalize import Normalize
from sentvec.modules.pooling import Pooling, PoolingConfig, PoolingMode
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

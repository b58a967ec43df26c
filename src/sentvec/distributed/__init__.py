"""Scale-out on existing engines: Ray Data for corpus encoding (:func:`encode_dataset`, the ``[ray]`` extra) and
torchrun data-parallel training (:mod:`sentvec.distributed.ddp`, used by the trainer).

Names load lazily: ``import sentvec.distributed`` imports neither Ray nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "encode_dataset": "sentvec.distributed.ray",
    "EncodeReport": "sentvec.distributed.ray",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sentvec.distributed' has no attribute {name!r}")

"""Scale-out on existing engines: Ray Data for corpus encoding (:func:`encode_dataset`, the ``[ray]`` extra) and
torchrun data-parallel training (:mod:`sentvec.distributed.ddp`, used by the trainer).

Names load lazily: ``import sentvec.distributed`` imports neither Ray nor torch.
"""

from __future__ import annotations

from sentvec._lazy import lazy_getattr

_LAZY = {
    "encode_dataset": "sentvec.distributed.ray",
    "EncodeReport": "sentvec.distributed.ray",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)

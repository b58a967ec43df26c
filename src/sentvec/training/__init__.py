"""Fine-tuning: data, samplers, the trainer. Needs the ``[torch]`` extra.

Names load lazily so that ``sentvec.losses`` can import ``sentvec.training.data`` without the trainer.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Trainer": "sentvec.training.trainer",
    "TrainingArgs": "sentvec.training.args",
    "TrainResult": "sentvec.training.trainer",
    "TrainingError": "sentvec.training.trainer",
    "load_data": "sentvec.training.data",
    "scale_scores": "sentvec.training.data",
    "Example": "sentvec.training.data",
    "LabelKind": "sentvec.training.data",
    "TrainingData": "sentvec.training.data",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sentvec.training' has no attribute {name!r}")

"""Fine-tuning: data, samplers, the trainer. Needs the ``[torch]`` extra.

Names load lazily so that ``sentvec.training.losses`` can import ``sentvec.training.data`` without the trainer.
"""

from __future__ import annotations

from sentvec._lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _LAZY)

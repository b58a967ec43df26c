"""Fine-tuning: arguments, data, samplers, losses, the trainer, vocabulary extension. The losses and the trainer
need the ``[torch]`` extra.

Names load lazily: ``args``, ``data`` and ``samplers`` are torch-free, and importing one of them (the CLI builds its
parser from their enums) runs this file first, which must not import the trainer.
"""

from __future__ import annotations

from sentvec._lazy import lazy_getattr

_LAZY = {
    "Trainer": "sentvec.training.trainer",
    "TrainingArgs": "sentvec.training.args",
    "MultiDatasetOrder": "sentvec.training.args",
    "Schedule": "sentvec.training.args",
    "TrainResult": "sentvec.training.trainer",
    "TrainingError": "sentvec.training.trainer",
    "CheckpointError": "sentvec.training.checkpoint",
    "from_dataset": "sentvec.training.data",
    "load_data": "sentvec.training.data",
    "scale_scores": "sentvec.training.data",
    "Example": "sentvec.training.data",
    "LabelKind": "sentvec.training.data",
    "TrainingData": "sentvec.training.data",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)

"""The seam between the trainer and what it trains: a bi-encoder (:class:`~sentvec.SentenceEncoder`) or a
cross-encoder (:class:`~sentvec.CrossEncoder`).

The trainer's loop, optimizer, schedule, logging, evaluation, checkpoints and plot are the same for both; what
differs is small and lives here: which ``torch.nn.Module`` holds the trained parameters, where it runs, how the
model is saved (with its card) and how a checkpoint's weights are read back, and which losses and evaluators fit
the model (a bi-encoder loss embeds texts, a cross-encoder loss scores pairs; each is refused for the other kind,
with a message naming the fix).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, Union

import torch

from sentvec.evaluation.base import EvaluationResult, Evaluator
from sentvec.evaluation.rerank import CrossEncoderEvaluator
from sentvec.training.losses.base import Loss
from sentvec.training.rerank_losses import CrossEncoderLoss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.model_card import TrainingSummary
    from sentvec.rerank.model import CrossEncoder

# What the trainer takes: a model of either kind, a loss of either kind, an evaluator of either kind.
TrainableModel: TypeAlias = Union["SentenceEncoder", "CrossEncoder"]
TrainingLoss: TypeAlias = Loss | CrossEncoderLoss
AnyEvaluator: TypeAlias = Evaluator | CrossEncoderEvaluator


class Trainable(abc.ABC):
    """What the trainer needs of a model."""

    kind: str  # "bi-encoder" or "cross-encoder", for messages

    @property
    @abc.abstractmethod
    def module(self) -> torch.nn.Module:
        """The module whose parameters are trained (``train()``/``eval()`` switch dropout on it)."""

    @property
    @abc.abstractmethod
    def device(self) -> str:
        """Where the module runs."""

    @abc.abstractmethod
    def to(self, device: str) -> None:
        """Move the module."""

    @abc.abstractmethod
    def save(self, folder: Path, training: TrainingSummary | None = None) -> None:
        """Write the model folder (with its card, and what the run did when ``training`` is given)."""

    @abc.abstractmethod
    def saved_weights(self, folder: Path) -> dict[str, torch.Tensor]:
        """The module's weights as :meth:`save` wrote them into ``folder`` (a checkpoint), on the CPU."""

    @abc.abstractmethod
    def check_loss(self, name: str, loss: TrainingLoss) -> None:
        """Refuse a loss for the other kind of model (a ``TypeError`` naming the dataset and the fix)."""

    @abc.abstractmethod
    def evaluate(self, evaluator: AnyEvaluator) -> EvaluationResult:
        """Run ``evaluator`` on the model; one for the other kind of model is a ``TypeError`` (checked up front
        with :meth:`check_evaluator`)."""

    def check_evaluator(self, evaluator: AnyEvaluator) -> None:
        """Refuse an evaluator for the other kind of model (a ``TypeError`` naming the fix)."""
        wrong = CrossEncoderEvaluator if self.kind == "bi-encoder" else Evaluator
        if isinstance(evaluator, wrong):
            fix = (
                "use an evaluator from sentvec.evaluation such as SimilarityEvaluator"
                if self.kind == "bi-encoder"
                else "use CrossEncoderRerankingEvaluator or CrossEncoderCorrelationEvaluator from sentvec.evaluation"
            )
            raise TypeError(f"{type(evaluator).__name__} cannot evaluate a {self.kind}: {fix}")


class EncoderTrainable(Trainable):
    """A :class:`~sentvec.SentenceEncoder` on the torch backend: its pipeline (Transformer, Pooling, Dense, ...)."""

    kind = "bi-encoder"

    def __init__(self, model: SentenceEncoder) -> None:
        self.model = model
        self.backend = model.torch  # the torch pipeline (a model on another backend: a TypeError naming the fix)

    @property
    def module(self) -> torch.nn.Module:
        """The torch pipeline."""
        return self.backend.pipeline

    @property
    def device(self) -> str:
        """Where the pipeline runs."""
        return self.backend.device

    def to(self, device: str) -> None:
        """Move the pipeline."""
        self.backend.to(device)

    def save(self, folder: Path, training: TrainingSummary | None = None) -> None:
        """``SentenceEncoder.save`` (the card gets ``training`` when given)."""
        if training is None:
            self.model.save(folder)
        else:
            self.model.save(folder, training=training)

    def saved_weights(self, folder: Path) -> dict[str, torch.Tensor]:
        """The pipeline's weights, read by loading the checkpoint folder as a model."""
        from sentvec.loading import load

        return load(folder, backend="torch", device="cpu").torch.pipeline.state_dict()

    def check_loss(self, name: str, loss: TrainingLoss) -> None:
        """A cross-encoder loss cannot train a bi-encoder."""
        if isinstance(loss, CrossEncoderLoss):
            raise TypeError(
                f"dataset {name!r}: {type(loss).__name__} is a cross-encoder loss (sentvec.training.rerank_losses) "
                "and the model is a bi-encoder; use a loss from sentvec.training.losses, or train a CrossEncoder"
            )

    def evaluate(self, evaluator: AnyEvaluator) -> EvaluationResult:
        """``evaluator(model)``."""
        if isinstance(evaluator, CrossEncoderEvaluator):
            self.check_evaluator(evaluator)
            raise AssertionError("unreachable")
        return evaluator(self.model)


class RerankerTrainable(Trainable):
    """A :class:`~sentvec.CrossEncoder` on the torch backend: its sequence-classification model."""

    kind = "cross-encoder"

    def __init__(self, model: CrossEncoder) -> None:
        self.model = model
        self.backend = model.torch  # a reranker on ONNX: a TypeError naming the fix

    @property
    def module(self) -> torch.nn.Module:
        """The ``transformers`` sequence-classification model."""
        module: torch.nn.Module = self.backend.model
        return module

    @property
    def device(self) -> str:
        """Where the model runs."""
        return self.backend.device

    def to(self, device: str) -> None:
        """Move the model."""
        self.backend.to(device)

    def save(self, folder: Path, training: TrainingSummary | None = None) -> None:
        """``CrossEncoder.save``: the reference's 6.x layout, and a card (with what the run did when given)."""
        self.model.save(folder, training=training)

    def saved_weights(self, folder: Path) -> dict[str, torch.Tensor]:
        """The model's weights, read by loading the checkpoint folder's sequence-classification model."""
        from sentvec.backends.rerank_torch import TorchRerankBackend

        state: dict[str, torch.Tensor] = TorchRerankBackend.from_folder(folder, device="cpu").model.state_dict()
        return state

    def check_loss(self, name: str, loss: TrainingLoss) -> None:
        """Only a cross-encoder loss built for this very model trains it."""
        if not isinstance(loss, CrossEncoderLoss):
            raise TypeError(
                f"dataset {name!r}: {type(loss).__name__} is a bi-encoder loss and the model is a cross-encoder; "
                "use a loss from sentvec.training.rerank_losses (BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss, "
                "MarginMSELoss, ListNetLoss)"
            )
        if loss.model is not self.model:
            raise ValueError(
                f"dataset {name!r}: {type(loss).__name__} was built for another CrossEncoder than the one trained "
                "(build the loss with the model passed to the trainer)"
            )

    def evaluate(self, evaluator: AnyEvaluator) -> EvaluationResult:
        """``evaluator(model)``."""
        if isinstance(evaluator, Evaluator):
            self.check_evaluator(evaluator)
            raise AssertionError("unreachable")
        return evaluator(self.model)


def trainable(model: TrainableModel) -> Trainable:
    """The trainer's view of ``model``: a :class:`~sentvec.CrossEncoder` or a :class:`~sentvec.SentenceEncoder`."""
    from sentvec.rerank.model import CrossEncoder

    if isinstance(model, CrossEncoder):
        return RerankerTrainable(model)
    return EncoderTrainable(model)

"""Training losses: each embeds its text columns with the model, then scores the embeddings.

Every loss is a :class:`Loss` (a ``torch.nn.Module``): ``loss(columns, labels)`` returns a scalar tensor whose
``backward()`` reaches the encoder's parameters (``model.torch.pipeline``). ``label_kind`` and ``min_columns``
state the data a loss expects.

``__all__`` lists ``Loss`` and the concrete losses; the helpers ``LabelKind``, ``Distance`` (the contrastive and
triplet losses' distances) and ``CachedLoss`` (the GradCache base class) are importable from here too.
"""

from __future__ import annotations

from sentvec.training.losses._util import Distance as Distance
from sentvec.training.losses.base import LabelKind as LabelKind
from sentvec.training.losses.base import Loss
from sentvec.training.losses.cached import CachedLoss as CachedLoss
from sentvec.training.losses.cached import CachedMultipleNegativesRankingLoss
from sentvec.training.losses.contrastive import ContrastiveLoss, OnlineContrastiveLoss
from sentvec.training.losses.distillation import MarginMSELoss, MSELoss
from sentvec.training.losses.in_batch_margin import InBatchMarginLoss
from sentvec.training.losses.matryoshka import MatryoshkaLoss
from sentvec.training.losses.ranking import MultipleNegativesRankingLoss
from sentvec.training.losses.scored_pairs import AnglELoss, CoSENTLoss, CosineSimilarityLoss
from sentvec.training.losses.softmax import SoftmaxLoss
from sentvec.training.losses.triplet import BatchAllTripletLoss, BatchHardTripletLoss, TripletLoss

__all__ = [
    "AnglELoss",
    "BatchAllTripletLoss",
    "BatchHardTripletLoss",
    "CachedMultipleNegativesRankingLoss",
    "CoSENTLoss",
    "ContrastiveLoss",
    "CosineSimilarityLoss",
    "InBatchMarginLoss",
    "Loss",
    "MSELoss",
    "MarginMSELoss",
    "MatryoshkaLoss",
    "MultipleNegativesRankingLoss",
    "OnlineContrastiveLoss",
    "SoftmaxLoss",
    "TripletLoss",
]

"""Training losses: each embeds its text columns with the model, then scores the embeddings.

Every loss is a :class:`Loss` (a ``torch.nn.Module``): ``loss(columns, labels)`` returns a scalar tensor whose
``backward()`` reaches the encoder's parameters (``model.module``). ``label_kind`` and ``min_columns`` state
the data a loss expects.

``__all__`` lists ``Loss`` and the concrete losses; the helpers ``LabelKind`` and ``CachedLoss`` (the GradCache base
class) are importable from here too.
"""

from __future__ import annotations

from sentvec.losses.base import LabelKind as LabelKind
from sentvec.losses.base import Loss
from sentvec.losses.cached import CachedLoss as CachedLoss
from sentvec.losses.cached import CachedMultipleNegativesRankingLoss
from sentvec.losses.contrastive import ContrastiveLoss, OnlineContrastiveLoss
from sentvec.losses.distillation import MarginMSELoss, MSELoss
from sentvec.losses.in_batch_margin import InBatchMarginLoss
from sentvec.losses.matryoshka import MatryoshkaLoss
from sentvec.losses.ranking import MultipleNegativesRankingLoss
from sentvec.losses.scored_pairs import AnglELoss, CoSENTLoss, CosineSimilarityLoss
from sentvec.losses.softmax import SoftmaxLoss
from sentvec.losses.triplet import BatchAllTripletLoss, BatchHardTripletLoss, TripletLoss

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

"""Contrastive losses over labelled pairs (Hadsell et al. 2006) and their online hard-pair variant."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.training.losses._util import (
    Distance,
    check_columns,
    check_distance,
    flat_labels,
    pairwise_distance,
    zero_loss,
)
from sentvec.training.losses.base import LabelKind, Loss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


def _pair_distances(
    name: str, embeddings: list[torch.Tensor], labels: torch.Tensor | None, distance: Distance
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance of each (a, b) pair and its 0/1 label."""
    check_columns(name, embeddings, expected=2)
    a, b = embeddings
    return pairwise_distance(a, b, distance), _binary_labels(name, labels, a.shape[0], a)


def _binary_labels(name: str, labels: torch.Tensor | None, batch_size: int, like: torch.Tensor) -> torch.Tensor:
    flat = flat_labels(name, labels, batch_size, like)
    if bool(((flat != 0) & (flat != 1)).any()):
        raise ValueError(f"{name} expects binary labels (1 similar, 0 dissimilar), got {flat.unique().tolist()}")
    return flat.to(like.dtype)


class ContrastiveLoss(Loss):
    r"""Pulls similar pairs together and pushes dissimilar pairs at least ``margin`` apart.

    For pairs :math:`(a_i, b_i)` with labels :math:`y_i \in \{0, 1\}` and distance :math:`d_i = d(a_i, b_i)`:

    .. math::

        L = \frac{1}{B} \sum_i \tfrac12 \bigl( y_i\, d_i^2 + (1 - y_i) \max(0, m - d_i)^2 \bigr)

    (the sum instead of the mean when ``size_average=False``).

    Reference: Hadsell, Chopra & LeCun, *Dimensionality Reduction by Learning an Invariant Mapping*, CVPR 2006.

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        margin: dissimilar pairs closer than this distance are penalised.
        distance: a :class:`Distance`: ``COSINE`` (:math:`1 - \cos`, the default), ``EUCLIDEAN`` or ``MANHATTAN``.
        size_average: average over the batch (True) or sum (False).

    Inputs:
        +-----------------+----------------------------------------+
        | Texts           | Labels                                 |
        +=================+========================================+
        | (a, b) pairs    | 1 if similar, 0 if dissimilar (binary) |
        +-----------------+----------------------------------------+

    Relations:
        - :class:`OnlineContrastiveLoss` scores only the hard pairs of each batch and often works better.
        - :class:`~sentvec.training.losses.CosineSimilarityLoss` regresses a graded score instead of a binary label.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import ContrastiveLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = ContrastiveLoss(model, margin=0.5)
            a = ["A man is eating food.", "A dog runs in the park."]
            b = ["Someone eats a meal.", "The stock market fell."]
            value = loss([a, b], torch.tensor([1, 0]))
            value.backward()
    """

    label_kind = LabelKind.BINARY
    min_columns = 2

    def __init__(
        self,
        model: SentenceEncoder,
        margin: float = 0.5,
        distance: Distance = Distance.COSINE,
        size_average: bool = True,
    ) -> None:
        super().__init__(model)
        self.margin = float(margin)
        self.distance = check_distance(distance)
        self.size_average = size_average

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean (or sum) of the per-pair contrastive terms."""
        d, y = _pair_distances(type(self).__name__, embeddings, labels, self.distance)
        losses = 0.5 * (y * d.pow(2) + (1 - y) * F.relu(self.margin - d).pow(2))
        return losses.mean() if self.size_average else losses.sum()


class OnlineContrastiveLoss(Loss):
    r"""The contrastive loss restricted to the hard pairs of the batch.

    With :math:`P` the distances of the positive pairs (label 1) and :math:`N` those of the negative pairs (label 0):

    - hard positives: :math:`d \in P` with :math:`d > \min N` (farther apart than the closest negative);
    - hard negatives: :math:`d \in N` with :math:`d < \max P` (closer than the farthest positive).

    .. math::

        L = \sum_{d \in \text{hard positives}} d^2 + \sum_{d \in \text{hard negatives}} \max(0, m - d)^2

    When the batch has no negative pair, positives above the mean positive distance count as hard (and
    symmetrically for negatives). The loss is a sum, like the reference implementation's.

    Reference: Hadsell, Chopra & LeCun, CVPR 2006 (the loss); hard-pair mining as in sentence-transformers.

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        margin: negative pairs closer than this distance are penalised.
        distance: a :class:`Distance`: ``COSINE`` (default), ``EUCLIDEAN`` or ``MANHATTAN``.

    Inputs:
        +-----------------+----------------------------------------+
        | Texts           | Labels                                 |
        +=================+========================================+
        | (a, b) pairs    | 1 if similar, 0 if dissimilar (binary) |
        +-----------------+----------------------------------------+

    Relations:
        - :class:`ContrastiveLoss` scores every pair.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import OnlineContrastiveLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = OnlineContrastiveLoss(model, margin=0.5)
            a = ["A man is eating food.", "A dog runs.", "It rains.", "A cat sleeps."]
            b = ["Someone eats a meal.", "Stocks fell.", "The weather is wet.", "Prices rose."]
            value = loss([a, b], torch.tensor([1, 0, 1, 0]))
            value.backward()
    """

    label_kind = LabelKind.BINARY
    min_columns = 2

    def __init__(self, model: SentenceEncoder, margin: float = 0.5, distance: Distance = Distance.COSINE) -> None:
        super().__init__(model)
        self.margin = float(margin)
        self.distance = check_distance(distance)

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Squared distances of hard positives plus squared margin violations of hard negatives."""
        d, y = _pair_distances(type(self).__name__, embeddings, labels, self.distance)
        positives, negatives = d[y == 1], d[y == 0]
        has_pos, has_neg = positives.numel() > 0, negatives.numel() > 0
        pos_threshold = negatives.min() if has_neg else (positives.mean() if has_pos else d.new_zeros(()))
        neg_threshold = positives.max() if has_pos else (negatives.mean() if has_neg else d.new_zeros(()))
        hard_positives = positives[positives > pos_threshold]
        hard_negatives = negatives[negatives < neg_threshold]
        return hard_positives.pow(2).sum() + F.relu(self.margin - hard_negatives).pow(2).sum() + zero_loss(d)

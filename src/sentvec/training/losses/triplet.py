"""Triplet losses: explicit (anchor, positive, negative) triplets, and triplets mined in labelled batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.training.losses._util import (
    Distance,
    check_columns,
    check_distance,
    distance_matrix,
    flat_labels,
    pairwise_distance,
    zero_loss,
)
from sentvec.training.losses.base import LabelKind, Loss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


class TripletLoss(Loss):
    r"""Keeps each anchor closer to its positive than to its negative by at least a margin.

    .. math::

        L = \frac{1}{B} \sum_i \max\bigl(0,\ d(a_i, p_i) - d(a_i, n_i) + m\bigr)

    Reference: Schroff, Kalenichenko & Philbin, *FaceNet* (CVPR 2015); used for sentence embeddings in
    Reimers & Gurevych, *Sentence-BERT* (EMNLP 2019).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        distance: a :class:`Distance`: ``EUCLIDEAN`` (default), ``COSINE`` (:math:`1 - \cos`) or ``MANHATTAN``.
        margin: the margin :math:`m`; 5 suits the Euclidean distance of unnormalized embeddings, use a value
            below 2 (e.g. 0.5) for the cosine distance or unit-length embeddings.

    Inputs:
        +---------------------------------------+--------+
        | Texts                                 | Labels |
        +=======================================+========+
        | (anchor, positive, negative) triplets | none   |
        +---------------------------------------+--------+

    Relations:
        - :class:`BatchHardTripletLoss` / :class:`BatchAllTripletLoss` mine the triplets from class labels.
        - :class:`~sentvec.training.losses.MultipleNegativesRankingLoss` also accepts triplets and uses in-batch
          negatives besides the explicit one.

    Example:
        ::

            import sentvec
            from sentvec.training.losses import Distance, TripletLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = TripletLoss(model, distance=Distance.COSINE, margin=0.5)
            value = loss([["A man eats."], ["Someone eats a meal."], ["Stocks fell."]])
            value.backward()
    """

    label_kind = LabelKind.NONE
    min_columns = 3

    def __init__(self, model: SentenceEncoder, distance: Distance = Distance.EUCLIDEAN, margin: float = 5.0) -> None:
        super().__init__(model)
        self.distance = check_distance(distance)
        self.margin = float(margin)

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean hinge over the triplets."""
        check_columns(type(self).__name__, embeddings, expected=3)
        anchor, positive, negative = embeddings
        d_pos = pairwise_distance(anchor, positive, self.distance)
        d_neg = pairwise_distance(anchor, negative, self.distance)
        return F.relu(d_pos - d_neg + self.margin).mean()


def _label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(positive, negative)`` boolean (B, B) masks: same label and not the same row / different label."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


class _BatchTripletLoss(Loss):
    """Shared set-up of the losses that mine triplets inside a batch of (text, class) rows."""

    label_kind = LabelKind.CLASS
    min_columns = 1

    def __init__(self, model: SentenceEncoder, distance: Distance = Distance.EUCLIDEAN, margin: float = 5.0) -> None:
        super().__init__(model)
        self.distance = check_distance(distance)
        self.margin = float(margin)

    def _pairwise(
        self, embeddings: list[torch.Tensor], labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Distances (B, B) and the same-class / other-class masks (B, B) of one column with class labels."""
        name = type(self).__name__
        check_columns(name, embeddings, expected=1)
        x = embeddings[0]
        y = flat_labels(name, labels, x.shape[0], x)
        positive, negative = _label_masks(y)
        return distance_matrix(x, self.distance), positive, negative


class BatchHardTripletLoss(_BatchTripletLoss):
    r"""For every anchor, the triplet of its hardest positive and hardest negative in the batch.

    With labels :math:`y` and the batch's distance matrix :math:`D`:

    .. math::

        L = \frac{1}{|A|} \sum_{i \in A} \max\Bigl(0,\ \max_{j \ne i,\, y_j = y_i} D_{ij}
            - \min_{k:\, y_k \ne y_i} D_{ik} + m\Bigr)

    where :math:`A` are the anchors that have at least one positive and one negative in the batch (0 when
    there are none).

    Reference: Hermans, Beyer & Leibe, *In Defense of the Triplet Loss for Person Re-Identification* (2017).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        distance: a :class:`Distance`: ``EUCLIDEAN`` (default), ``COSINE`` or ``MANHATTAN``.
        margin: the margin :math:`m` (5; use less than 2 with the cosine distance or unit-length embeddings).

    Inputs:
        +-------------------+---------------------------+
        | Texts             | Labels                    |
        +===================+===========================+
        | single text       | class id (int)            |
        +-------------------+---------------------------+

    Batches need at least two texts of a class and one of another class for any triplet to exist; sample
    batches with several texts per class.

    Relations:
        - :class:`BatchAllTripletLoss` averages over all valid triplets instead of the hardest ones.
        - :class:`TripletLoss` takes explicit triplets.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import BatchHardTripletLoss, Distance

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = BatchHardTripletLoss(model, distance=Distance.COSINE, margin=0.5)
            texts = ["A man eats.", "Someone eats food.", "Stocks fell.", "The market dropped."]
            value = loss([texts], torch.tensor([0, 0, 1, 1]))
            value.backward()
    """

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean hinge of the hardest triplet per anchor."""
        dist, positive, negative = self._pairwise(embeddings, labels)
        valid = positive.any(1) & negative.any(1)
        if not bool(valid.any()):
            return zero_loss(dist)
        inf = torch.full_like(dist, float("inf"))
        hardest_positive = torch.where(positive, dist, -inf).max(1).values
        hardest_negative = torch.where(negative, dist, inf).min(1).values
        hinge = F.relu(hardest_positive[valid] - hardest_negative[valid] + self.margin)
        return hinge.mean()


class BatchAllTripletLoss(_BatchTripletLoss):
    r"""Every valid triplet of the batch, averaged over those that still violate the margin.

    Over all :math:`(i, j, k)` with :math:`y_i = y_j`, :math:`i \ne j`, :math:`y_k \ne y_i`, let
    :math:`\ell_{ijk} = \max(0,\ D_{ij} - D_{ik} + m)`; then

    .. math::

        L = \frac{\sum_{ijk} \ell_{ijk}}{|\{(i, j, k) : \ell_{ijk} > 0\}|}

    (0 when no triplet has a positive loss), so easy triplets do not dilute the average.

    Reference: Hermans, Beyer & Leibe, *In Defense of the Triplet Loss for Person Re-Identification* (2017).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        distance: a :class:`Distance`: ``EUCLIDEAN`` (default), ``COSINE`` or ``MANHATTAN``.
        margin: the margin :math:`m` (5; use less than 2 with the cosine distance or unit-length embeddings).

    Inputs:
        +-------------------+---------------------------+
        | Texts             | Labels                    |
        +===================+===========================+
        | single text       | class id (int)            |
        +-------------------+---------------------------+

    Batches need at least two texts of a class and one of another class for any triplet to exist; sample
    batches with several texts per class.

    Relations:
        - :class:`BatchHardTripletLoss` keeps only the hardest triplet per anchor.
        - :class:`TripletLoss` takes explicit triplets.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import BatchAllTripletLoss, Distance

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = BatchAllTripletLoss(model, distance=Distance.COSINE, margin=0.5)
            texts = ["A man eats.", "Someone eats food.", "Stocks fell.", "The market dropped."]
            value = loss([texts], torch.tensor([0, 0, 1, 1]))
            value.backward()
    """

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Sum of the triplet hinges over the number of active triplets."""
        dist, positive, negative = self._pairwise(embeddings, labels)
        anchors, positives = positive.nonzero(as_tuple=True)  # one row per (i, j) pair
        hinge = F.relu(dist[anchors, positives][:, None] - dist[anchors] + self.margin)  # (pairs, B): k
        hinge = hinge[negative[anchors]]
        active = int((hinge > 0).sum())
        if active == 0:
            return zero_loss(dist)
        return hinge.sum() / active

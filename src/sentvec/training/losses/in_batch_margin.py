"""The seed method's in-batch margin contrastive loss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

import torch
import torch.nn.functional as F

from sentvec.training.losses._util import check_columns, zero_loss
from sentvec.training.losses.base import LabelKind, Loss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder

Reduction = Literal["mean", "sum"]
NegativeSet = Literal["anchors", "positives", "both"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)
NEGATIVE_SETS: tuple[str, ...] = get_args(NegativeSet)


class InBatchMarginLoss(Loss):
    r"""Hinge loss that keeps each anchor closer to its positive than to the other texts of the batch.

    For N anchors :math:`u_i` with positives :math:`u_i^+`:

    .. math::

        L = \sum_{i=1}^{N} \sum_{j \ne i} \max\bigl(0,\ \cos(u_i, n_j) - \cos(u_i, u_i^+) + m\bigr)

    where the negatives :math:`n_j` are, depending on ``negatives``:

    - ``"anchors"`` (default): the other anchors :math:`u_j`, as the method is written;
    - ``"positives"``: the other anchors' positives :math:`u_j^+`;
    - ``"both"``: both sets (two terms per pair ``(i, j)``).

    The method's text writes the positive term as :math:`\cos(u_i, u_j^+)` but defines it as the similarity of
    :math:`u_i` to *its own* positive; this implementation reads it that way, :math:`\cos(u_i, u_i^+)`, which is
    constant over ``j``.

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        margin: the margin :math:`m` by which the positive must beat every negative.
        reduction: ``"mean"`` divides the sum by the number of ``(i, j)`` terms (``N(N-1)``, or ``2N(N-1)`` with
            ``negatives="both"``); ``"sum"`` returns the sum :math:`L`.
        negatives: which in-batch texts serve as negatives (see above).

    Inputs:
        +---------------------------+--------+
        | Texts                     | Labels |
        +===========================+========+
        | (anchor, positive) pairs  | none   |
        +---------------------------+--------+

    A batch of one pair has no negatives and gives a loss of 0.

    Relations:
        - :class:`~sentvec.training.losses.MultipleNegativesRankingLoss` uses the same in-batch negatives with a softmax
          (InfoNCE) instead of a hinge.
        - :class:`~sentvec.training.losses.TripletLoss` applies the same hinge to one explicit negative per anchor.

    Example:
        ::

            import sentvec
            from sentvec.training.losses import InBatchMarginLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = InBatchMarginLoss(model, margin=0.5)
            anchors = ["A man is eating food.", "A dog runs in the park.", "It is raining."]
            positives = ["Someone eats a meal.", "An animal is running.", "The weather is wet."]
            value = loss([anchors, positives])
            value.backward()
    """

    label_kind = LabelKind.NONE
    min_columns = 2
    in_batch_negatives = True

    def __init__(
        self,
        model: SentenceEncoder,
        margin: float = 0.5,
        reduction: Reduction = "mean",
        negatives: NegativeSet = "anchors",
    ) -> None:
        super().__init__(model)
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
        if negatives not in NEGATIVE_SETS:
            raise ValueError(f"unknown negatives {negatives!r}; valid: {', '.join(NEGATIVE_SETS)}")
        self.margin = float(margin)
        self.reduction = reduction
        self.negatives = negatives

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """The hinge sum (or mean) over anchors and their in-batch negatives."""
        check_columns(type(self).__name__, embeddings, expected=2)
        anchors = F.normalize(embeddings[0], p=2, dim=-1)
        positives = F.normalize(embeddings[1], p=2, dim=-1)
        n = anchors.shape[0]
        if n < 2:
            return zero_loss(*embeddings)
        positive_sim = (anchors * positives).sum(-1)  # cos(u_i, u_i+), (N,)
        off_diagonal = ~torch.eye(n, dtype=torch.bool, device=anchors.device)
        negative_sets = []
        if self.negatives in ("anchors", "both"):
            negative_sets.append(anchors @ anchors.T)  # [i, j] = cos(u_i, u_j)
        if self.negatives in ("positives", "both"):
            negative_sets.append(anchors @ positives.T)  # [i, j] = cos(u_i, u_j+)
        total = anchors.new_zeros(())
        for sims in negative_sets:
            hinge = F.relu(sims - positive_sim[:, None] + self.margin)
            total = total + hinge[off_diagonal].sum()
        if self.reduction == "mean":
            total = total / (len(negative_sets) * n * (n - 1))
        return total

"""In-batch negatives ranking loss (InfoNCE)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.similarity import SimilarityFunction
from sentvec.training.losses._util import check_columns, similarity_matrix
from sentvec.training.losses.base import LabelKind, Loss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


def info_nce(
    embeddings: list[torch.Tensor],
    similarity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    scale: float,
    symmetric: bool,
) -> torch.Tensor:
    """Cross-entropy of each anchor over all candidates (positives then negatives), target its own positive;
    with ``symmetric``, averaged with the cross-entropy of each positive over all anchors."""
    anchors, positives = embeddings[0], embeddings[1]
    candidates = torch.cat(embeddings[1:], dim=0)  # (B * (1 + n_negatives), D)
    target = torch.arange(anchors.shape[0], device=anchors.device)
    forward = F.cross_entropy(similarity(anchors, candidates) * scale, target)
    if not symmetric:
        return forward
    backward = F.cross_entropy(similarity(positives, anchors) * scale, target)
    return (forward + backward) / 2


class MultipleNegativesRankingLoss(Loss):
    r"""InfoNCE with in-batch negatives: each anchor must pick its positive among every candidate of the batch.

    For anchors :math:`a_i`, positives :math:`p_i` and optional hard negatives :math:`n_{i,k}`, the candidates
    :math:`C` are all positives and all negatives of the batch, and

    .. math::

        L = -\frac{1}{B} \sum_i \log \frac{\exp(\lambda\,\mathrm{sim}(a_i, p_i))}
            {\sum_{c \in C} \exp(\lambda\,\mathrm{sim}(a_i, c))}

    with :math:`\lambda` = ``scale`` (20, i.e. temperature 0.05) and cosine similarity. With
    ``symmetric=True`` the loss is the mean of this term and the positive→anchor term
    :math:`-\frac{1}{B}\sum_i \log \frac{\exp(\lambda\,\mathrm{sim}(p_i, a_i))}{\sum_j \exp(\lambda\,
    \mathrm{sim}(p_i, a_j))}`.

    References: van den Oord et al., *Representation Learning with Contrastive Predictive Coding* (2018);
    Henderson et al., *Efficient Natural Language Response Suggestion for Smart Reply* (2017).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        scale: the inverse temperature :math:`\lambda`.
        symmetric: also score the positive→anchor direction.
        similarity: the similarity matrix function, cosine by default (with ``SimilarityFunction.DOT`` set
            ``scale=1``).

    Inputs:
        +-------------------------------------------------+--------+
        | Texts                                           | Labels |
        +=================================================+========+
        | (anchor, positive) pairs                        | none   |
        +-------------------------------------------------+--------+
        | (anchor, positive, negative_1, ..., negative_n) | none   |
        +-------------------------------------------------+--------+

    Batches should not hold duplicate texts: a duplicate of a positive counts as a negative.

    Relations:
        - :class:`~sentvec.training.losses.CachedMultipleNegativesRankingLoss` computes the same loss and gradients with
          GradCache, so the batch size is no longer bounded by memory.
        - :class:`~sentvec.training.losses.InBatchMarginLoss` uses in-batch negatives with a hinge.

    Example:
        ::

            import sentvec
            from sentvec.training.losses import MultipleNegativesRankingLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = MultipleNegativesRankingLoss(model)
            anchors = ["A man is eating food.", "A dog runs in the park."]
            positives = ["Someone eats a meal.", "An animal is running."]
            value = loss([anchors, positives])
            value.backward()
    """

    label_kind = LabelKind.NONE
    min_columns = 2
    in_batch_negatives = True

    def __init__(
        self,
        model: SentenceEncoder,
        scale: float = 20.0,
        symmetric: bool = False,
        similarity: SimilarityFunction = SimilarityFunction.COSINE,
    ) -> None:
        super().__init__(model)
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = float(scale)
        self.symmetric = symmetric
        self.similarity_fct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = similarity_matrix(similarity)

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean cross-entropy of anchors over the batch's candidates (and back, when symmetric)."""
        check_columns(type(self).__name__, embeddings, minimum=2)
        return info_nce(embeddings, self.similarity_fct, self.scale, self.symmetric)

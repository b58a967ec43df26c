"""Matryoshka representation learning: one loss applied to nested prefixes of the embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.training.losses.base import LabelKind, Loss, Scorer

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


class MatryoshkaLoss(Loss):
    r"""Trains every prefix of the embedding to work on its own, so embeddings can be truncated after training.

    The batch is embedded once; the inner loss is scored on the embeddings truncated to each dimension
    :math:`d_k` and the results are summed with weights :math:`w_k`:

    .. math::

        L = \sum_k w_k\, L_{\text{inner}}\bigl(e_{[:d_k]}\bigr)

    Cosine-based inner losses need no renormalization (the cosine normalizes); for dot-product or distance
    based inner losses pass ``renormalize=True`` to L2-normalize each truncated embedding. Embedding labels
    (teacher vectors for :class:`~sentvec.training.losses.MSELoss`) are truncated along with the embeddings. Wrapping a
    :class:`~sentvec.training.losses.CachedMultipleNegativesRankingLoss` keeps its GradCache memory bound.

    Reference: Kusupati et al., *Matryoshka Representation Learning*, NeurIPS 2022.

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        inner_loss: the loss applied at every dimension (its own ``model`` is not used for embedding here,
            except by a cached inner loss).
        dims: the prefix sizes, each at most the model's embedding dimension (include the full dimension to keep
            training it).
        weights: one weight per dimension; all 1 by default.
        renormalize: L2-normalize each truncated embedding before scoring.

    Inputs:
        Those of the inner loss (same text columns and labels).

    Relations:
        - Usually wraps :class:`~sentvec.training.losses.MultipleNegativesRankingLoss`,
          :class:`~sentvec.training.losses.CoSENTLoss` or :class:`~sentvec.training.losses.InBatchMarginLoss`.

    Example:
        ::

            import sentvec
            from sentvec.training.losses import MatryoshkaLoss, MultipleNegativesRankingLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")  # 384 dims
            loss = MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), dims=(384, 256, 128, 64))
            anchors = ["A man is eating food.", "A dog runs in the park."]
            positives = ["Someone eats a meal.", "An animal is running."]
            value = loss([anchors, positives])
            value.backward()
    """

    def __init__(
        self,
        model: SentenceEncoder,
        inner_loss: Loss,
        dims: Sequence[int] = (384, 256, 128, 64),
        weights: Sequence[float] | None = None,
        renormalize: bool = False,
    ) -> None:
        super().__init__(model)
        if not dims or any(int(d) <= 0 for d in dims):
            raise ValueError(f"dims must be a non-empty sequence of positive sizes, got {tuple(dims)}")
        if weights is None:
            weights = [1.0] * len(dims)
        if len(weights) != len(dims):
            raise ValueError(f"weights ({len(weights)}) must match dims ({len(dims)})")
        if max(dims) > model.dimension:
            raise ValueError(f"dims {tuple(dims)} exceed the model's embedding dimension {model.dimension}")
        self.inner_loss = inner_loss
        self.dims = tuple(int(d) for d in dims)
        self.weights = tuple(float(w) for w in weights)
        self.renormalize = renormalize
        # The data contract is the inner loss's (instance attributes shadow the class defaults).
        self.label_kind = inner_loss.label_kind
        self.min_columns = inner_loss.min_columns
        self.in_batch_negatives = inner_loss.in_batch_negatives

    def score_columns(
        self, columns: Sequence[Sequence[str]], labels: torch.Tensor | None, score: Scorer
    ) -> torch.Tensor:
        """Embed once through the inner loss (so a cached inner loss runs the whole sum under GradCache)."""
        return self.inner_loss.score_columns(columns, labels, score)

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Weighted sum of the inner loss on each truncation."""
        full = embeddings[0].shape[-1]
        if max(self.dims) > full:
            raise ValueError(f"dims {self.dims} exceed the embedding dimension {full}")
        total = embeddings[0].new_zeros(())
        for dim, weight in zip(self.dims, self.weights, strict=True):
            truncated = [self._shrink(e, dim) for e in embeddings]
            total = total + weight * self.inner_loss.compute_loss_from_embeddings(truncated, self._labels(labels, dim))
        return total

    def _shrink(self, embedding: torch.Tensor, dim: int) -> torch.Tensor:
        prefix = embedding[..., :dim]
        return F.normalize(prefix, p=2, dim=-1) if self.renormalize else prefix

    def _labels(self, labels: torch.Tensor | None, dim: int) -> torch.Tensor | None:
        """Embedding labels (teacher vectors) are truncated with the embeddings; other labels pass through."""
        if self.inner_loss.label_kind is LabelKind.EMBEDDING and labels is not None:
            labels = torch.as_tensor(labels)
            return self._shrink(labels, dim)
        return labels

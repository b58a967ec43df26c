"""Pair classification with a softmax head over (u, v, |u - v|) (Sentence-BERT's NLI objective)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.training.losses._util import check_columns, flat_labels
from sentvec.training.losses.base import LabelKind, Loss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


class SoftmaxLoss(Loss):
    r"""Trains a linear classifier on the concatenation :math:`(u, v, |u - v|)` of a pair's embeddings.

    .. math::

        L = -\frac{1}{B} \sum_i \log \operatorname{softmax}\bigl(W\,[u_i;\ v_i;\ |u_i - v_i|] + b\bigr)_{y_i}

    with :math:`W \in \mathbb{R}^{K \times 3D}` for ``num_labels`` = :math:`K` classes.

    The classifier's parameters belong to this loss module, not to the encoder: give the optimizer
    ``list(model.torch.pipeline.parameters()) + list(loss.parameters())``. The head is discarded after training.

    Reference: Reimers & Gurevych, *Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks*,
    EMNLP 2019 (after Conneau et al., *InferSent*, 2017).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        num_labels: number of classes :math:`K` (3 for NLI: entailment, neutral, contradiction).
        embedding_dimension: :math:`D`; defaults to the model's embedding dimension.

    Inputs:
        +-----------------+--------------------------+
        | Texts           | Labels                   |
        +=================+==========================+
        | (a, b) pairs    | class id in [0, K) (int) |
        +-----------------+--------------------------+

    Relations:
        - :class:`~sentvec.training.losses.MultipleNegativesRankingLoss` on (anchor, entailment, contradiction) triplets
          usually gives better embeddings from the same NLI data.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import SoftmaxLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = SoftmaxLoss(model, num_labels=3)
            optimizer = torch.optim.AdamW([*model.torch.pipeline.parameters(), *loss.parameters()], lr=2e-5)
            premises = ["A man is eating.", "A dog runs."]
            hypotheses = ["Someone eats.", "A cat sleeps."]
            value = loss([premises, hypotheses], torch.tensor([0, 2]))
            value.backward()
            optimizer.step()
    """

    label_kind = LabelKind.CLASS
    min_columns = 2

    def __init__(self, model: SentenceEncoder, num_labels: int, embedding_dimension: int | None = None) -> None:
        super().__init__(model)
        if num_labels < 1:
            raise ValueError(f"num_labels must be >= 1, got {num_labels}")
        dim = int(embedding_dimension if embedding_dimension is not None else model.dimension)
        self.num_labels = num_labels
        self.classifier = torch.nn.Linear(3 * dim, num_labels, device=model.device)

    def logits(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Class scores (B, K) of the pairs."""
        features = torch.cat([u, v, torch.abs(u - v)], dim=-1)
        return self.classifier(features.to(self.classifier.weight.dtype))

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Cross-entropy of the classifier's scores against the class labels."""
        name = type(self).__name__
        check_columns(name, embeddings, expected=2)
        u, v = embeddings
        y = flat_labels(name, labels, u.shape[0], u).long()
        return F.cross_entropy(self.logits(u, v), y)

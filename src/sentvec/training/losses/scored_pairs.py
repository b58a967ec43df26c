"""Losses over pairs labelled with a similarity score: cosine regression, CoSENT and AnglE."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.similarity import SimilarityFunction
from sentvec.training.losses._util import check_columns, flat_labels, similarity_pairwise
from sentvec.training.losses.base import LabelKind, Loss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


class CosineSimilarityLoss(Loss):
    r"""Regresses the cosine similarity of each pair onto its gold score.

    .. math::

        L = \frac{1}{B} \sum_i \bigl(\cos(a_i, b_i) - y_i\bigr)^2

    Reference: Reimers & Gurevych, *Sentence-BERT*, EMNLP 2019 (the regression objective).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.

    Inputs:
        +-----------------+-----------------------------------------+
        | Texts           | Labels                                  |
        +=================+=========================================+
        | (a, b) pairs    | float similarity score, usually [0, 1]  |
        +-----------------+-----------------------------------------+

    Relations:
        - :class:`CoSENTLoss` and :class:`AnglELoss` only use the *order* of the scores and usually train better.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import CosineSimilarityLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = CosineSimilarityLoss(model)
            a = ["A man is eating food.", "A dog runs in the park."]
            b = ["Someone eats a meal.", "The stock market fell."]
            value = loss([a, b], torch.tensor([0.9, 0.1]))
            value.backward()
    """

    label_kind = LabelKind.SCORE
    min_columns = 2

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean squared error between cos(a, b) and the score."""
        name = type(self).__name__
        check_columns(name, embeddings, expected=2)
        a, b = embeddings
        scores = flat_labels(name, labels, a.shape[0], a).to(a.dtype)
        return F.mse_loss(F.cosine_similarity(a, b, dim=-1), scores)


def cosent(scores: torch.Tensor, labels: torch.Tensor, scale: float) -> torch.Tensor:
    """``log(1 + sum over (i, j) with y_i > y_j of exp(scale * (s_j - s_i)))``."""
    s = (scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores) * scale
    diff = s[None, :] - s[:, None]  # [i, j] = s_j - s_i
    ordered = labels[:, None] > labels[None, :]  # [i, j]: pair i should score above pair j
    terms = torch.cat([s.new_zeros(1), diff[ordered]])
    return torch.logsumexp(terms, dim=0)


class CoSENTLoss(Loss):
    r"""A ranking loss on pair similarities: pairs with a higher gold score must get a higher similarity.

    With :math:`s_i = \mathrm{sim}(a_i, b_i)` and gold scores :math:`y_i`:

    .. math::

        L = \log\Bigl(1 + \sum_{(i, j):\ y_i > y_j} \exp\bigl(\lambda\,(s_j - s_i)\bigr)\Bigr)

    with :math:`\lambda` = ``scale`` (20 by default, i.e. temperature 0.05).

    Reference: Su, *CoSENT* (2022); Huang et al., *CoSENT: Consistent Sentence Embedding via Similarity
    Ranking*, IEEE/ACM TASLP 2024.

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        scale: the factor :math:`\lambda` applied to similarity differences.
        similarity: the row-wise similarity, cosine by default (any :class:`~sentvec.SimilarityFunction`).

    Inputs:
        +-----------------+------------------------------+
        | Texts           | Labels                       |
        +=================+==============================+
        | (a, b) pairs    | float similarity score       |
        +-----------------+------------------------------+

    Relations:
        - :class:`AnglELoss` is CoSENT with the angle-difference similarity.
        - :class:`CosineSimilarityLoss` regresses the scores themselves.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import CoSENTLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = CoSENTLoss(model)
            a = ["A man is eating food.", "A dog runs in the park.", "It rains."]
            b = ["Someone eats a meal.", "The stock market fell.", "The weather is wet."]
            value = loss([a, b], torch.tensor([0.9, 0.1, 0.7]))
            value.backward()
    """

    label_kind = LabelKind.SCORE
    min_columns = 2

    def __init__(
        self, model: SentenceEncoder, scale: float = 20.0, similarity: SimilarityFunction = SimilarityFunction.COSINE
    ) -> None:
        super().__init__(model)
        self.scale = float(scale)
        self.similarity_fct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = similarity_pairwise(similarity)

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """The CoSENT ranking loss over all ordered pairs of pairs in the batch."""
        name = type(self).__name__
        check_columns(name, embeddings, expected=2)
        a, b = embeddings
        y = flat_labels(name, labels, a.shape[0], a)
        return cosent(self.similarity_fct(a, b), y, self.scale)


def angle_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""AnglE's similarity ``|cos(a, b) + sin(a, b)|``: the summed real and imaginary parts of the normalized
    complex quotient :math:`z_a / z_b`, with the first half of each vector the real part and the second half the
    imaginary part (odd dimensions are zero-padded)."""
    if a.shape[-1] % 2:
        a, b = F.pad(a, (0, 1)), F.pad(b, (0, 1))
    a, b = F.normalize(a, p=2, dim=-1), F.normalize(b, p=2, dim=-1)
    re_a, im_a = torch.chunk(a, 2, dim=-1)
    re_b, im_b = torch.chunk(b, 2, dim=-1)
    real = (re_a * re_b + im_a * im_b).sum(-1)
    imag = (im_a * re_b - re_a * im_b).sum(-1)
    return torch.abs(real + imag)


class AnglELoss(CoSENTLoss):
    r"""CoSENT on the angle difference in complex space, which avoids the vanishing gradients of the cosine
    near its saturation points.

    Each embedding is read as a complex vector :math:`z = x_{re} + i\,x_{im}` (first and second halves). With
    :math:`w_i = z_{a_i} / z_{b_i}` normalized by :math:`|a_i|\,|b_i|`, the similarity is
    :math:`s_i = |\sum_k \mathrm{Re}(w_{ik}) + \mathrm{Im}(w_{ik})|`, and

    .. math::

        L = \log\Bigl(1 + \sum_{(i, j):\ y_i > y_j} \exp\bigl(\lambda\,(s_j - s_i)\bigr)\Bigr)

    Reference: Li & Li, *AnglE-optimized Text Embeddings* (2023; ACL 2024 as *AoE*).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        scale: the factor :math:`\lambda` (20 by default).

    Inputs:
        +-----------------+------------------------------+
        | Texts           | Labels                       |
        +=================+==============================+
        | (a, b) pairs    | float similarity score       |
        +-----------------+------------------------------+

    Relations:
        - :class:`CoSENTLoss` is the same ranking objective on the cosine similarity.
        - The AnglE paper trains with a weighted sum of :class:`CosineSimilarityLoss`-like, in-batch and angle
          objectives; this loss is the angle term.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import AnglELoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = AnglELoss(model)
            a = ["A man is eating food.", "A dog runs in the park.", "It rains."]
            b = ["Someone eats a meal.", "The stock market fell.", "The weather is wet."]
            value = loss([a, b], torch.tensor([0.9, 0.1, 0.7]))
            value.backward()
    """

    def __init__(self, model: SentenceEncoder, scale: float = 20.0) -> None:
        super().__init__(model, scale=scale)
        self.similarity_fct = angle_similarity

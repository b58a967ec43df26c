"""Knowledge-distillation losses: match a teacher's embeddings, or its score margins."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.similarity import SimilarityFunction
from sentvec.training.losses._util import check_columns, similarity_pairwise
from sentvec.training.losses.base import LabelKind, Loss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


class MSELoss(Loss):
    r"""Regresses the student's embeddings onto a teacher's (embedding distillation).

    For text columns :math:`c = 1..C` and the teacher embedding :math:`t_i` of row :math:`i`:

    .. math::

        L = \frac{1}{C} \sum_c \frac{1}{B\,D} \sum_i \bigl\lVert s(x_{c,i}) - t_i \bigr\rVert^2

    A typical use is multilingual distillation: column 1 holds the source sentences, column 2 their
    translations, and the label the teacher's embedding of the source sentence, so that both languages map to
    the teacher's vector.

    Reference: Reimers & Gurevych, *Making Monolingual Sentence Embeddings Multilingual using Knowledge
    Distillation*, EMNLP 2020.

    Args:
        model: the student, a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.

    Inputs:
        +------------------------------------------+------------------------------------+
        | Texts                                    | Labels                             |
        +==========================================+====================================+
        | one or more text columns (e.g. src, tgt) | teacher embedding, float (B, D)    |
        +------------------------------------------+------------------------------------+

    Relations:
        - :class:`MarginMSELoss` distils a teacher's score margins instead of its vectors.
        - :class:`~sentvec.training.losses.MatryoshkaLoss` around this loss truncates the teacher embeddings too.

    Example:
        ::

            import sentvec
            from sentvec.training.losses import MSELoss

            teacher = sentvec.load("sentence-transformers/all-mpnet-base-v2", backend="torch")
            student = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            english = ["A man is eating food.", "A dog runs."]
            german = ["Ein Mann isst.", "Ein Hund rennt."]
            target = teacher.encode(english, convert_to_tensor=True)[:, : student.dimension]
            loss = MSELoss(student)
            value = loss([english, german], target)
            value.backward()
    """

    label_kind = LabelKind.EMBEDDING
    min_columns = 1

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean over columns of the element-wise MSE against the teacher embeddings."""
        name = type(self).__name__
        check_columns(name, embeddings, minimum=1)
        if labels is None:
            raise ValueError(f"{name} needs the teacher embeddings as labels, got labels=None")
        first = embeddings[0]
        target = torch.as_tensor(labels).to(device=first.device, dtype=first.dtype).detach()
        if target.shape != first.shape:
            raise ValueError(
                f"{name}: teacher embeddings have shape {tuple(target.shape)}, student {tuple(first.shape)}"
            )
        losses = [F.mse_loss(e, target) for e in embeddings]
        return torch.stack(losses).mean()


class MarginMSELoss(Loss):
    r"""Distils a teacher's score margin between a positive and a negative passage.

    With the student's similarity :math:`s` (dot product by default) and the teacher's margin label
    :math:`\delta_i = S(q_i, p_i) - S(q_i, n_i)`:

    .. math::

        L = \frac{1}{B} \sum_i \bigl( (s(q_i, p_i) - s(q_i, n_i)) - \delta_i \bigr)^2

    With ``k`` negative columns the label is (B, k), one margin per negative, and the mean runs over all
    :math:`B \cdot k` margins.

    Reference: Hofstätter et al., *Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
    Distillation* (2020).

    Args:
        model: the student, a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        similarity: the student's row-wise score, the dot product by default.

    Inputs:
        +-----------------------------------------------+------------------------------------------+
        | Texts                                         | Labels                                   |
        +===============================================+==========================================+
        | (query, positive, negative) triplets          | teacher margin, float (B,)               |
        +-----------------------------------------------+------------------------------------------+
        | (query, positive, negative_1, ..., negative_k) | teacher margins, float (B, k)            |
        +-----------------------------------------------+------------------------------------------+

    Relations:
        - :class:`MSELoss` distils the teacher's embeddings instead of its scores.

    Example:
        ::

            import torch
            import sentvec
            from sentvec.training.losses import MarginMSELoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = MarginMSELoss(model)
            queries = ["what do dogs eat"]
            positives = ["Dogs eat meat and dry food."]
            negatives = ["Cats sleep a lot."]
            teacher_margin = torch.tensor([7.5])  # e.g. cross-encoder score(q, pos) - score(q, neg)
            value = loss([queries, positives, negatives], teacher_margin)
            value.backward()
    """

    label_kind = LabelKind.SCORE
    min_columns = 3

    def __init__(self, model: SentenceEncoder, similarity: SimilarityFunction = SimilarityFunction.DOT) -> None:
        super().__init__(model)
        self.similarity_fct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = similarity_pairwise(similarity)

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """MSE between the student's margins and the teacher's."""
        name = type(self).__name__
        check_columns(name, embeddings, minimum=3)
        if labels is None:
            raise ValueError(f"{name} needs the teacher margins as labels, got labels=None")
        query, positive, negatives = embeddings[0], embeddings[1], embeddings[2:]
        batch, k = query.shape[0], len(negatives)
        target = torch.as_tensor(labels).to(device=query.device, dtype=query.dtype).detach()
        if target.numel() != batch * k:
            raise ValueError(f"{name} expects margins of shape ({batch}, {k}), got {tuple(target.shape)}")
        target = target.reshape(batch, k)
        positive_score = self.similarity_fct(query, positive)
        margins = torch.stack([positive_score - self.similarity_fct(query, n) for n in negatives], dim=1)
        return F.mse_loss(margins, target)

"""Cross-encoder (reranker) losses: each scores (query, document) pairs jointly with the
:class:`~sentvec.CrossEncoder` being trained, then compares the logits with the labels.

Every loss is a :class:`CrossEncoderLoss` (a ``torch.nn.Module``): ``loss(columns, labels)`` returns a scalar tensor
whose ``backward()`` reaches the reranker's sequence-classification model (``model.torch.model``). The first column
holds the queries, the others documents; ``label_kind``, ``min_columns`` and ``max_columns`` state the data a loss
expects, and the trainer (:class:`~sentvec.training.Trainer`) checks them before training starts.

The names are the reference's (``sentence_transformers.cross_encoder.losses``); two of them (``MSELoss``,
``MarginMSELoss``) share a name with a bi-encoder loss of :mod:`sentvec.training.losses`, so these live in their
own module. Logits are scored in float32, whatever the autocast.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.training.data import LabelKind

if TYPE_CHECKING:
    from sentvec.rerank.model import CrossEncoder

__all__ = [
    "BinaryCrossEntropyLoss",
    "CrossEncoderLoss",
    "CrossEntropyLoss",
    "ListNetLoss",
    "MSELoss",
    "MarginMSELoss",
]

TensorFn = Callable[[torch.Tensor], torch.Tensor]


class CrossEncoderLoss(torch.nn.Module, abc.ABC):
    """A training objective for a cross-encoder over a batch of text columns: ``columns[0]`` the queries,
    ``columns[1:]`` documents (each of length B), ``labels`` a tensor of shape (B, ...) or None.

    Subclasses implement :meth:`compute_loss`; :meth:`logits` scores (query, document) pairs with gradients.
    """

    label_kind: LabelKind = LabelKind.SCORE
    min_columns: int = 2
    max_columns: int | None = 2  # None: any number of document columns
    in_batch_negatives: bool = False  # the trainer may batch duplicates: no row serves as another's negative
    num_labels: int | None = 1  # the model's number of labels this loss needs (None: 2 or more)
    model: CrossEncoder

    def __init__(self, model: CrossEncoder) -> None:
        super().__init__()
        self.model = model  # a plain attribute: the reranker's weights are not part of the loss's state
        self._check_num_labels(model.num_labels)
        model.torch  # noqa: B018 -- a reranker on ONNX: a TypeError naming the fix, now rather than at the first step

    def _check_num_labels(self, have: int) -> None:
        name = type(self).__name__
        if self.num_labels is not None and have != self.num_labels:
            raise ValueError(
                f"{name} needs a reranker with {self.num_labels} label(s); the model has {have} "
                "(create one with sentvec.rerank.new_reranker(path, num_labels=...))"
            )
        if self.num_labels is None and have < 2:
            raise ValueError(f"{name} needs a classifier with 2 or more labels; the model has {have}")

    def logits(self, queries: Sequence[str], documents: Sequence[str]) -> torch.Tensor:
        """Logits (N, C), float32, with gradients: the pairs tokenized as ``predict`` does (the model's prompt,
        truncation at ``max_length``, token type ids), padded to the longest pair."""
        tokenized = self.model.tokenize(list(zip(queries, documents, strict=True)))
        return self.model.torch.logits(tokenized, self.model.tokenizer.pad_id).float()

    def forward(self, columns: Sequence[Sequence[str]], labels: torch.Tensor | None = None) -> torch.Tensor:
        """Check the columns, then compute the loss."""
        self.check_columns(columns)
        return self.compute_loss([list(c) for c in columns], labels)

    def check_columns(self, columns: Sequence[Sequence[str]]) -> None:
        """Refuse a batch with too few or too many text columns, or columns of different lengths."""
        name, n = type(self).__name__, len(columns)
        if n < self.min_columns or (self.max_columns is not None and n > self.max_columns):
            want = (
                f"{self.min_columns}"
                if self.max_columns == self.min_columns
                else f"at least {self.min_columns}"
                if self.max_columns is None
                else f"{self.min_columns} to {self.max_columns}"
            )
            raise ValueError(f"{name} needs {want} text columns (query, document(s)), got {n}")
        lengths = {len(c) for c in columns}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"{name} got columns of lengths {[len(c) for c in columns]}; expected one length >= 1")

    def require_labels(self, labels: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
        """``labels`` checked: present, of ``shape`` (a (B, 1) column is taken as (B,)), finite."""
        name = type(self).__name__
        if labels is None:
            raise ValueError(f"{name} needs labels ({self.label_kind.value})")
        if labels.ndim == 2 and labels.shape[1] == 1 and len(shape) == 1:
            labels = labels[:, 0]
        if tuple(labels.shape) != shape:
            raise ValueError(f"{name} needs labels of shape {shape}, got {tuple(labels.shape)}")
        if labels.is_floating_point() and not bool(torch.isfinite(labels).all()):
            raise ValueError(f"{name} got a label that is not finite")
        return labels

    @abc.abstractmethod
    def compute_loss(self, columns: list[list[str]], labels: torch.Tensor | None) -> torch.Tensor:
        """The scalar loss of a batch."""


class BinaryCrossEntropyLoss(CrossEncoderLoss):
    r"""Binary cross-entropy on the single logit of each pair: relevant (1) or not (0), or a soft target in
    between (a similarity score scaled to [0, 1]).

    With logit :math:`z_i`, label :math:`y_i \in [0, 1]`, :math:`\sigma` the sigmoid and :math:`w` = ``pos_weight``:

    .. math::

        L = -\frac{1}{B} \sum_i \bigl( w\, y_i \log \sigma(z_i) + (1 - y_i) \log (1 - \sigma(z_i)) \bigr)

    The reranker's default activation (sigmoid, for one label) then makes its scores the predicted
    probabilities.

    Reference: the cross-encoder objective of Nogueira & Cho, *Passage Re-ranking with BERT* (2019); the
    reference's ``BinaryCrossEntropyLoss``.

    Args:
        model: a one-label :class:`~sentvec.CrossEncoder` on the torch backend.
        pos_weight: weight of the positive term (e.g. the number of negatives per positive); None: 1.

    Inputs:
        +----------------------+---------------------------------------------------------+
        | Texts                | Labels                                                  |
        +======================+=========================================================+
        | (query, document)    | float in [0, 1]: 1 relevant, 0 not (binary or soft)     |
        +----------------------+---------------------------------------------------------+

    Relations:
        - :class:`MSELoss` regresses the logits onto teacher scores instead.
        - :func:`sentvec.training.rerank_data.hard_negative_rows` makes (query, document, 0/1) rows from mined
          hard negatives.

    Example:
        ::

            import torch
            from sentvec.rerank import new_reranker
            from sentvec.training.rerank_losses import BinaryCrossEntropyLoss

            model = new_reranker("sentence-transformers/all-MiniLM-L6-v2", num_labels=1)
            loss = BinaryCrossEntropyLoss(model)
            queries = ["how do plants make food", "how do plants make food"]
            docs = ["Photosynthesis turns light into sugar.", "The stock market fell."]
            value = loss([queries, docs], torch.tensor([1.0, 0.0]))
            value.backward()
    """

    label_kind = LabelKind.SCORE

    def __init__(self, model: CrossEncoder, pos_weight: float | None = None) -> None:
        super().__init__(model)
        if pos_weight is not None and not pos_weight > 0:
            raise ValueError(f"pos_weight must be > 0, got {pos_weight!r}")
        self.pos_weight = pos_weight

    def compute_loss(self, columns: list[list[str]], labels: torch.Tensor | None) -> torch.Tensor:
        """``binary_cross_entropy_with_logits`` of the logits and the labels."""
        queries, docs = columns
        y = self.require_labels(labels, (len(queries),)).float()
        if bool(((y < 0) | (y > 1)).any()):
            bad = float(y[(y < 0) | (y > 1)][0])
            raise ValueError(
                f"BinaryCrossEntropyLoss needs labels in [0, 1], got {bad:g} (scale scores first, e.g. "
                "scale_scores(data, 0, 5) or --score-range 0,5)"
            )
        z = self.logits(queries, docs)[:, 0]
        weight = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=z.device)
        return F.binary_cross_entropy_with_logits(z, y.to(z.device), pos_weight=weight)


class CrossEntropyLoss(CrossEncoderLoss):
    r"""Cross-entropy over the C logits of each pair: a C-way classifier of pairs (e.g. NLI: contradiction,
    entailment, neutral).

    With logits :math:`z_i \in \mathbb{R}^C` and class :math:`c_i`:

    .. math::

        L = -\frac{1}{B} \sum_i \log \frac{\exp z_{i, c_i}}{\sum_k \exp z_{i, k}}

    Reference: the reference's cross-encoder ``CrossEntropyLoss`` (its NLI recipe).

    Args:
        model: a :class:`~sentvec.CrossEncoder` with C >= 2 labels, on the torch backend.

    Inputs:
        +----------------------+---------------------------------------------+
        | Texts                | Labels                                      |
        +======================+=============================================+
        | (text a, text b)     | int class id in [0, C)                      |
        +----------------------+---------------------------------------------+

    Relations:
        - :class:`BinaryCrossEntropyLoss` is the one-logit counterpart for relevance.
        - Evaluate with ``predict(pairs, apply_softmax=True)``; the reranker's default activation for C labels is
          the identity (logits).

    Example:
        ::

            import torch
            from sentvec.rerank import new_reranker
            from sentvec.training.rerank_losses import CrossEntropyLoss

            model = new_reranker("sentence-transformers/all-MiniLM-L6-v2", num_labels=3)
            loss = CrossEntropyLoss(model)
            a = ["A man eats.", "A man eats."]
            b = ["Someone has a meal.", "Nobody is eating."]
            value = loss([a, b], torch.tensor([1, 0]))
            value.backward()
    """

    label_kind = LabelKind.CLASS
    num_labels = None

    def compute_loss(self, columns: list[list[str]], labels: torch.Tensor | None) -> torch.Tensor:
        """``cross_entropy`` of the logits and the class ids."""
        a, b = columns
        y = self.require_labels(labels, (len(a),))
        if y.is_floating_point() and not bool((y == y.round()).all()):
            raise ValueError("CrossEntropyLoss needs integer class labels")
        y = y.long()
        classes = self.model.num_labels
        if bool(((y < 0) | (y >= classes)).any()):
            bad = int(y[(y < 0) | (y >= classes)][0])
            raise ValueError(f"CrossEntropyLoss: class label {bad} is outside [0, {classes}) (the model's labels)")
        z = self.logits(a, b)
        return F.cross_entropy(z, y.to(z.device))


class MSELoss(CrossEncoderLoss):
    r"""Distillation: regresses the logit of each pair onto a teacher's score for it (e.g. a larger reranker's
    logit).

    With logit :math:`z_i`, :math:`f` = ``activation_fn`` (identity by default) and teacher score :math:`t_i`:

    .. math::

        L = \frac{1}{B} \sum_i \bigl( f(z_i) - t_i \bigr)^2

    Reference: Hofstätter et al., *Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
    Distillation* (2020); the reference's cross-encoder ``MSELoss``.

    Args:
        model: a one-label :class:`~sentvec.CrossEncoder` on the torch backend.
        activation_fn: applied to the logits before the comparison (e.g. ``torch.sigmoid`` for teacher
            probabilities); None: identity (teacher logits).

    Inputs:
        +----------------------+----------------------------------------+
        | Texts                | Labels                                 |
        +======================+========================================+
        | (query, document)    | float teacher score                    |
        +----------------------+----------------------------------------+

    Relations:
        - :class:`MarginMSELoss` distils the teacher's score *differences*, which transfer better between
          models whose scores live on different scales.

    Example:
        ::

            import torch
            from sentvec.rerank import new_reranker
            from sentvec.training.rerank_losses import MSELoss

            model = new_reranker("sentence-transformers/all-MiniLM-L6-v2", num_labels=1)
            loss = MSELoss(model)
            value = loss([["what is a cat"], ["A cat is a small feline."]], torch.tensor([7.5]))
            value.backward()
    """

    label_kind = LabelKind.SCORE

    def __init__(self, model: CrossEncoder, activation_fn: TensorFn | None = None) -> None:
        super().__init__(model)
        self.activation_fn = activation_fn

    def compute_loss(self, columns: list[list[str]], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean squared error between the (activated) logits and the teacher scores."""
        queries, docs = columns
        t = self.require_labels(labels, (len(queries),)).float()
        z = self.logits(queries, docs)[:, 0]
        if self.activation_fn is not None:
            z = self.activation_fn(z)
        return F.mse_loss(z, t.to(z.device))


class MarginMSELoss(CrossEncoderLoss):
    r"""Distillation of score margins: the difference between the scores of a relevant and an irrelevant
    document for the same query must match the teacher's difference.

    With :math:`s(q, d)` the logit and :math:`m_i = t(q_i, d^+_i) - t(q_i, d^-_i)` the teacher's margin:

    .. math::

        L = \frac{1}{B} \sum_i \bigl( (s(q_i, d^+_i) - s(q_i, d^-_i)) - m_i \bigr)^2

    Reference: Hofstätter et al., *Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
    Distillation* (2020); the reference's cross-encoder ``MarginMSELoss``.

    Args:
        model: a one-label :class:`~sentvec.CrossEncoder` on the torch backend.

    Inputs:
        +--------------------------------+--------------------------------------------------+
        | Texts                          | Labels                                           |
        +================================+==================================================+
        | (query, positive, negative)    | float teacher margin: score(pos) - score(neg)    |
        +--------------------------------+--------------------------------------------------+

        Several negatives per query: one row per negative.

    Relations:
        - :class:`MSELoss` distils the scores themselves.

    Example:
        ::

            import torch
            from sentvec.rerank import new_reranker
            from sentvec.training.rerank_losses import MarginMSELoss

            model = new_reranker("sentence-transformers/all-MiniLM-L6-v2", num_labels=1)
            loss = MarginMSELoss(model)
            value = loss([["what is a cat"], ["A cat is a small feline."], ["Dogs bark."]], torch.tensor([9.2]))
            value.backward()
    """

    label_kind = LabelKind.SCORE
    min_columns = 3
    max_columns = 3

    def compute_loss(self, columns: list[list[str]], labels: torch.Tensor | None) -> torch.Tensor:
        """Mean squared error between the score margins and the teacher's."""
        queries, positives, negatives = columns
        n = len(queries)
        m = self.require_labels(labels, (n,)).float()
        z = self.logits(queries + queries, positives + negatives)[:, 0]  # one forward pass for both
        return F.mse_loss(z[:n] - z[n:], m.to(z.device))


class ListNetLoss(CrossEncoderLoss):
    r"""A listwise loss: for each query, the distribution the scores of its n documents induce must match the one
    their relevance labels induce (the "top-one probability" of ListNet).

    With :math:`s_{ij}` the logit of query i's document j and :math:`y_{ij}` its label:

    .. math::

        L = -\frac{1}{B} \sum_i \sum_{j=1}^{n}
            \mathrm{softmax}(y_{i\cdot})_j \, \log \mathrm{softmax}(s_{i\cdot})_j

    Reference: Cao et al., *Learning to Rank: From Pairwise Approach to Listwise Approach*, ICML 2007; the
    reference's ``ListNetLoss``.

    Args:
        model: a one-label :class:`~sentvec.CrossEncoder` on the torch backend.

    Inputs:
        +-------------------------------------+---------------------------------------------------------+
        | Texts                               | Labels                                                  |
        +=====================================+=========================================================+
        | (query, doc_1, ..., doc_n), n >= 1  | n floats per row: the documents' relevance (e.g. 1, 0)  |
        +-------------------------------------+---------------------------------------------------------+

        Every row of a dataset has the same n (a file's label column holds a JSON list of n numbers).

    Relations:
        - :class:`BinaryCrossEntropyLoss` scores each pair on its own (pointwise); ListNet compares the documents of
          a query with each other, which is what a reranker's ranking needs.
        - :func:`sentvec.training.rerank_data.hard_negative_lists` builds rows from mined hard negatives.

    Example:
        ::

            import torch
            from sentvec.rerank import new_reranker
            from sentvec.training.rerank_losses import ListNetLoss

            model = new_reranker("sentence-transformers/all-MiniLM-L6-v2", num_labels=1)
            loss = ListNetLoss(model)
            columns = [["what is a cat"], ["A cat is a small feline."], ["Dogs bark."], ["Cats purr."]]
            value = loss(columns, torch.tensor([[1.0, 0.0, 0.5]]))
            value.backward()
    """

    label_kind = LabelKind.EMBEDDING  # a vector of n labels per row
    max_columns = None

    def compute_loss(self, columns: list[list[str]], labels: torch.Tensor | None) -> torch.Tensor:
        """Cross-entropy between the label and score distributions of each query's documents."""
        queries, docs = columns[0], columns[1:]
        b, n = len(queries), len(docs)
        y = self.require_labels(labels, (b, n)).float()
        flat_docs = [d for column in docs for d in column]  # document-major: column j holds every query's doc j
        z = self.logits(queries * n, flat_docs)[:, 0].reshape(n, b).T  # (B, n)
        target = torch.softmax(y.to(z.device), dim=1)
        return -(target * torch.log_softmax(z, dim=1)).sum(dim=1).mean()

"""The loss contract: embed each input column, then score from the embeddings.

Splitting the two steps is what lets wrappers reuse the scoring: the cached (GradCache) variants embed in
chunks without gradients and replay them; Matryoshka scores truncated embeddings; a distributed run gathers
embeddings from all ranks before scoring.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from sentvec.distributed.ddp import gather_batch
from sentvec.training.data import LabelKind
from sentvec.training.losses._util import embed

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder

__all__ = ["LabelKind", "Loss", "Scorer"]

MERGE_RATIO = 1.5  # columns whose longest texts are within this factor share one forward pass

# column embeddings, labels -> scalar loss
Scorer = Callable[[list[torch.Tensor], torch.Tensor | None], torch.Tensor]


class Loss(torch.nn.Module, abc.ABC):
    """A training objective over a batch of text columns.

    ``forward(columns, labels)``: ``columns`` is a list of text lists, one per input column (all of length B);
    ``labels`` is a tensor of shape (B, ...) or None. Subclasses implement :meth:`compute_loss_from_embeddings`.
    """

    # class defaults; a wrapper (e.g. MatryoshkaLoss) sets them per instance from the loss it wraps
    label_kind: LabelKind = LabelKind.NONE
    min_columns: int = 1
    # True when the other rows of the batch serve as negatives: a duplicate text in a batch would then be a
    # false negative, so the trainer batches such losses without duplicates.
    in_batch_negatives: bool = False
    # the encoder being trained: its torch pipeline (``model.torch``) embeds with gradients
    model: SentenceEncoder

    def __init__(self, model: SentenceEncoder) -> None:
        super().__init__()
        self.model = model

    def embed(self, columns: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        """One (B, D) embedding tensor per column, with gradients.

        Columns of similar length (longest texts within ``MERGE_RATIO`` of each other) run as one forward pass:
        one larger batch uses the CPU's matrix units better than several small ones. Columns of different lengths
        run apart, or short queries would be padded to their long passages' length (``benchmarks/embed_columns.py``
        measures both).
        """
        longest = [int(self.model.tokenize(list(column), prompt="").lengths.max()) for column in columns]
        groups: list[list[int]] = []  # column indices, by length
        for i in sorted(range(len(columns)), key=longest.__getitem__):
            if groups and longest[i] <= MERGE_RATIO * longest[groups[-1][0]]:
                groups[-1].append(i)
            else:
                groups.append([i])
        out: list[torch.Tensor] = [torch.empty(0)] * len(columns)
        for group in groups:
            texts = [text for i in group for text in columns[i]]
            parts = torch.split(embed(self.model, texts), [len(columns[i]) for i in group])
            for i, part in zip(group, parts, strict=True):
                out[i] = part
        return out

    def forward(self, columns: Sequence[Sequence[str]], labels: torch.Tensor | None = None) -> torch.Tensor:
        """Embed, then score (the global batch, when several ranks train together)."""
        self.check_columns(columns)
        return self.score_columns(columns, labels, self.compute_loss_from_embeddings)

    def check_columns(self, columns: Sequence[Sequence[str]]) -> None:
        """Refuse a batch with fewer text columns than the loss needs."""
        if len(columns) < self.min_columns:
            raise ValueError(
                f"{type(self).__name__} needs at least {self.min_columns} text columns, got {len(columns)}"
            )
        if not all(len(column) for column in columns):
            raise ValueError(f"{type(self).__name__} got an empty batch (a column without rows)")

    def score_columns(
        self, columns: Sequence[Sequence[str]], labels: torch.Tensor | None, score: Scorer
    ) -> torch.Tensor:
        """Embed the columns and apply ``score`` to their embeddings: the one place that turns texts into a loss,
        so wrappers (Matryoshka) pass their own scoring and variants (GradCache) change how embedding happens."""
        # Under torchrun, the global batch's embeddings and labels (a no-op in one process).
        embeddings, labels, _ = gather_batch(self.embed(columns), labels)
        return score(embeddings, labels)

    @abc.abstractmethod
    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        """The scalar loss from one (B, D) tensor per column."""

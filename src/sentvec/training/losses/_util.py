"""Helpers shared by the loss families: embedding with gradients, column and label checks, distances and
similarities on tensors."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sentvec.enums import parse_enum
from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder


class Distance(str, enum.Enum):
    """How far apart two embeddings are (contrastive and triplet losses)."""

    COSINE = "cosine"  # 1 - cos
    EUCLIDEAN = "euclidean"  # L2
    MANHATTAN = "manhattan"  # L1


def embed(model: SentenceEncoder, texts: Sequence[str], prompt: str | None = None) -> torch.Tensor:
    """Sentence embeddings (B, D) of ``texts`` through the model's torch pipeline, with gradients (the training
    forward pass: tokenized as ``encode`` would, behind ``prompt`` when given; as in the reference's training, the
    model's default prompt is not added)."""
    return model.torch.embed(model.tokenize(texts, prompt=prompt or ""), model.tokenizer.pad_id)


def check_columns(name: str, embeddings: list[torch.Tensor], expected: int | None = None, minimum: int = 1) -> None:
    """Raise unless there are ``expected`` (or at least ``minimum``) embedding tensors of the same batch size."""
    if expected is not None and len(embeddings) != expected:
        raise ValueError(f"{name} expects {expected} columns, got {len(embeddings)}")
    if len(embeddings) < minimum:
        raise ValueError(f"{name} expects at least {minimum} columns, got {len(embeddings)}")
    sizes = {int(e.shape[0]) for e in embeddings}
    if len(sizes) > 1:
        raise ValueError(f"{name}: all columns must hold the same number of rows, got sizes {sorted(sizes)}")


def flat_labels(name: str, labels: torch.Tensor | None, batch_size: int, like: torch.Tensor) -> torch.Tensor:
    """The labels as a 1-D tensor of ``batch_size`` entries on ``like``'s device."""
    if labels is None:
        raise ValueError(f"{name} needs a label per row, got labels=None")
    labels = torch.as_tensor(labels)
    if labels.numel() != batch_size:
        raise ValueError(
            f"{name} expects {batch_size} labels (one per row), got {labels.numel()} with shape {tuple(labels.shape)}"
        )
    return labels.reshape(-1).to(like.device)


def check_distance(distance: Distance | str) -> Distance:
    """The distance as its enum member (a name is parsed; an unknown one is a ``ValueError`` listing the valid)."""
    return parse_enum(Distance, distance, "distance")


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, distance: Distance) -> torch.Tensor:
    """Row-wise distance ``(B, D) x (B, D) -> (B,)``: ``1 - cos``, L2 or L1."""
    if distance is Distance.COSINE:
        return 1 - F.cosine_similarity(a, b, dim=-1)
    if distance is Distance.EUCLIDEAN:
        return torch.linalg.vector_norm(a - b, ord=2, dim=-1)
    return torch.linalg.vector_norm(a - b, ord=1, dim=-1)


def distance_matrix(x: torch.Tensor, distance: Distance) -> torch.Tensor:
    """All-pairs distances ``(B, D) -> (B, B)``; the Euclidean one has a finite gradient at zero distance."""
    if distance is Distance.COSINE:
        x = F.normalize(x, p=2, dim=-1)
        return 1 - x @ x.T
    if distance is Distance.MANHATTAN:
        return torch.cdist(x, x, p=1.0)
    square = (x * x).sum(-1)
    sq = (square[:, None] + square[None, :] - 2 * (x @ x.T)).clamp_min(0)
    zero = sq <= 0
    return torch.where(zero, torch.zeros_like(sq), sq.clamp_min(1e-30).sqrt())


def similarity_matrix(similarity: SimilarityFunction) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The ``(N, D) x (M, D) -> (N, M)`` function of a similarity (distances come negated; a name is parsed)."""
    return SimilarityFunction.parse(similarity).matrix


def similarity_pairwise(similarity: SimilarityFunction) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The row-wise ``(N, D) x (N, D) -> (N,)`` function of a similarity (a name is parsed)."""
    return SimilarityFunction.parse(similarity).pairwise


def zero_loss(*embeddings: torch.Tensor) -> torch.Tensor:
    """A zero that stays connected to the graph (so ``backward`` works when no term is active)."""
    return sum((e.sum() * 0.0 for e in embeddings), torch.zeros((), device=embeddings[0].device))

"""GradCache (Gao et al. 2021): losses whose batch size is not bounded by activation memory.

Three steps, all inside one ``loss(columns, labels)`` call plus the trainer's ``loss.backward()``:

1. embed every column in mini-batches without gradients, keeping each mini-batch's RNG state;
2. score the loss on the detached embeddings (made leaves that require grad) and take the gradient of the loss
   with respect to every embedding;
3. on ``backward``, re-embed each mini-batch with gradients under its saved RNG state (so dropout draws the
   same masks) and backpropagate the cached embedding gradients through it, one mini-batch at a time.

Step 3 runs inside a custom autograd function's backward, so a plain ``loss.backward()`` (scaled or not, e.g.
by gradient accumulation) drives it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import torch

from sentvec.distributed.ddp import gather_batch, local_gradient
from sentvec.similarity import SimilarityFunction
from sentvec.training.losses._util import embed
from sentvec.training.losses.base import Loss, Scorer
from sentvec.training.losses.ranking import MultipleNegativesRankingLoss

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder

Replay = Callable[[torch.Tensor], None]


class _ReplayContext(Protocol):
    """The autograd context of :class:`_ReplayGradients`: it carries the replay to ``backward``."""

    replay: Replay


class RngState:
    """A snapshot of the CPU RNG (and the CUDA RNG of ``device``) that can be replayed later."""

    def __init__(self, device: torch.device) -> None:
        self.cpu = torch.get_rng_state()
        self.device = device
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextlib.contextmanager
    def replayed(self) -> Iterator[None]:
        """Run the block from the snapshot's RNG state; the global RNG is left as it was."""
        devices = [self.device] if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield


class _ReplayGradients(torch.autograd.Function):
    """Identity on the (detached) loss value whose backward runs the second, gradient-carrying pass."""

    @staticmethod
    def forward(ctx: _ReplayContext, value: torch.Tensor, anchor: torch.Tensor, replay: Replay) -> torch.Tensor:
        ctx.replay = replay
        return value.clone()

    @staticmethod
    def backward(ctx: _ReplayContext, grad_output: torch.Tensor) -> tuple[None, None, None]:
        ctx.replay(grad_output)
        return None, None, None


class CachedLoss(Loss):
    """A loss computed with GradCache: subclasses provide :meth:`compute_loss_from_embeddings`.

    Loss value and gradients equal those of the same loss computed on the whole batch at once (up to float
    rounding), with activation memory bounded by ``mini_batch_size`` texts.
    """

    def __init__(self, model: SentenceEncoder, mini_batch_size: int = 32, **loss_kwargs: object) -> None:
        super().__init__(model, **loss_kwargs)  # cooperative: a cached variant passes its loss's arguments on
        if mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size}")
        self.mini_batch_size = mini_batch_size

    def score_columns(
        self, columns: Sequence[Sequence[str]], labels: torch.Tensor | None, score: Scorer
    ) -> torch.Tensor:
        """Embed without gradients, score, and arm the replay that ``backward`` runs (GradCache around any scoring
        function of the column embeddings; wrappers pass their own)."""
        chunks = [self._chunks(column) for column in columns]
        states, local = self._embed_without_grad(chunks)
        embeddings, labels, sizes = gather_batch(local, labels)  # the global batch under torchrun
        if not torch.is_grad_enabled():
            return score(embeddings, labels)
        leaves = [e.detach().requires_grad_() for e in embeddings]
        loss = score(leaves, labels)
        found = torch.autograd.grad(loss, leaves, allow_unused=True)
        grads = [
            local_gradient(g if g is not None else torch.zeros_like(leaf), sizes)
            for g, leaf in zip(found, leaves, strict=True)
        ]

        def replay(grad_output: torch.Tensor) -> None:
            self._replay(chunks, states, grads, grad_output)

        anchor = torch.zeros((), device=loss.device, requires_grad=True)
        out: torch.Tensor = _ReplayGradients.apply(loss.detach(), anchor, replay)
        return out

    def _chunks(self, column: Sequence[str]) -> list[list[str]]:
        texts = list(column)
        size = self.mini_batch_size
        return [texts[i : i + size] for i in range(0, len(texts), size)]

    def _embed_without_grad(self, chunks: list[list[list[str]]]) -> tuple[list[list[RngState]], list[torch.Tensor]]:
        """Step 1: per column, the embeddings of all its mini-batches and the RNG state before each."""
        device = torch.device(self.model.device)
        states: list[list[RngState]] = []
        embeddings: list[torch.Tensor] = []
        with torch.no_grad():
            for column in chunks:
                column_states, parts = [], []
                for texts in column:
                    column_states.append(RngState(device))
                    parts.append(embed(self.model, texts))
                states.append(column_states)
                embeddings.append(torch.cat(parts, dim=0))
        return states, embeddings

    def _replay(
        self,
        chunks: list[list[list[str]]],
        states: list[list[RngState]],
        grads: list[torch.Tensor],
        grad_output: torch.Tensor,
    ) -> None:
        """Step 3: re-embed each mini-batch with gradients and backpropagate its slice of the cached gradients."""
        for column, column_states, grad in zip(chunks, states, grads, strict=True):
            offset = 0
            for texts, state in zip(column, column_states, strict=True):
                with state.replayed(), torch.enable_grad():
                    embedding = embed(self.model, texts)
                part = grad[offset : offset + len(texts)] * grad_output.to(grad.dtype)
                torch.autograd.backward(embedding, part.to(embedding.dtype))
                offset += len(texts)


class CachedMultipleNegativesRankingLoss(CachedLoss, MultipleNegativesRankingLoss):
    r""":class:`~sentvec.training.losses.MultipleNegativesRankingLoss` with GradCache: same value, same gradients,
    memory bounded by ``mini_batch_size`` instead of the batch size.

    .. math::

        L = -\frac{1}{B} \sum_i \log \frac{\exp(\lambda\,\cos(a_i, p_i))}
            {\sum_{c \in C} \exp(\lambda\,\cos(a_i, c))}

    over the candidates :math:`C` (all positives and hard negatives of the batch). Each column is embedded in
    mini-batches without gradients; the loss's gradients with respect to the embeddings are cached; on
    ``backward`` every mini-batch is embedded again with gradients, replaying its RNG state so that dropout
    matches the first pass, and the cached gradients flow into the model. Costs about one extra forward pass.
    Large batches matter for this loss because every other pair of the batch is a negative.

    Reference: Gao, Zhang, Han & Callan, *Scaling Deep Contrastive Learning Batch Size under Memory Limited
    Setup* (RepL4NLP 2021).

    Args:
        model: a :class:`~sentvec.SentenceEncoder` loaded with the torch backend.
        scale: the inverse temperature :math:`\lambda` (20).
        mini_batch_size: texts embedded at once; bounds memory, not the result.
        symmetric: also score the positive→anchor direction (as in the uncached loss).
        similarity: the similarity matrix function, cosine by default.

    Inputs:
        +-------------------------------------------------+--------+
        | Texts                                           | Labels |
        +=================================================+========+
        | (anchor, positive) pairs                        | none   |
        +-------------------------------------------------+--------+
        | (anchor, positive, negative_1, ..., negative_n) | none   |
        +-------------------------------------------------+--------+

    Relations:
        - :class:`~sentvec.training.losses.MultipleNegativesRankingLoss`: the uncached loss (faster at small batches).
        - :class:`~sentvec.training.losses.MatryoshkaLoss` around this loss keeps the caching.

    Example:
        ::

            import sentvec
            from sentvec.training.losses import CachedMultipleNegativesRankingLoss

            model = sentvec.load("sentence-transformers/all-MiniLM-L6-v2", backend="torch")
            loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=2)
            anchors = ["A man is eating food.", "A dog runs in the park.", "It rains."]
            positives = ["Someone eats a meal.", "An animal is running.", "The weather is wet."]
            value = loss([anchors, positives])
            value.backward()  # re-embeds two texts at a time
    """

    def __init__(
        self,
        model: SentenceEncoder,
        scale: float = 20.0,
        mini_batch_size: int = 32,
        symmetric: bool = False,
        similarity: SimilarityFunction = SimilarityFunction.COSINE,
    ) -> None:
        super().__init__(
            model, mini_batch_size=mini_batch_size, scale=scale, symmetric=symmetric, similarity=similarity
        )

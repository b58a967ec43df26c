"""The contracts every use of a model types against: :class:`Embedder` (and :class:`Reranker` for cross-encoders).

Evaluation, search, the index, clustering, classification, the server and the losses need only this much of a
model; :class:`sentvec.SentenceEncoder` implements it, and so can a test double or a remote model. Torch-only
tools (training, vocabulary extension, export, weight fingerprints) take the torch pipeline instead
(``SentenceEncoder.torch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, overload, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentvec.batching import Tokenized
    from sentvec.quantization import Precision
    from sentvec.rerank.results import RankedDocument, TextPair
    from sentvec.similarity import Array, SimilarityFunction


@runtime_checkable
class Embedder(Protocol):
    """Texts in, one fixed-size numpy vector per text out, plus the facts a use needs to compare them."""

    @property
    def name(self) -> str:
        """A human-readable name (the path or model id it was loaded from)."""

    @property
    def source(self) -> Path | None:
        """The model folder, when it came from one."""

    @property
    def dimension(self) -> int:
        """Size of the vectors ``encode`` returns."""

    @property
    def max_seq_length(self) -> int:
        """Inputs longer than this many tokens are truncated (and reported)."""

    @property
    def similarity_fn(self) -> SimilarityFunction:
        """How two of its vectors are compared."""

    @property
    def prompts(self) -> Mapping[str, str]:
        """Named prompts (``{"query": "query: ", ...}``)."""

    @overload
    def encode(
        self,
        sentences: str,
        *,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        precision: Precision | str = ...,
        normalize_embeddings: bool = ...,
        truncate_dim: int | None = ...,
    ) -> np.ndarray: ...
    @overload
    def encode(
        self,
        sentences: Iterable[str],
        *,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        precision: Precision | str = ...,
        normalize_embeddings: bool = ...,
        truncate_dim: int | None = ...,
    ) -> np.ndarray: ...
    def encode(
        self,
        sentences: str | Iterable[str],
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        precision: Precision | str = "float32",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """One text → a 1-D vector ``(D,)``; many → a 2-D array ``(N, D)`` in input order."""

    def encode_query(
        self,
        sentences: str | Iterable[str],
        *,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        precision: Precision | str = "float32",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """``encode`` with the model's query prompt (see :mod:`sentvec.prompts`)."""

    def encode_document(
        self,
        sentences: str | Iterable[str],
        *,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        precision: Precision | str = "float32",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """``encode`` with the model's document prompt (see :mod:`sentvec.prompts`)."""

    def similarity(self, a: Array, b: Array) -> Array:
        """Similarity matrix ``(N, M)`` with the model's similarity function."""

    def tokenize(self, texts: Sequence[str], *, prompt: str | None = None, prompt_name: str | None = None) -> Tokenized:
        """Token ids and the truncation report, as ``encode`` would see them (the default prompt included)."""


@runtime_checkable
class Reranker(Protocol):
    """(query, document) pairs in, one relevance score per pair out: what reranking in search, the index and the
    server needs of a cross-encoder. :class:`sentvec.CrossEncoder` implements it."""

    @property
    def name(self) -> str:
        """A human-readable name (the path or model id it was loaded from)."""

    @property
    def num_labels(self) -> int:
        """Scores per pair (1 for a reranker)."""

    @property
    def max_length(self) -> int:
        """Pairs longer than this many tokens are truncated (and reported)."""

    def predict(
        self,
        pairs: Sequence[TextPair],
        *,
        batch_size: int = 32,
        apply_softmax: bool = False,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Scores in input order: ``(N,)`` for one label, ``(N, C)`` for C labels (float32)."""

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_k: int | None = None,
        return_documents: bool = False,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
    ) -> list[RankedDocument]:
        """The documents best first (the ``top_k`` best when given)."""

"""CrossEncoder: the user-facing reranker. ``predict`` scores (query, document) pairs; ``rank`` orders documents."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Union, overload

import numpy as np

from sentvec.arrays import as_text_list
from sentvec.backends.base import BackendKind
from sentvec.backends.rerank_base import RerankBackend
from sentvec.batching import EncodeInfo, PairTokenizer, Tokenized, padded_batches, plan_batches
from sentvec.formats import TOKENIZER_FILE, TOKENIZER_SIDE_FILES, RerankerConfig, write_reranker_files
from sentvec.model_card import CARD_FILE, RerankerCardFacts, TrainingSummary, render_reranker_card
from sentvec.prompts import resolve_prompt
from sentvec.rerank.activation import (
    Activation,
    ActivationCallable,
    ActivationFn,
    activation_name,
    apply_activation,
    default_activation,
    resolve_activation,
)
from sentvec.rerank.loading import read_reranker
from sentvec.rerank.results import RankedDocument, RerankerInfo, TextPair

if TYPE_CHECKING:
    import torch

    from sentvec.backends.rerank_torch import TorchRerankBackend
    from sentvec.protocols import Reranker

logger = logging.getLogger(__name__)

PROGRESS_MIN_BATCHES = 16

# What ``predict`` returns: (N,) scores for one label, (N, C) for C labels; a torch tensor with
# ``convert_to_tensor``; a list of rows with ``convert_to_numpy=False``; one row (a scalar or (C,)) for one pair.
Scores = Union[np.ndarray, "torch.Tensor", list[np.ndarray]]

PREDICT_KEYWORDS = (
    "batch_size",
    "activation_fn",
    "apply_softmax",
    "convert_to_numpy",
    "convert_to_tensor",
    "show_progress_bar",
    "return_info",
    "prompt_name",
    "prompt",
)
RANK_KEYWORDS = (
    "top_k",
    "return_documents",
    "batch_size",
    "show_progress_bar",
    "activation_fn",
    "return_info",
    "prompt_name",
    "prompt",
)


class CrossEncoder:
    """Scores text pairs jointly with a sequence-classification Transformer (a :class:`Reranker`).

    Build one from a folder or a model name: ``CrossEncoder(name_or_path, ...)``, or the same call spelled
    :func:`sentvec.load_reranker` (as ``sentvec.load`` builds a :class:`SentenceEncoder`). ``predict`` and ``rank``
    take sentence-transformers' ``CrossEncoder`` keywords, plus ``return_info`` (the truncation report). Scores are
    float32 logits after the model's activation (sigmoid for one label, identity otherwise, unless the folder or
    the caller names another). :meth:`from_parts` assembles one from a tokenizer, a backend and a config.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        *,
        device: str | None = None,
        backend: BackendKind | str = BackendKind.AUTO,
        max_length: int | None = None,
        quantized: bool = False,
        file_name: str | None = None,
        threads: int | None = None,
        activation_fn: ActivationFn | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        cache_folder: str | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
    ) -> None:
        """Load a reranker folder or model name: see :func:`load_reranker` for the keywords."""
        parts = read_reranker(
            model_name_or_path,
            device=device,
            backend=backend,
            max_length=max_length,
            quantized=quantized,
            file_name=file_name,
            threads=threads,
            activation_fn=activation_fn,
            trust_remote_code=trust_remote_code,
            revision=revision,
            cache_folder=cache_folder,
            local_files_only=local_files_only,
            token=token,
        )
        self._setup(parts.tokenizer, parts.backend, parts.config, parts.activation_fn, parts.name)

    @classmethod
    def from_parts(
        cls,
        tokenizer: PairTokenizer,
        backend: RerankBackend,
        config: RerankerConfig,
        *,
        activation_fn: ActivationFn | None = None,
        name: str | None = None,
    ) -> CrossEncoder:
        """A reranker from its parts (``activation_fn`` None: the default for the backend's number of labels)."""
        model = cls.__new__(cls)
        model._setup(tokenizer, backend, config, activation_fn, name)
        return model

    def _setup(
        self,
        tokenizer: PairTokenizer,
        backend: RerankBackend,
        config: RerankerConfig,
        activation_fn: ActivationFn | None,
        name: str | None,
    ) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.config = config
        self._name = name or config.root.name
        self._activation: ActivationCallable = (
            default_activation(backend.num_labels) if activation_fn is None else resolve_activation(activation_fn)
        )

    # --- properties -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The name or path the model was loaded from."""
        return self._name

    @property
    def source(self) -> Path:
        """The model folder."""
        return self.config.root

    @property
    def num_labels(self) -> int:
        """Scores per pair: 1 for a reranker (relevance), C for a C-way classifier (e.g. NLI)."""
        return self.backend.num_labels

    @property
    def labels(self) -> tuple[str, ...]:
        """The class names, by score column (``config.json``'s ``id2label``)."""
        return self.config.labels

    @property
    def max_length(self) -> int:
        """Pairs longer than this many tokens (special tokens included) are truncated ``longest_first`` (and
        reported)."""
        return self.tokenizer.max_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        self.tokenizer.set_max_length(value)

    @property
    def max_seq_length(self) -> int:
        """Alias of :attr:`max_length` (sentence-transformers 6.x's name)."""
        return self.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.max_length = value

    @property
    def activation_fn(self) -> ActivationCallable:
        """What ``predict`` and ``rank`` apply to the logits by default; settable (an :class:`Activation`, a name,
        or a callable on float32 numpy logits)."""
        return self._activation

    @activation_fn.setter
    def activation_fn(self, value: ActivationFn) -> None:
        self._activation = resolve_activation(value)

    @property
    def prompts(self) -> dict[str, str]:
        """Named prompts of the model (prepended to the first text of each pair)."""
        return dict(self.config.prompts)

    @property
    def device(self) -> str:
        """Where the forward pass runs."""
        return self.backend.device

    @property
    def torch(self) -> TorchRerankBackend:
        """The torch model (what training and export work on). A reranker on another backend is a ``TypeError``
        saying how to load it."""
        from sentvec.backends.rerank_torch import TorchRerankBackend

        if not isinstance(self.backend, TorchRerankBackend):
            raise TypeError(
                f"{self.name!r} runs on the {self.backend.name} backend; this needs the torch model: "
                "load it with sentvec.load_reranker(..., backend='torch')"
            )
        return self.backend

    # --- predict ----------------------------------------------------------------------------------
    @overload
    def predict(
        self,
        pairs: Sequence[TextPair],
        *,
        batch_size: int = ...,
        activation_fn: ActivationFn | None = ...,
        apply_softmax: bool = ...,
        convert_to_numpy: Literal[True] = ...,
        convert_to_tensor: Literal[False] = ...,
        show_progress_bar: bool | None = ...,
        return_info: Literal[False] = ...,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
    ) -> np.ndarray: ...
    @overload
    def predict(
        self,
        pairs: Sequence[TextPair],
        *,
        batch_size: int = ...,
        activation_fn: ActivationFn | None = ...,
        apply_softmax: bool = ...,
        convert_to_numpy: Literal[True] = ...,
        convert_to_tensor: Literal[False] = ...,
        show_progress_bar: bool | None = ...,
        return_info: Literal[True],
        prompt_name: str | None = ...,
        prompt: str | None = ...,
    ) -> tuple[np.ndarray, EncodeInfo]: ...
    @overload
    def predict(
        self,
        pairs: TextPair | Sequence[TextPair],
        *,
        batch_size: int = ...,
        activation_fn: ActivationFn | None = ...,
        apply_softmax: bool = ...,
        convert_to_numpy: bool = ...,
        convert_to_tensor: bool = ...,
        show_progress_bar: bool | None = ...,
        return_info: bool = ...,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
    ) -> Scores | tuple[Scores, EncodeInfo]: ...
    def predict(
        self,
        pairs: TextPair | Sequence[TextPair],
        *,
        batch_size: int = 32,
        activation_fn: ActivationFn | None = None,
        apply_softmax: bool = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        show_progress_bar: bool | None = None,
        return_info: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        **unknown: object,
    ) -> Scores | tuple[Scores, EncodeInfo]:
        """Score (query, document) pairs, in input order: ``(N,)`` float32 for a one-label model, ``(N, C)`` for C
        labels; one pair (a tuple or a two-item list) gives one score (a float32 scalar) or one ``(C,)`` row.

        ``activation_fn``: what to apply to the logits instead of the model's own (:attr:`activation_fn`):
        an :class:`Activation` or its name (``"identity"`` gives raw logits), or a callable on float32 numpy
        logits ``(N, C)``; ``apply_softmax``: softmax over the labels afterwards (several labels only).
        Pairs longer than :attr:`max_length` tokens are truncated ``longest_first`` and reported: a warning per
        call, and with ``return_info=True`` the :class:`EncodeInfo` (per pair: tokens before truncation, whether it
        was truncated). Batches hold pairs of similar length (the result does not depend on ``batch_size``).
        """
        if unknown:
            raise TypeError(
                f"predict() got unknown keyword(s) {sorted(unknown)}; valid keywords: {', '.join(PREDICT_KEYWORDS)}"
            )
        _check_batch_size(batch_size)
        items, single = as_pairs(pairs)
        act = self._activation if activation_fn is None else resolve_activation(activation_fn)
        tokenized = self.tokenize(items, prompt=prompt, prompt_name=prompt_name)
        _warn_truncation(tokenized.info)
        logits = self._logits(tokenized, batch_size, show_progress_bar)  # (N, C)
        scores = apply_activation(logits, act, apply_softmax)  # (N,) or (N, C)
        result: Scores
        if convert_to_tensor:
            import torch

            result = torch.from_numpy(scores)
        elif convert_to_numpy:
            result = scores
        else:
            result = list(scores)
        if single:
            result = result[0]
        return (result, tokenized.info) if return_info else result

    def _logits(self, tokenized: Tokenized, batch_size: int, show_progress_bar: bool | None) -> np.ndarray:
        """Logits (N, C) float32 in input order, from length-sorted batches."""
        n = len(tokenized.ids)
        out = np.zeros((n, self.num_labels), dtype=np.float32)
        plan = plan_batches(tokenized, batch_size)
        batches: Iterable = padded_batches(tokenized, plan, self.tokenizer.pad_id)
        show = len(plan) >= PROGRESS_MIN_BATCHES if show_progress_bar is None else show_progress_bar
        if show:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=len(plan), desc="Scoring pairs", unit="batch")
        for batch in batches:
            out[batch.rows] = self.backend.forward(batch)  # (B, C)
        return out

    def tokenize(
        self, pairs: Sequence[TextPair], *, prompt: str | None = None, prompt_name: str | None = None
    ) -> Tokenized:
        """Token ids, token type ids and the truncation report of pairs, as ``predict`` feeds them to the model
        (the prompt, or the model's default prompt, in front of each first text)."""
        items, _ = as_pairs(list(pairs))
        text = resolve_prompt(self.config.prompts, self.config.default_prompt_name, prompt, prompt_name)
        if text:
            items = [(text + a, b) for a, b in items]
        return self.tokenizer.tokenize_pairs(items)

    # --- rank -------------------------------------------------------------------------------------
    @overload
    def rank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_k: int | None = ...,
        return_documents: bool = ...,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        activation_fn: ActivationFn | None = ...,
        return_info: Literal[False] = ...,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
    ) -> list[RankedDocument]: ...
    @overload
    def rank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_k: int | None = ...,
        return_documents: bool = ...,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        activation_fn: ActivationFn | None = ...,
        return_info: Literal[True],
        prompt_name: str | None = ...,
        prompt: str | None = ...,
    ) -> tuple[list[RankedDocument], EncodeInfo]: ...
    def rank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_k: int | None = None,
        return_documents: bool = False,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: ActivationFn | None = None,
        return_info: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        **unknown: object,
    ) -> list[RankedDocument] | tuple[list[RankedDocument], EncodeInfo]:
        """Score every document against ``query`` and return them best first (ties keep input order), the
        ``top_k`` best when given (clamped to the number of documents).

        Each :class:`RankedDocument` has ``corpus_id`` (the document's index), ``score`` and, with
        ``return_documents=True``, ``text``; ``to_dict()`` gives sentence-transformers' dict. Only for one-label
        models (as the reference). ``return_info``: also the truncation report, per document.
        """
        if unknown:
            raise TypeError(
                f"rank() got unknown keyword(s) {sorted(unknown)}; valid keywords: {', '.join(RANK_KEYWORDS)}"
            )
        if self.num_labels != 1:
            raise ValueError(
                f"rank() needs a one-label model; {self.name!r} has {self.num_labels} labels: "
                "use predict() on (query, document) pairs"
            )
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        docs = as_text_list(documents, "documents")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool)):
            raise TypeError(f"top_k must be an int or None, got {type(top_k).__name__}")
        if top_k is not None and top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {top_k}")
        scores, info = self.predict(
            [(query, d) for d in docs],
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            activation_fn=activation_fn,
            return_info=True,
            prompt_name=prompt_name,
            prompt=prompt,
        )
        k = len(docs) if top_k is None else min(top_k, len(docs))
        order = np.argsort(-scores, kind="stable")[:k]  # best first; equal scores keep input order
        hits = [
            RankedDocument(corpus_id=int(i), score=float(scores[i]), text=docs[i] if return_documents else None)
            for i in order
        ]
        return (hits, info) if return_info else hits

    # --- persistence and facts ---------------------------------------------------------------------
    def save(
        self,
        path: str | Path,
        *,
        model_card: bool = True,
        replace_card: bool = False,
        training: TrainingSummary | None = None,
    ) -> None:
        """Write a reranker folder that :func:`sentvec.load_reranker` and sentence-transformers (4.x to 6.x) load:
        the model, its tokenizer, the 6.x files (``modules.json``, ``sentence_bert_config.json``,
        ``config_sentence_transformers.json`` with ``model_type: CrossEncoder``) and the activation in
        ``config.json`` too. A custom (unregistered) activation cannot be written: the folder then names none.
        A model card (``README.md``) is written as :meth:`SentenceEncoder.save` does: an existing card is kept
        unless ``replace_card``; ``training`` (what the trainer passes) adds what a run did."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self.backend.save(root)
        self.tokenizer.backend.save(str(root / TOKENIZER_FILE))
        source = self.source
        for name in TOKENIZER_SIDE_FILES:
            src = source / name
            if src.is_file() and src.resolve() != (root / name).resolve():
                shutil.copyfile(src, root / name)
        act = self._activation
        if not isinstance(act, Activation):
            logger.warning("the activation %s is not in sentvec's registry and is not saved", activation_name(act))
        write_reranker_files(
            root,
            activation_fn=act.torch_name if isinstance(act, Activation) else None,
            max_length=self.max_length,
            do_lower_case=self.tokenizer.do_lower_case,
            prompts=self.prompts,
            default_prompt_name=self.config.default_prompt_name,
        )
        card = root / CARD_FILE
        if model_card and (replace_card or training is not None or not card.is_file()):
            card.write_text(render_reranker_card(self._card_facts(), training), encoding="utf-8")

    def _card_facts(self) -> RerankerCardFacts:
        return RerankerCardFacts(
            name=self.name,
            base_model=self.name,
            architecture=self.config.architecture,
            num_labels=self.num_labels,
            labels=self.labels,
            max_length=self.max_length,
            activation=activation_name(self._activation),
        )

    def info(self) -> RerankerInfo:
        """What this reranker is: source, backend, architecture, labels, max length, activation."""
        return RerankerInfo(
            name=self.name,
            source=str(self.source),
            backend=self.backend.describe(),
            architecture=self.config.architecture,
            num_labels=self.num_labels,
            labels=self.labels,
            max_length=self.max_length,
            activation=activation_name(self._activation),
            layout=self.config.layout,
            segment_ids=self.tokenizer.segment_ids,
            vocab_size=self.tokenizer.vocab_size,
        )

    def __repr__(self) -> str:
        return (
            f"CrossEncoder(name={self.name!r}, backend={self.backend.name!r}, num_labels={self.num_labels}, "
            f"activation={activation_name(self._activation)!r})"
        )


def load_reranker(
    name_or_path: str | os.PathLike[str],
    *,
    device: str | None = None,
    backend: BackendKind | str = BackendKind.AUTO,
    max_length: int | None = None,
    quantized: bool = False,
    file_name: str | None = None,
    threads: int | None = None,
    activation_fn: ActivationFn | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    cache_folder: str | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> CrossEncoder:
    """Load a cross-encoder (reranker) folder as sentence-transformers writes it, or a model name (the same as
    ``CrossEncoder(name_or_path, ...)``).

    The folder holds a Hugging Face sequence-classification model (any encoder architecture: BERT, RoBERTa, XLM-R,
    DistilBERT, MPNet, ...) with the reference's cross-encoder config: the 6.x layout (``modules.json`` and
    ``config_sentence_transformers.json`` with ``model_type: "CrossEncoder"``) or the older one (``config.json``'s
    ``sentence_transformers`` key, or no key at all). The activation is the folder's (matched against a closed
    registry, never imported), else sigmoid for one label and identity otherwise; ``activation_fn`` overrides it.

    Backends: ``"torch"`` runs ``AutoModelForSequenceClassification``; ``"onnx"`` runs a graph from ``onnx/`` with
    onnxruntime, tokenizers and numpy alone (``model.onnx``; ``quantized=True``: ``model_qint8.onnx``, else the
    reference's int8 file for this CPU; ``file_name`` picks one by name). ``"auto"``: torch when torch and
    transformers are installed and neither ``quantized`` nor ``file_name`` is given; otherwise onnx.
    ``max_length``: truncate pairs there (default: the folder's ``max_seq_length``, else the tokenizer's
    ``model_max_length`` capped at the model's positions). ``threads``: the onnxruntime thread count.
    ``trust_remote_code`` lets transformers run a model's own code (it never makes sentvec import an activation);
    ``revision``, ``cache_folder``, ``local_files_only`` and ``token`` are for names fetched from the Hub.
    """
    return CrossEncoder(
        name_or_path,
        device=device,
        backend=backend,
        max_length=max_length,
        quantized=quantized,
        file_name=file_name,
        threads=threads,
        activation_fn=activation_fn,
        trust_remote_code=trust_remote_code,
        revision=revision,
        cache_folder=cache_folder,
        local_files_only=local_files_only,
        token=token,
    )


def as_pairs(pairs: object) -> tuple[list[tuple[str, str]], bool]:
    """Pairs as a checked list of ``(str, str)`` tuples, and whether the input was one pair (a tuple or list whose
    first item is not itself a tuple or list, as the reference decides). Bad items are a ``TypeError`` naming the
    index."""
    if isinstance(pairs, np.ndarray):
        pairs = pairs.tolist()
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(f"predict() takes a (query, document) pair or a sequence of pairs, got {type(pairs).__name__}")
    items = list(pairs)
    if isinstance(pairs, (tuple, list)) and items and not isinstance(items[0], (tuple, list)):
        return [_pair(items, "pair")], True
    return [_pair(item, f"pairs[{i}]") for i, item in enumerate(items)], False


def _pair(item: object, where: str) -> tuple[str, str]:
    if not isinstance(item, (tuple, list)):
        raise TypeError(f"{where} is {type(item).__name__}, expected a (query, document) pair")
    if len(item) != 2:
        raise TypeError(f"{where} has {len(item)} items, expected 2 (query, document)")
    for j, text in enumerate(item):
        if not isinstance(text, str):
            raise TypeError(f"{where}[{j}] is {type(text).__name__}, expected str")
    return item[0], item[1]


def _check_batch_size(batch_size: object) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def _warn_truncation(info: EncodeInfo) -> None:
    if info.n_truncated:
        first = info.truncated_indices[0]
        logger.warning(
            "%d of %d pairs exceed max_length=%d tokens and were truncated longest_first (first: index %d, %d tokens); "
            "pass return_info=True for the full report",
            info.n_truncated,
            len(info.truncated),
            info.max_seq_length,
            first,
            int(info.token_counts[first]),
        )


if TYPE_CHECKING:

    def _implements_reranker(model: CrossEncoder) -> Reranker:
        """mypy checks here that CrossEncoder satisfies the Reranker contract."""
        return model

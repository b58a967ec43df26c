"""SentenceEncoder: the user-facing object. ``encode`` is a chain of named steps shared by all backends."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Union, overload

import numpy as np

from sentvec.arrays import as_texts, to_numpy
from sentvec.backends.base import Backend, BackendInfo, OutputValue
from sentvec.batching import EncodeInfo, TextTokenizer, TokenBatch, Tokenized, padded_batches, plan_batches
from sentvec.enums import parse_enum
from sentvec.formats import ST_CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_SIDE_FILES, EncoderConfig, write_json
from sentvec.model_card import CARD_FILE, CardFacts, TrainingSummary, render_card
from sentvec.postprocess import postprocess
from sentvec.prompts import Role, resolve_prompt, role_prompt_name
from sentvec.quantization import Precision
from sentvec.similarity import Array, SimilarityFunction

logger = logging.getLogger(__name__)

PROGRESS_MIN_BATCHES = 16

if TYPE_CHECKING:
    import tokenizers
    import torch

    from sentvec.backends.torch import TorchBackend
    from sentvec.protocols import Embedder

# What ``encode`` returns beyond the default numpy matrix: a torch tensor (``convert_to_tensor``), per-text token
# embeddings (``output_value="token_embeddings"``) or a list of rows (``convert_to_numpy=False``).
Embeddings = Union[np.ndarray, "torch.Tensor", list[np.ndarray], list["torch.Tensor"]]


@dataclasses.dataclass(frozen=True)
class EncodeOptions:
    """The validated keywords of one ``encode`` call."""

    prompt: str | None = None
    batch_size: int = 32
    show_progress_bar: bool | None = None
    output_value: OutputValue = OutputValue.SENTENCE_EMBEDDING
    precision: Precision = Precision.FLOAT32
    convert_to_numpy: bool = True
    convert_to_tensor: bool = False
    device: str | None = None
    normalize_embeddings: bool = False
    truncate_dim: int | None = None
    return_info: bool = False
    quantization_ranges: np.ndarray | None = None
    max_batch_tokens: int | None = None


# ``prompt_name`` resolves to ``prompt`` before the options are built.
ENCODE_KEYWORDS = ("prompt_name", *(field.name for field in dataclasses.fields(EncodeOptions)))


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What an encoder is, as ``SentenceEncoder.info()`` and ``sentvec info`` report it."""

    name: str
    source: str | None
    backend: BackendInfo
    dimension: int
    max_seq_length: int
    similarity_fn: SimilarityFunction
    prompts: dict[str, str]
    vocab_size: int


class SentenceEncoder:
    """Turns texts into fixed-size vectors with a pretrained Transformer encoder (an :class:`Embedder`).

    Build one with :func:`sentvec.load`. ``encode`` takes the same keywords as sentence-transformers'
    ``SentenceTransformer.encode``, plus ``return_info`` (the truncation report). Training, export and vocabulary
    tools take :attr:`torch`, the torch pipeline, instead.
    """

    def __init__(
        self,
        tokenizer: TextTokenizer,
        backend: Backend,
        config: EncoderConfig | None = None,
        *,
        source: Path | None = None,
        name: str | None = None,
        truncate_dim: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.config = config or EncoderConfig()
        self._source = source
        self._name = name or (source.name if source else "sentvec-model")
        self.truncate_dim = truncate_dim

    # --- properties -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The name or path the model was loaded from."""
        return self._name

    @property
    def source(self) -> Path | None:
        """The model folder."""
        return self._source

    @property
    def dimension(self) -> int:
        """Size of the vectors ``encode`` returns (after the model's ``truncate_dim``)."""
        dim = self.backend.dimension
        return min(dim, self.truncate_dim) if self.truncate_dim else dim

    def get_sentence_embedding_dimension(self) -> int:
        """Alias of :attr:`dimension` (sentence-transformers' older name)."""
        return self.dimension

    def get_embedding_dimension(self) -> int:
        """Alias of :attr:`dimension` (sentence-transformers' name)."""
        return self.dimension

    def get_max_seq_length(self) -> int:
        """Alias of :attr:`max_seq_length` (sentence-transformers' name)."""
        return self.max_seq_length

    @property
    def similarity_fn_name(self) -> str:
        """The similarity function's name (``"cosine"``...); settable, as in sentence-transformers."""
        return self.config.similarity_fn.value

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: SimilarityFunction | str) -> None:
        self.config = dataclasses.replace(self.config, similarity_fn=SimilarityFunction.parse(value))

    @property
    def max_seq_length(self) -> int:
        """Inputs longer than this many tokens are truncated (and reported)."""
        return self.tokenizer.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.tokenizer.set_max_seq_length(value)
        self.backend.set_max_seq_length(value)

    @property
    def similarity_fn(self) -> SimilarityFunction:
        """The model's similarity function (``config_sentence_transformers.json``)."""
        return self.config.similarity_fn

    @property
    def prompts(self) -> dict[str, str]:
        """Named prompts of the model."""
        return dict(self.config.prompts)

    @property
    def device(self) -> str:
        """Where the forward pass runs."""
        return self.backend.device

    @property
    def torch(self) -> TorchBackend:
        """The torch pipeline (modules, transformer, features): what training, vocabulary extension, export and
        weight fingerprints work on. A model on another backend is a ``TypeError`` saying how to load it."""
        from sentvec.backends.torch import TorchBackend

        if not isinstance(self.backend, TorchBackend):
            raise TypeError(
                f"{self.name!r} runs on the {self.backend.name} backend; this needs the torch pipeline: "
                "load the model with sentvec.load(..., backend='torch')"
            )
        return self.backend

    # --- encode -----------------------------------------------------------------------------------
    @overload
    def encode(
        self,
        sentences: str | Iterable[str],
        *,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        output_value: Literal["sentence_embedding", OutputValue.SENTENCE_EMBEDDING] = ...,
        precision: Precision | str = ...,
        convert_to_numpy: Literal[True] = ...,
        convert_to_tensor: Literal[False] = ...,
        device: str | None = ...,
        normalize_embeddings: bool = ...,
        truncate_dim: int | None = ...,
        return_info: Literal[False] = ...,
        quantization_ranges: np.ndarray | None = ...,
        max_batch_tokens: int | None = ...,
    ) -> np.ndarray: ...
    @overload
    def encode(
        self,
        sentences: str | Iterable[str],
        *,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        output_value: Literal["sentence_embedding", OutputValue.SENTENCE_EMBEDDING] = ...,
        precision: Precision | str = ...,
        convert_to_numpy: Literal[True] = ...,
        convert_to_tensor: Literal[False] = ...,
        device: str | None = ...,
        normalize_embeddings: bool = ...,
        truncate_dim: int | None = ...,
        return_info: Literal[True],
        quantization_ranges: np.ndarray | None = ...,
        max_batch_tokens: int | None = ...,
    ) -> tuple[np.ndarray, EncodeInfo]: ...
    @overload
    def encode(
        self,
        sentences: str | Iterable[str],
        *,
        prompt_name: str | None = ...,
        prompt: str | None = ...,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        output_value: OutputValue | str = ...,
        precision: Precision | str = ...,
        convert_to_numpy: bool = ...,
        convert_to_tensor: bool = ...,
        device: str | None = ...,
        normalize_embeddings: bool = ...,
        truncate_dim: int | None = ...,
        return_info: bool = ...,
        quantization_ranges: np.ndarray | None = ...,
        max_batch_tokens: int | None = ...,
    ) -> Embeddings | tuple[Embeddings, EncodeInfo]: ...
    def encode(
        self,
        sentences: str | Iterable[str],
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: OutputValue | str = OutputValue.SENTENCE_EMBEDDING,
        precision: Precision | str = Precision.FLOAT32,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        return_info: bool = False,
        quantization_ranges: np.ndarray | None = None,
        max_batch_tokens: int | None = None,
        **unknown: object,
    ) -> Embeddings | tuple[Embeddings, EncodeInfo]:
        """Embed one text (→ 1-D vector) or many (→ 2-D array, input order).

        Empty strings are allowed: they embed as the special tokens alone. ``output_value``: "sentence_embedding"
        or "token_embeddings" (a list of (L_i, H) arrays); ``precision``: "float32" | "int8" | "uint8" | "binary"
        | "ubinary"; ``quantization_ranges``: int8/uint8 ranges, shape (2, D); ``max_batch_tokens`` also bounds
        each batch's padded token count (default: the backend's ``default_max_batch_tokens``); ``return_info``:
        also return the :class:`EncodeInfo` (per-input token counts, which inputs were truncated).
        """
        if unknown:  # Python's own message would not say which keywords exist
            raise TypeError(
                f"encode() got unknown keyword(s) {sorted(unknown)}; valid keywords: {', '.join(ENCODE_KEYWORDS)}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        opts = EncodeOptions(
            prompt=resolve_prompt(self.config.prompts, self.config.default_prompt_name, prompt, prompt_name),
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            output_value=parse_enum(OutputValue, output_value or OutputValue.SENTENCE_EMBEDDING, "output_value"),
            precision=Precision.parse(precision),
            convert_to_numpy=convert_to_numpy,
            convert_to_tensor=convert_to_tensor,
            device=device,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=self.truncate_dim if truncate_dim is None else truncate_dim,
            return_info=return_info,
            quantization_ranges=quantization_ranges,
            max_batch_tokens=max_batch_tokens,
        )
        return self._encode(sentences, opts)

    def encode_query(
        self,
        sentences: str | Iterable[str],
        *,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        precision: Precision | str = Precision.FLOAT32,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """``encode`` with the model's query prompt (``"query"``), else its default prompt."""
        return self.encode(
            sentences,
            prompt_name=role_prompt_name(self.config.prompts, Role.QUERY),
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            precision=precision,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim,
        )

    def encode_document(
        self,
        sentences: str | Iterable[str],
        *,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        precision: Precision | str = Precision.FLOAT32,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """``encode`` with the model's document prompt (``"document"``, ``"passage"`` or ``"corpus"``), else its
        default prompt."""
        return self.encode(
            sentences,
            prompt_name=role_prompt_name(self.config.prompts, Role.DOCUMENT),
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            precision=precision,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim,
        )

    def _encode(
        self, sentences: str | Iterable[str], opts: EncodeOptions
    ) -> Embeddings | tuple[Embeddings, EncodeInfo]:
        texts, single = as_texts(sentences)
        if opts.device is not None and opts.device != self.backend.device:
            self.backend.to(opts.device)
        tokenized = self.tokenize(texts, prompt=opts.prompt)
        _warn_truncation(tokenized.info)
        result: Embeddings
        if opts.output_value is OutputValue.TOKEN_EMBEDDINGS:
            result = self._token_embeddings(tokenized, opts)
        else:
            embeddings = self._sentence_embeddings(tokenized, opts)
            embeddings = postprocess(
                embeddings,
                truncate_dim=opts.truncate_dim,
                normalize_embeddings=opts.normalize_embeddings,
                precision=opts.precision,
                quantization_ranges=opts.quantization_ranges,
            )
            result = self._convert(embeddings, opts)
        if single:
            result = result[0]
        return (result, tokenized.info) if opts.return_info else result

    def encode_stream(
        self,
        sentences: Iterable[str],
        *,
        chunk_size: int = 4096,
        batch_size: int = 32,
        prompt_name: str | None = None,
        prompt: str | None = None,
        precision: Precision | str = Precision.FLOAT32,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        max_batch_tokens: int | None = None,
    ) -> Iterator[tuple[np.ndarray, EncodeInfo]]:
        """Encode an iterable lazily, ``chunk_size`` texts at a time: yields one ``((n, D) array, EncodeInfo)``
        pair per chunk, so memory stays bounded however many texts the iterable holds."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        chunk: list[str] = []
        offset = 0
        for text in sentences:
            if not isinstance(text, str):
                raise TypeError(f"input at index {offset + len(chunk)} is {type(text).__name__}, expected str")
            chunk.append(text)
            if len(chunk) == chunk_size:
                yield self._chunk(
                    chunk,
                    batch_size,
                    prompt_name,
                    prompt,
                    precision,
                    normalize_embeddings,
                    truncate_dim,
                    max_batch_tokens,
                )
                offset += len(chunk)
                chunk = []
        if chunk:
            yield self._chunk(
                chunk, batch_size, prompt_name, prompt, precision, normalize_embeddings, truncate_dim, max_batch_tokens
            )

    def _chunk(
        self,
        texts: list[str],
        batch_size: int,
        prompt_name: str | None,
        prompt: str | None,
        precision: Precision | str,
        normalize_embeddings: bool,
        truncate_dim: int | None,
        max_batch_tokens: int | None,
    ) -> tuple[np.ndarray, EncodeInfo]:
        return self.encode(
            texts,
            batch_size=batch_size,
            prompt_name=prompt_name,
            prompt=prompt,
            precision=precision,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim,
            max_batch_tokens=max_batch_tokens,
            show_progress_bar=False,
            return_info=True,
        )

    def _batches_iter(self, tokenized: Tokenized, opts: EncodeOptions) -> Iterable[TokenBatch]:
        budget = opts.max_batch_tokens if opts.max_batch_tokens is not None else self.backend.default_max_batch_tokens
        plan = plan_batches(tokenized, opts.batch_size, budget)
        batches: Iterable[TokenBatch] = padded_batches(tokenized, plan, self.tokenizer.pad_id)
        n_batches = len(plan)
        show = opts.show_progress_bar
        if show is None:
            show = n_batches >= PROGRESS_MIN_BATCHES
        if show:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=n_batches, desc="Encoding", unit="batch")
        return batches

    def _sentence_embeddings(self, tokenized: Tokenized, opts: EncodeOptions) -> Array:
        """All sentence embeddings (N, D) in input order, as a torch tensor or numpy array."""
        n = len(tokenized.ids)
        out: Array = None
        batches = self._batches_iter(tokenized, opts)
        results = self.backend.forward_batches(batches, OutputValue.SENTENCE_EMBEDDING, tokenized.prompt_length)
        for batch, emb in results:  # emb: (B, D)
            if out is None:
                out = _empty_like(emb, n)
            out[_index(batch.rows, emb)] = emb
        if out is None:  # no input
            out = np.zeros((0, self.backend.dimension), dtype=np.float32)
        return out

    def _token_embeddings(self, tokenized: Tokenized, opts: EncodeOptions) -> Embeddings:
        """Per text, its token embeddings (L_i, H) without padding, in input order."""
        result: list[Array] = [None] * len(tokenized.ids)
        for batch in self._batches_iter(tokenized, opts):
            tokens = self.backend.forward(batch, OutputValue.TOKEN_EMBEDDINGS)  # (B, T, H)
            for j, row in enumerate(batch.rows):
                length = int(tokenized.lengths[row])
                value = tokens[j, :length]
                result[int(row)] = value if opts.convert_to_tensor else to_numpy(value)
        return result

    def _convert(self, emb: Array, opts: EncodeOptions) -> Embeddings:
        if opts.convert_to_tensor:
            import torch

            return emb if isinstance(emb, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(emb))
        arr = to_numpy(emb)
        return arr if opts.convert_to_numpy else list(arr)

    # --- similarity -------------------------------------------------------------------------------
    def similarity(self, a: Array, b: Array) -> Array:
        """Similarity matrix (N, M) with the model's similarity function."""
        return self.similarity_fn.matrix(a, b)

    def similarity_pairwise(self, a: Array, b: Array) -> Array:
        """Row-wise similarity (N,) with the model's similarity function."""
        return self.similarity_fn.pairwise(a, b)

    # --- persistence and facts ---------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], *, prompt: str | None = None, prompt_name: str | None = None) -> Tokenized:
        """Token ids and the truncation report, as ``encode`` would see them: behind ``prompt`` (or the named
        prompt, else the model's default prompt), with the tokens the prompt occupies (its trailing special token
        excluded) in ``prompt_length``."""
        texts = as_texts(texts)[0]
        prompt = resolve_prompt(self.config.prompts, self.config.default_prompt_name, prompt, prompt_name)
        if not prompt:
            return self.tokenizer.tokenize(texts)
        prompt_length = self.tokenizer.count_tokens(prompt) - 1
        tokenized = self.tokenizer.tokenize([prompt + t for t in texts])
        return dataclasses.replace(tokenized, prompt_length=prompt_length)

    def save(
        self,
        path: str | Path,
        *,
        model_card: bool = True,
        replace_card: bool = False,
        training: TrainingSummary | None = None,
    ) -> None:
        """Write a model folder that :func:`sentvec.load` and sentence-transformers both load, with a model card
        (``README.md``; an existing card is kept unless ``replace_card``; ``training`` adds what a run did)."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self.backend.save(root)
        self.tokenizer.backend.save(str(root / TOKENIZER_FILE))
        if self.source is not None:
            for name in TOKENIZER_SIDE_FILES:
                src = self.source / name
                if src.is_file() and src.resolve() != (root / name).resolve():
                    shutil.copyfile(src, root / name)
        _write_wordpiece_vocab(self.tokenizer.backend, root)
        write_json(root / ST_CONFIG_FILE, self.config.to_json())
        card = root / CARD_FILE
        if model_card and (replace_card or training is not None or not card.is_file()):
            card.write_text(render_card(self._card_facts(), training), encoding="utf-8")

    def _card_facts(self) -> CardFacts:
        backend = self.backend.describe()
        return CardFacts(
            name=self.name,
            base_model=self.name if self.source is not None else None,
            modules=backend.modules or ("Transformer", "Pooling"),
            dimension=self.dimension,
            max_seq_length=self.max_seq_length,
            similarity_fn=self.similarity_fn.value,
            prompts=self.prompts,
        )

    def info(self) -> ModelInfo:
        """What this encoder is: source, backend, dimension, max length, similarity, prompts."""
        return ModelInfo(
            name=self.name,
            source=str(self.source) if self.source else None,
            backend=self.backend.describe(),
            dimension=self.dimension,
            max_seq_length=self.max_seq_length,
            similarity_fn=self.similarity_fn,
            prompts=self.prompts,
            vocab_size=self.tokenizer.vocab_size,
        )

    def __repr__(self) -> str:
        return f"SentenceEncoder(name={self.name!r}, backend={self.backend.name!r}, dimension={self.dimension})"


def _write_wordpiece_vocab(tokenizer: tokenizers.Tokenizer, root: Path) -> None:
    """Keep ``vocab.txt`` in step with ``tokenizer.json`` for WordPiece tokenizers (it may have been extended)."""
    import json

    spec = json.loads(tokenizer.to_str())
    if spec.get("model", {}).get("type") != "WordPiece":
        return
    vocab = spec["model"]["vocab"]
    ordered = sorted(vocab, key=vocab.__getitem__)
    (root / "vocab.txt").write_text("\n".join(ordered) + "\n", encoding="utf-8")


def _warn_truncation(info: EncodeInfo) -> None:
    if info.n_truncated:
        first = info.truncated_indices[0]
        logger.warning(
            "%d of %d inputs exceed max_seq_length=%d tokens and were truncated (first: index %d, %d tokens); "
            "pass return_info=True to encode() for the full report",
            info.n_truncated,
            len(info.truncated),
            info.max_seq_length,
            first,
            int(info.token_counts[first]),
        )


def _empty_like(emb: Array, n: int) -> Array:
    if isinstance(emb, np.ndarray):
        return np.empty((n, *emb.shape[1:]), dtype=emb.dtype)
    return emb.new_empty((n, *emb.shape[1:]))


def _index(rows: np.ndarray, emb: Array) -> Array:
    if isinstance(emb, np.ndarray):
        return rows
    import torch

    return torch.from_numpy(rows).to(emb.device)


if TYPE_CHECKING:

    def _implements_embedder(model: SentenceEncoder) -> Embedder:
        """mypy checks here that SentenceEncoder satisfies the Embedder contract."""
        return model

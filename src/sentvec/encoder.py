"""SentenceEncoder: the user-facing object. ``encode`` is a chain of named steps shared by all backends."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.backends.base import Backend, OutputValue
from sentvec.batching import EncodeInfo, TextTokenizer, Tokenized, pad_batch, padded_batches, plan_batches
from sentvec.formats import ST_CONFIG_FILE, EncoderConfig, write_json
from sentvec.quantization import Precision, quantize_embeddings
from sentvec.similarity import Array, SimilarityFunction, normalize

logger = logging.getLogger(__name__)

# Files that describe a tokenizer to libraries other than ``tokenizers`` (copied on save).
TOKENIZER_SIDE_FILES = (
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "merges.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "added_tokens.json",
)
PROGRESS_MIN_BATCHES = 16


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


class SentenceEncoder:
    """Turns texts into fixed-size vectors with a pretrained Transformer encoder.

    Build one with :func:`sentvec.load`. ``encode`` takes the same keywords as sentence-transformers'
    ``SentenceTransformer.encode``, plus ``return_info`` (the truncation report).
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
        self.source = source
        self.name = name or (source.name if source else "sentvec-model")
        self.truncate_dim = truncate_dim

    # --- properties -------------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        """Size of the vectors ``encode`` returns (after the model's ``truncate_dim``)."""
        dim = self.backend.dimension
        return min(dim, self.truncate_dim) if self.truncate_dim else dim

    def get_sentence_embedding_dimension(self) -> int:
        """Alias of :attr:`dimension` (sentence-transformers' name)."""
        return self.dimension

    @property
    def max_seq_length(self) -> int:
        """Inputs longer than this many tokens are truncated (and reported)."""
        return self.tokenizer.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.tokenizer.set_max_seq_length(value)
        transformer = getattr(self.backend, "transformer", None)
        if transformer is not None:
            transformer.config = dataclasses.replace(transformer.config, max_seq_length=value)

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

    # --- encode -----------------------------------------------------------------------------------
    def encode(self, sentences: str | Iterable[str], **kwargs: Any) -> Any:
        """Embed one text (→ 1-D vector) or many (→ 2-D array, input order).

        Empty strings are allowed: they embed as the special tokens alone. Keywords: ``batch_size``,
        ``show_progress_bar``, ``output_value`` ("sentence_embedding" | "token_embeddings"), ``precision``
        ("float32" | "int8" | "uint8" | "binary" | "ubinary"), ``convert_to_numpy``, ``convert_to_tensor``,
        ``normalize_embeddings``, ``prompt``, ``prompt_name``, ``truncate_dim``, ``device``,
        ``quantization_ranges`` (int8/uint8 ranges, shape (2, D)), ``max_batch_tokens`` (also bound each batch's
        padded token count, so long and short texts both run near the best batch shape) and ``return_info``:
        when true, returns ``(embeddings, EncodeInfo)`` with per-input token counts and which inputs were truncated.
        """
        opts = self._options(kwargs)
        texts, single = _as_texts(sentences)
        if opts.device is not None and opts.device != self.backend.device:
            self.backend.to(opts.device)
        tokenized, prompt_length = self._tokenize(texts, opts.prompt)
        _warn_truncation(tokenized.info)
        if opts.output_value is OutputValue.TOKEN_EMBEDDINGS:
            result: Any = self._token_embeddings(tokenized, opts)
        else:
            embeddings = self._sentence_embeddings(tokenized, opts, prompt_length)
            result = self._postprocess(embeddings, opts)
            result = self._convert(result, opts)
        if single:
            result = result[0]
        return (result, tokenized.info) if opts.return_info else result

    def encode_stream(self, sentences: Iterable[str], *, chunk_size: int = 4096, **kwargs: Any) -> Iterator[Any]:
        """Encode an iterable lazily, ``chunk_size`` texts at a time: yields one ``(n, D)`` array per chunk, so
        memory stays bounded however many texts the iterable holds. Keywords as for :meth:`encode`
        (``return_info`` yields ``(array, EncodeInfo)`` pairs)."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        kwargs.setdefault("show_progress_bar", False)
        chunk: list[str] = []
        offset = 0
        for text in sentences:
            if not isinstance(text, str):
                raise TypeError(f"input at index {offset + len(chunk)} is {type(text).__name__}, expected str")
            chunk.append(text)
            if len(chunk) == chunk_size:
                yield self.encode(chunk, **kwargs)
                offset += len(chunk)
                chunk = []
        if chunk:
            yield self.encode(chunk, **kwargs)

    def _options(self, kwargs: dict[str, Any]) -> EncodeOptions:
        unknown = sorted(set(kwargs) - set(ENCODE_KEYWORDS))
        if unknown:
            raise TypeError(f"encode() got unknown keyword(s) {unknown}; valid keywords: {', '.join(ENCODE_KEYWORDS)}")
        kw = dict(kwargs)
        prompt = self._resolve_prompt(kw.pop("prompt", None), kw.pop("prompt_name", None))
        if "output_value" in kw:
            kw["output_value"] = OutputValue(kw["output_value"] or "sentence_embedding")
        if "precision" in kw:
            kw["precision"] = Precision.parse(kw["precision"])
        if kw.get("truncate_dim") is None:
            kw["truncate_dim"] = self.truncate_dim
        opts = EncodeOptions(prompt=prompt, **kw)
        if not isinstance(opts.batch_size, int) or opts.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {opts.batch_size!r}")
        return opts

    def _resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        if prompt is not None:
            return prompt
        name = prompt_name or self.config.default_prompt_name
        if name is None:
            return None
        if name not in self.config.prompts:
            raise ValueError(f"prompt_name {name!r} is not one of the model's prompts: {sorted(self.config.prompts)}")
        return self.config.prompts[name]

    def _tokenize(self, texts: list[str], prompt: str | None) -> tuple[Tokenized, int | None]:
        """The texts tokenized behind ``prompt``, and the tokens the prompt occupies at the start of each input
        (its trailing special token excluded; None without a prompt)."""
        if not prompt:
            return self.tokenizer.tokenize(texts), None
        prompt_length = self.tokenizer.count_tokens(prompt) - 1
        return self.tokenizer.tokenize([prompt + t for t in texts]), prompt_length

    def _batches_iter(self, tokenized: Tokenized, opts: EncodeOptions) -> Iterable[Any]:
        plan = plan_batches(tokenized, opts.batch_size, opts.max_batch_tokens)
        batches: Iterable[Any] = padded_batches(tokenized, plan, self.tokenizer.pad_id)
        n_batches = len(plan)
        show = opts.show_progress_bar
        if show is None:
            show = n_batches >= PROGRESS_MIN_BATCHES
        if show:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=n_batches, desc="Encoding", unit="batch")
        return batches

    def _sentence_embeddings(self, tokenized: Tokenized, opts: EncodeOptions, prompt_length: int | None) -> Any:
        """All sentence embeddings (N, D) in input order, as a torch tensor or numpy array."""
        n = len(tokenized.ids)
        out: Any = None
        for batch in self._batches_iter(tokenized, opts):
            emb = self.backend.forward(batch, OutputValue.SENTENCE_EMBEDDING, prompt_length)  # (B, D)
            if out is None:
                out = _empty_like(emb, n)
            out[_index(batch.rows, emb)] = emb
        if out is None:  # no input
            out = np.zeros((0, self.backend.dimension), dtype=np.float32)
        return out

    def _token_embeddings(self, tokenized: Tokenized, opts: EncodeOptions) -> list[Any]:
        """Per text, its token embeddings (L_i, H) without padding, in input order."""
        result: list[Any] = [None] * len(tokenized.ids)
        for batch in self._batches_iter(tokenized, opts):
            tokens = self.backend.forward(batch, OutputValue.TOKEN_EMBEDDINGS)  # (B, T, H)
            for j, row in enumerate(batch.rows):
                length = int(tokenized.lengths[row])
                value = tokens[j, :length]
                result[int(row)] = value if opts.convert_to_tensor else _numpy(value)
        return result

    def _postprocess(self, emb: Any, opts: EncodeOptions) -> Any:
        """truncate_dim → normalize → precision (the reference library's order)."""
        if opts.truncate_dim:
            emb = emb[:, : opts.truncate_dim]
        if opts.normalize_embeddings:
            emb = normalize(emb)
        if opts.precision is not Precision.FLOAT32:
            arr = _numpy(emb)
            ranges = opts.quantization_ranges
            if ranges is None and opts.precision in (Precision.INT8, Precision.UINT8):
                ranges = self._unit_ranges(arr, opts)
            emb = quantize_embeddings(arr, opts.precision, ranges=ranges)
        return emb

    def _unit_ranges(self, arr: np.ndarray, opts: EncodeOptions) -> np.ndarray:
        """Fixed [-1, 1] ranges for unit vectors; other vectors need calibrated ranges."""
        unit = (
            opts.normalize_embeddings or len(arr) == 0 or bool(np.allclose(np.linalg.norm(arr, axis=1), 1, atol=1e-3))
        )
        if not unit:
            raise ValueError(
                f"precision={opts.precision.value!r} on unnormalized embeddings needs quantization_ranges= "
                "(shape (2, D), e.g. sentvec.quantization.calibration_ranges(calibration_embeddings))"
            )
        return np.stack([-np.ones(arr.shape[1], np.float32), np.ones(arr.shape[1], np.float32)])

    def _convert(self, emb: Any, opts: EncodeOptions) -> Any:
        if opts.convert_to_tensor:
            import torch

            return emb if isinstance(emb, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(emb))
        arr = _numpy(emb)
        return arr if opts.convert_to_numpy else list(arr)

    # --- training hooks -------------------------------------------------------------------------------
    @property
    def module(self) -> Any:
        """The trainable ``torch.nn.Module`` (the torch backend's pipeline)."""
        pipeline = getattr(self.backend, "pipeline", None)
        if pipeline is None:
            raise TypeError(f"the {self.backend.name} backend cannot be trained; load the model with backend='torch'")
        return pipeline

    def embed(self, texts: Sequence[str], prompt: str | None = None) -> Any:
        """The training forward pass: sentence embeddings (B, D) as a torch tensor that carries gradients.

        Inputs are truncated at ``max_seq_length`` as in :meth:`encode`; rows keep the input order.
        """
        module = self.module
        texts, _ = _as_texts(texts)
        tokenized, prompt_length = self._tokenize(texts, prompt)
        batch = pad_batch(tokenized.ids, np.arange(len(texts)), self.tokenizer.pad_id)
        features = self.backend.features(batch, prompt_length)  # type: ignore[attr-defined]
        return module(features)["sentence_embedding"]

    # --- similarity -------------------------------------------------------------------------------
    def similarity(self, a: Array, b: Array) -> Array:
        """Similarity matrix (N, M) with the model's similarity function."""
        return self.similarity_fn.matrix(a, b)

    def similarity_pairwise(self, a: Array, b: Array) -> Array:
        """Row-wise similarity (N,) with the model's similarity function."""
        return self.similarity_fn.pairwise(a, b)

    # --- persistence and facts ---------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> Tokenized:
        """Token ids and the truncation report, as ``encode`` would see them."""
        return self.tokenizer.tokenize(list(_as_texts(texts)[0]))

    def save(self, path: str | Path) -> None:
        """Write a model folder that :func:`sentvec.load` and sentence-transformers both load."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self.backend.save(root)
        self.tokenizer.backend.save(str(root / "tokenizer.json"))
        if self.source is not None:
            for name in TOKENIZER_SIDE_FILES:
                src = self.source / name
                if src.is_file() and src.resolve() != (root / name).resolve():
                    shutil.copyfile(src, root / name)
        _write_wordpiece_vocab(self.tokenizer.backend, root)
        write_json(root / ST_CONFIG_FILE, self.config.to_json())

    def info(self) -> dict[str, Any]:
        """What this encoder is: source, backend, dimension, max length, similarity, prompts."""
        return {
            "name": self.name,
            "source": str(self.source) if self.source else None,
            **self.backend.describe(),
            "dimension": self.dimension,
            "max_seq_length": self.max_seq_length,
            "similarity_fn": self.similarity_fn.value,
            "prompts": self.prompts,
            "vocab_size": self.tokenizer.vocab_size,
        }

    def __repr__(self) -> str:
        return f"SentenceEncoder(name={self.name!r}, backend={self.backend.name!r}, dimension={self.dimension})"


def _write_wordpiece_vocab(tokenizer: Any, root: Path) -> None:
    """Keep ``vocab.txt`` in step with ``tokenizer.json`` for WordPiece tokenizers (it may have been extended)."""
    import json

    spec = json.loads(tokenizer.to_str())
    if spec.get("model", {}).get("type") != "WordPiece":
        return
    vocab = spec["model"]["vocab"]
    ordered = sorted(vocab, key=vocab.__getitem__)
    (root / "vocab.txt").write_text("\n".join(ordered) + "\n", encoding="utf-8")


def _as_texts(sentences: str | Iterable[str]) -> tuple[list[str], bool]:
    """A list of texts and whether the input was a single string; non-strings are named by index."""
    if isinstance(sentences, str):
        return [sentences], True
    if not isinstance(sentences, Iterable):
        raise TypeError(f"encode() takes a str or an iterable of str, got {type(sentences).__name__}")
    texts = list(sentences)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"input at index {i} is {type(text).__name__}, expected str")
    return texts, False


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


def _empty_like(emb: Any, n: int) -> Any:
    if isinstance(emb, np.ndarray):
        return np.empty((n, *emb.shape[1:]), dtype=emb.dtype)
    return emb.new_empty((n, *emb.shape[1:]))


def _index(rows: np.ndarray, emb: Any) -> Any:
    if isinstance(emb, np.ndarray):
        return rows
    import torch

    return torch.from_numpy(rows).to(emb.device)


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    return x.detach().to("cpu").float().numpy()

"""Tokenization with a truncation report, and length-sorted batches.

Tokenization uses the Rust ``tokenizers`` library directly from ``tokenizer.json`` so it needs neither
torch nor transformers. Truncation is never silent: every call reports per-input token counts and which
inputs were cut at ``max_seq_length``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec.errors import ModelFormatError
from sentvec.formats import TOKENIZER_FILE

if TYPE_CHECKING:
    import tokenizers


@dataclasses.dataclass(frozen=True)
class EncodeInfo:
    """What tokenization did to each input of one ``encode`` call (original input order).

    ``token_counts`` are the lengths the texts would have had without truncation (special tokens
    included); ``truncated`` marks the inputs cut at ``max_seq_length``.
    """

    token_counts: np.ndarray  # (N,) int64
    truncated: np.ndarray  # (N,) bool
    max_seq_length: int

    @property
    def n_truncated(self) -> int:
        """How many inputs were truncated."""
        return int(self.truncated.sum())

    @property
    def truncated_indices(self) -> list[int]:
        """Indices (in input order) of the truncated inputs."""
        return [int(i) for i in np.flatnonzero(self.truncated)]

    @property
    def fed_counts(self) -> np.ndarray:
        """``(N,)`` tokens fed to the model per input (after truncation)."""
        return np.minimum(self.token_counts, self.max_seq_length)

    @property
    def total_tokens(self) -> int:
        """Tokens actually fed to the model (after truncation)."""
        return int(self.fed_counts.sum())


@dataclasses.dataclass(frozen=True)
class Tokenized:
    """Token ids of N texts, unpadded, with their truncation report."""

    ids: list[np.ndarray]  # N arrays of shape (L_i,) int64
    lengths: np.ndarray  # (N,) int64, after truncation
    info: EncodeInfo
    prompt_length: int | None = None  # tokens of the prompt at the start of each input (no prompt: None)
    # Per input, its token type (segment) ids, (L_i,) int64: 0 for a pair's first text, 1 for its second. None: all
    # zeros (single texts, and models that read no segment ids).
    type_ids: list[np.ndarray] | None = None


@dataclasses.dataclass(frozen=True)
class TokenBatch:
    """One padded batch, right-padded, plus the positions of its rows in the input."""

    input_ids: np.ndarray  # (B, T) int64
    attention_mask: np.ndarray  # (B, T) int64
    token_type_ids: np.ndarray  # (B, T) int64
    rows: np.ndarray  # (B,) indices into the input


class TextTokenizer:
    """A ``tokenizers.Tokenizer`` configured for sentence encoding (truncation on, padding done here)."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, max_seq_length: int, do_lower_case: bool = False) -> None:
        self.pad_id = _pad_id(tokenizer)
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_seq_length)
        self._tok = tokenizer
        self.max_seq_length = max_seq_length
        self.do_lower_case = do_lower_case
        self._n_special = tokenizer.num_special_tokens_to_add(False)

    @classmethod
    def from_folder(cls, folder: Path, max_seq_length: int, do_lower_case: bool = False) -> TextTokenizer:
        """Load ``tokenizer.json`` from ``folder`` (or convert a slow tokenizer with transformers)."""
        import tokenizers

        path = folder / TOKENIZER_FILE
        if path.is_file():
            try:
                tok = tokenizers.Tokenizer.from_file(str(path))
            except Exception as e:  # the Rust error is opaque; name the file
                raise ModelFormatError(path, f"cannot parse tokenizer: {e}") from e
        else:
            tok = _convert_slow_tokenizer(folder)
        return cls(tok, max_seq_length, do_lower_case)

    @property
    def backend(self) -> tokenizers.Tokenizer:
        """The underlying ``tokenizers.Tokenizer``."""
        return self._tok

    @property
    def vocab_size(self) -> int:
        """Number of tokens in the vocabulary (added tokens included)."""
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def set_max_seq_length(self, max_seq_length: int) -> None:
        """Change where inputs are truncated."""
        self._tok.enable_truncation(max_length=max_seq_length)
        self.max_seq_length = max_seq_length

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with special tokens, without truncation."""
        return int(self.tokenize([text]).info.token_counts[0])

    def tokenize(self, texts: Sequence[str]) -> Tokenized:
        """Tokenize with truncation at ``max_seq_length``, recording the untruncated lengths."""
        check_unicode(texts)
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=True)
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        full = lengths.copy()
        for i, e in enumerate(encodings):
            if e.overflowing:  # the rest of the text, each piece with its own special tokens
                full[i] += sum(len(o.ids) - self._n_special for o in e.overflowing)
        info = EncodeInfo(token_counts=full, truncated=full > lengths, max_seq_length=self.max_seq_length)
        return Tokenized(ids=ids, lengths=lengths, info=info)


class PairTokenizer:
    """A ``tokenizers.Tokenizer`` configured for text pairs, as a cross-encoder reads them: ``(query, document)``
    joined by the tokenizer's pair template, truncated ``longest_first`` (the longer text loses tokens first, as the
    reference truncates) at ``max_length`` tokens, specials included. Truncation is reported per pair.

    ``segment_ids``: keep the template's token type ids (0 for the first text, 1 for the second); when False the
    model gets zeros (RoBERTa-like models have a single token type).
    """

    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        max_length: int,
        do_lower_case: bool = False,
        segment_ids: bool = True,
    ) -> None:
        import tokenizers

        self.pad_id = _pad_id(tokenizer)
        tokenizer.no_padding()
        self._tok = tokenizer
        self._full = tokenizers.Tokenizer.from_str(tokenizer.to_str())  # the same tokenizer, never truncating
        self._full.no_truncation()
        self._full.no_padding()
        self._n_special = tokenizer.num_special_tokens_to_add(True)
        self.do_lower_case = do_lower_case
        self.segment_ids = segment_ids
        self.max_length = 0
        self.set_max_length(max_length)

    @classmethod
    def from_folder(
        cls, folder: Path, max_length: int, do_lower_case: bool = False, segment_ids: bool = True
    ) -> PairTokenizer:
        """Load ``tokenizer.json`` from ``folder`` (or convert a slow tokenizer with transformers)."""
        import tokenizers

        path = folder / TOKENIZER_FILE
        if path.is_file():
            try:
                tok = tokenizers.Tokenizer.from_file(str(path))
            except Exception as e:  # the Rust error is opaque; name the file
                raise ModelFormatError(path, f"cannot parse tokenizer: {e}") from e
        else:
            tok = _convert_slow_tokenizer(folder)
        return cls(tok, max_length, do_lower_case, segment_ids)

    @property
    def backend(self) -> tokenizers.Tokenizer:
        """The underlying ``tokenizers.Tokenizer`` (truncating at ``max_length``)."""
        return self._tok

    @property
    def vocab_size(self) -> int:
        """Number of tokens in the vocabulary (added tokens included)."""
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def set_max_length(self, max_length: int) -> None:
        """Change where pairs are truncated (it must leave room for the special tokens and one token of each text)."""
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < self._n_special + 2:
            raise ValueError(
                f"max_length must be an integer >= {self._n_special + 2} (the pair template adds {self._n_special} "
                f"special tokens), got {max_length!r}"
            )
        self._tok.enable_truncation(max_length=max_length, strategy="longest_first")
        self.max_length = max_length

    def tokenize_pairs(self, pairs: Sequence[tuple[str, str]]) -> Tokenized:
        """Tokenize pairs; the pairs longer than ``max_length`` are truncated ``longest_first`` and reported, with
        the lengths they would have had (special tokens included) in ``info.token_counts``."""
        items = [(a.lower(), b.lower()) for a, b in pairs] if self.do_lower_case else [(a, b) for a, b in pairs]
        encodings = self._full.encode_batch(items, add_special_tokens=True)
        full = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        over = np.flatnonzero(full > self.max_length)
        if len(over):  # only the long pairs are encoded again, truncated
            cut = self._tok.encode_batch([items[i] for i in over], add_special_tokens=True)
            for i, encoding in zip(over, cut, strict=True):
                encodings[i] = encoding
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        type_ids = [np.asarray(e.type_ids, dtype=np.int64) for e in encodings] if self.segment_ids else None
        info = EncodeInfo(token_counts=full, truncated=full > lengths, max_seq_length=self.max_length)
        return Tokenized(ids=ids, lengths=lengths, info=info, type_ids=type_ids)


def check_unicode(texts: Sequence[str], what: str = "input") -> None:
    """Texts the tokenizer can take: a lone surrogate (``"\\ud800"``, from a bad decode) is a ``ValueError`` that
    names the input's index, not a ``TypeError`` from inside the tokenizer."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        for i, text in enumerate(texts):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(f"{what} at index {i} is not valid Unicode ({e.reason} at character {e.start})") from e


def plan_batches(tokenized: Tokenized, batch_size: int, max_tokens: int | None = None) -> list[np.ndarray]:
    """Row indices of each batch: texts of similar length together, longest first (so memory errors show early).

    A batch holds at most ``batch_size`` texts and, with ``max_tokens``, at most that many padded tokens
    (rows x longest row), so long texts run in small batches and short texts in large ones.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(-tokenized.lengths, kind="stable")
    if max_tokens is None:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    plan, start = [], 0
    while start < len(order):
        width = max(int(tokenized.lengths[order[start]]), 1)  # the first row of a batch is its widest
        size = min(batch_size, max(1, max_tokens // width))
        plan.append(order[start : start + size])
        start += size
    return plan


def padded_batches(tokenized: Tokenized, plan: Sequence[np.ndarray], pad_id: int = 0) -> Iterator[TokenBatch]:
    """Pad the batches of a plan, one at a time (with the inputs' token type ids when they have them)."""
    type_ids = tokenized.type_ids
    for rows in plan:
        yield pad_batch(
            [tokenized.ids[i] for i in rows], rows, pad_id, None if type_ids is None else [type_ids[i] for i in rows]
        )


def length_sorted_batches(
    tokenized: Tokenized, batch_size: int, pad_id: int = 0, max_tokens: int | None = None
) -> Iterator[TokenBatch]:
    """:func:`plan_batches`, padded."""
    return padded_batches(tokenized, plan_batches(tokenized, batch_size, max_tokens), pad_id)


def pad_batch(
    seqs: Sequence[np.ndarray], rows: np.ndarray, pad_id: int = 0, type_ids: Sequence[np.ndarray] | None = None
) -> TokenBatch:
    """Right-pad token id sequences into a ``(B, T)`` batch; ``type_ids`` (one per sequence, same lengths) are
    padded with 0, and are all zeros when not given."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    width = int(lengths.max()) if len(seqs) else 0
    mask = np.arange(width)[None, :] < lengths[:, None]  # (B, T)
    input_ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    if len(seqs):
        input_ids[mask] = np.concatenate(seqs)
    token_type_ids = np.zeros_like(input_ids)
    if type_ids is not None and len(seqs):
        token_type_ids[mask] = np.concatenate(type_ids)
    return TokenBatch(
        input_ids=input_ids,
        attention_mask=mask.astype(np.int64),
        token_type_ids=token_type_ids,
        rows=np.asarray(rows, dtype=np.int64),
    )


def _pad_id(tokenizer: tokenizers.Tokenizer) -> int:
    padding = tokenizer.padding or {}
    if "pad_id" in padding:
        return int(padding["pad_id"])
    for token in ("[PAD]", "<pad>", "<|padding|>"):
        tid = tokenizer.token_to_id(token)
        if tid is not None:
            return int(tid)
    return 0


def _convert_slow_tokenizer(folder: Path) -> tokenizers.Tokenizer:
    """Build a fast tokenizer from a folder that has only slow-tokenizer files (vocab.txt...)."""
    from sentvec._extras import require

    transformers = require("transformers", "Loading a model folder without tokenizer.json")
    try:
        hf_tok = transformers.AutoTokenizer.from_pretrained(str(folder), use_fast=True)
    except Exception as e:
        raise ModelFormatError(
            folder / TOKENIZER_FILE, f"missing, and no other tokenizer files could be loaded ({e})"
        ) from e
    if not getattr(hf_tok, "is_fast", False):
        raise ModelFormatError(folder / TOKENIZER_FILE, "missing, and the tokenizer has no fast version")
    return hf_tok.backend_tokenizer

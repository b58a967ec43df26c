"""Vocabulary extension: teach a model's tokenizer characters it maps to [UNK] (e.g. Chinese for an English
model), resize its embedding matrix, and initialise the new rows.

Works on WordPiece tokenizers (BERT family), whose normalizer splits CJK ideographs into single-character
words: a new single-character vocabulary entry then replaces [UNK] for that character.
"""

from __future__ import annotations

import collections
import json
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sentvec.batching import TextTokenizer

if TYPE_CHECKING:
    import tokenizers
    import torch

    from sentvec.encoder import SentenceEncoder


class _EmbeddingOwner(Protocol):
    """What vocabulary extension needs of the Hugging Face model inside the Transformer module."""

    def get_input_embeddings(self) -> torch.nn.Embedding: ...

    def resize_token_embeddings(self, new_num_tokens: int, *, mean_resizing: bool) -> object: ...


def is_cjk(char: str) -> bool:
    """Whether ``char`` is a CJK unified ideograph (the characters BERT's normalizer isolates)."""
    cp = ord(char)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def unknown_characters(model: SentenceEncoder, texts: Iterable[str], *, cjk_only: bool = True) -> list[str]:
    """Characters of ``texts`` that the model's tokenizer maps to its unknown token, most frequent first."""
    tok = model.tokenizer.backend
    unk = _unk_id(tok)
    counts = collections.Counter(ch for text in texts for ch in text if not ch.isspace())
    unknown = []
    for ch, _ in counts.most_common():
        if cjk_only and not is_cjk(ch):
            continue
        if unicodedata.category(ch).startswith("C"):
            continue
        if tok.encode(ch, add_special_tokens=False).ids == [unk]:
            unknown.append(ch)
    return unknown


def extend_vocabulary(model: SentenceEncoder, new_tokens: Sequence[str], *, init: str | np.ndarray = "mean") -> int:
    """Add ``new_tokens`` to a WordPiece vocabulary and grow the input embeddings to match.

    ``init``: ``"mean"`` (every new row is the mean of the existing rows, the usual neutral start) or an array of
    shape (len(new_tokens), hidden) with the rows to use. Returns the new vocabulary size. The model (tokenizer
    and weights) changes in place; ``model.save`` writes the extended ``tokenizer.json`` and ``vocab.txt``.
    Needs the torch pipeline (``model.torch``): a model on another backend is a ``TypeError``.
    """
    import torch

    hf_model = _hf_model(model)  # before any change: an ONNX-backed model is refused as it is

    spec = json.loads(model.tokenizer.backend.to_str())
    if spec.get("model", {}).get("type") != "WordPiece":
        raise ValueError("extend_vocabulary supports WordPiece tokenizers (BERT family) only")
    vocab: dict[str, int] = spec["model"]["vocab"]
    fresh = [t for t in dict.fromkeys(new_tokens) if t not in vocab]
    base = max(max(vocab.values()) + 1, model.tokenizer.vocab_size)
    for i, token in enumerate(fresh):
        vocab[token] = base + i
    import tokenizers

    old = model.tokenizer
    model.tokenizer = TextTokenizer(
        tokenizers.Tokenizer.from_str(json.dumps(spec)), old.max_seq_length, old.do_lower_case
    )
    old_rows = hf_model.get_input_embeddings().weight.shape[0]
    new_size = base + len(fresh)
    hf_model.resize_token_embeddings(new_size, mean_resizing=False)
    weight = hf_model.get_input_embeddings().weight
    with torch.no_grad():
        if isinstance(init, str):
            if init != "mean":
                raise ValueError(f"unknown init {init!r}; use 'mean' or an array of rows")
            weight[old_rows:] = weight[:old_rows].mean(dim=0, keepdim=True)
        else:
            rows = torch.as_tensor(np.asarray(init), dtype=weight.dtype)
            if rows.shape != (len(fresh), weight.shape[1]):
                raise ValueError(f"init must have shape ({len(fresh)}, {weight.shape[1]}), got {tuple(rows.shape)}")
            weight[base : base + len(fresh)] = rows
    return int(new_size)


def _hf_model(model: SentenceEncoder) -> _EmbeddingOwner:
    """The Hugging Face model inside the torch pipeline's Transformer (it owns the input embeddings)."""
    return model.torch.transformer.auto_model


def _unk_id(tok: tokenizers.Tokenizer) -> int:
    spec = json.loads(tok.to_str())
    unk = spec.get("model", {}).get("unk_token", "[UNK]")
    tid = tok.token_to_id(unk)
    if tid is None:
        raise ValueError(f"the tokenizer has no unknown token {unk!r}")
    return int(tid)


def aligned_init(
    model: SentenceEncoder,
    new_tokens: Sequence[str],
    sources: Sequence[str],
    targets: Sequence[str],
    *,
    top: int = 3,
) -> np.ndarray:
    """Rows for :func:`extend_vocabulary` taken from the model's view of the tokens' translations.

    ``sources[i]`` (a language the model knows) and ``targets[i]`` (the new tokens' language) are translations of
    each other. For each new token, the source-side wordpieces that co-occur with it most distinctively (share of
    the token's sentences × inverse document frequency) are its likely translations; its row is their weighted
    mean input embedding. Tokens never seen in ``targets`` get the mean row.
    """
    if len(sources) != len(targets):
        raise ValueError(f"sources and targets differ in length: {len(sources)} vs {len(targets)}")
    tok = model.tokenizer.backend
    special = set(_special_ids(tok))
    wanted = set(new_tokens)
    n_sentences = len(sources)
    doc_freq: collections.Counter[int] = collections.Counter()
    token_freq: collections.Counter[str] = collections.Counter()
    pair_freq: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for source, target in zip(sources, targets, strict=True):
        pieces = set(tok.encode(source, add_special_tokens=False).ids) - special
        doc_freq.update(pieces)
        for ch in set(target) & wanted:
            token_freq[ch] += 1
            pair_freq[ch].update(pieces)
    weight = _hf_model(model).get_input_embeddings().weight.detach().cpu().numpy()
    mean = weight.mean(axis=0)
    rows = np.tile(mean, (len(new_tokens), 1))
    for i, token in enumerate(new_tokens):
        if token_freq[token] == 0:
            continue
        scores = {
            piece: (count / token_freq[token]) * np.log(n_sentences / doc_freq[piece])
            for piece, count in pair_freq[token].items()
        }
        best = sorted(scores, key=scores.__getitem__, reverse=True)[:top]
        w = np.array([scores[p] for p in best], dtype=np.float64)
        if w.sum() <= 0:
            continue
        rows[i] = (w[:, None] * weight[best]).sum(axis=0) / w.sum()
    return rows.astype(np.float32)


def _special_ids(tok: tokenizers.Tokenizer) -> list[int]:
    spec = json.loads(tok.to_str())
    return [int(t["id"]) for t in spec.get("added_tokens", []) if t.get("special")]

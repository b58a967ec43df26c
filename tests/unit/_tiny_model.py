"""Constants and helpers shared by the unit tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HIDDEN = 32
MAX_SEQ_LENGTH = 16
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS_TEXT = """
the a an and or but of to in on at for with from by is are was were be been it this that these those
i you he she we they cat cats dog dogs bird fish house car tree river city book music movie food
water sun moon day night red blue green big small fast slow happy sad good bad new old runs run
jumps eats sleeps sings reads walks sees likes loves hates quick brown lazy over under query passage
hello world
"""
WORDS = _WORDS_TEXT.split()
PIECES = ["##s", "##ing", "##ed", "##er", "##ly"]
PUNCT = [":", ".", ",", "!", "?"]
VOCAB = SPECIAL_TOKENS + WORDS + PIECES + PUNCT
PROMPTS = {"query": "query: "}

# Texts of varied length (all in the vocabulary, so one word = one token).
SENTENCES = [
    "the cat sleeps",
    "a quick brown dog jumps over the lazy cat",
    "hello world",
    "",
    "she reads a good book in the house by the river",
    "birds sing",
    "they walked to the city at night and saw the big red moon",
]
ST_TYPE = "sentence_transformers.models.{}"
# Classic pooling config keys, in sentence-transformers' concatenation order.
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def build_tokenizer(path: Path, lowercase: bool = True) -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate(VOCAB)}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    tok.add_special_tokens(SPECIAL_TOKENS)
    tok.save(str(path))


def token_embeddings(encoder: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """Unpadded token embeddings per text, as float64 numpy."""
    out = encoder.encode(list(texts), output_value="token_embeddings", batch_size=1)
    return [np.asarray(t, dtype=np.float64) for t in out]

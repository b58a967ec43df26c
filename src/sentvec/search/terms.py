"""How texts become lexical (BM25) terms: one tokenizer for the in-memory BM25 and the index's FTS5 table.

SQLite's FTS5 cannot take a tokenizer written in Python through the standard ``sqlite3`` module, so texts are
tokenized here, into terms joined by spaces, and FTS5 indexes that shadow text with its ``ascii`` tokenizer, which
splits it back into exactly these terms (a term never holds an ASCII character other than a letter or a digit, and
every other character is part of a term for it). Queries are tokenized by the same function, so documents and
queries always agree, stemming included.

The steps, for every tokenizer:

1. Unicode normalisation: case folded, NFKC (full-width letters and digits as ASCII, ligatures split), and the
   generic combining diacritics removed (``café`` → ``cafe``, as FTS5's ``remove_diacritics 2``); script-specific
   marks (Devanagari vowel signs, Arabic harakat, ...) stay part of their word.
2. Words: runs of letters, digits and combining marks (``_`` and punctuation separate them).
3. Per tokenizer (:class:`LexicalTokenizer`): Porter stemming of English words (:mod:`sentvec.search.porter`, the
   stems FTS5's ``porter`` tokenizer gives) and CJK runs (Han, kana, Hangul) as their characters plus their
   overlapping character bigrams.

Why characters and bigrams for CJK: on paraphrase retrieval built from STSb-zh (queries: ``sentence1`` of pairs
scored >= 4, corpus: the distinct ``sentence2``), BM25 recall@10 / MRR@10 on dev (test) were: bigrams 93.9 / 85.1
(90.2 / 77.4), characters and bigrams 95.8 / 86.2 (92.9 / 81.6), characters alone 97.7 / 86.9 (93.5 / 82.4), and
jieba's word segmentation 94.7 / 84.8 (90.2 / 76.6; its search mode no better). Words found by a segmenter do not
beat bigrams, so no segmenter is needed; characters alone win on these short sentences, but lose what bigrams keep
of word order in longer documents, so both are indexed (as Lucene's CJK bigram filter with unigrams does).
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable

from sentvec.enums import parse_enum
from sentvec.search.porter import stem


class LexicalTokenizer(str, enum.Enum):
    """How an index (or :class:`~sentvec.search.lexical.BM25`) cuts texts into terms.

    - ``english``: Unicode words, English ones Porter-stemmed (as FTS5's ``porter unicode61 remove_diacritics 2``;
      a run of CJK characters is one word, as there).
    - ``cjk``: CJK runs as their characters and character bigrams; other words as they are (no stemming).
    - ``mixed`` (the default): CJK runs as ``cjk``, other words as ``english``.
    """

    ENGLISH = "english"
    CJK = "cjk"
    MIXED = "mixed"

    @classmethod
    def parse(cls, value: str | LexicalTokenizer) -> LexicalTokenizer:
        """A member from itself or its name (``ValueError`` listing the valid ones otherwise)."""
        return parse_enum(cls, value, "lexical tokenizer")


DEFAULT_TOKENIZER = LexicalTokenizer.MIXED

# Han (with radicals, compatibility forms and the supplementary planes), kana, bopomofo and Hangul.
_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3040-\u30ff\u3100-\u312f"
    "\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f"
)
# The generic combining diacritics (Latin, Greek, Cyrillic), removed after NFKD as FTS5's remove_diacritics does.
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


# Where combining marks are: the BMP, the supplementary multilingual plane and the variation selectors supplement.
_MARK_PLANES = (range(0x20000), range(0xE0000, 0xE1000))


@functools.lru_cache(maxsize=1)
def _marks() -> str:
    """A character class body of every combining mark (Mn, Mc, Me), which Python's ``\\w`` leaves out."""
    codes = [code for plane in _MARK_PLANES for code in plane if unicodedata.category(chr(code))[0] == "M"]
    ranges: list[str] = []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code != prev + 1:
            ranges.append(chr(start) if start == prev else f"{chr(start)}-{chr(prev)}")
            start = code
        prev = code
    return "".join(ranges)


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(words and CJK runs apart, words alone): a CJK run is group 1, any other word group 2."""
    marks = _marks()
    split = re.compile(f"([{_CJK}]+)|((?:[^\\W_{_CJK}]|[{marks}])+)")
    words = re.compile(f"(?:[^\\W_]|[{marks}])+")
    return split, words


def normalize(text: str) -> str:
    """Case folded, NFKC, generic diacritics removed (step 1 above)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return unicodedata.normalize("NFC", _DIACRITICS.sub("", decomposed))


def cjk_terms(run: str) -> list[str]:
    """The terms of a CJK run: its characters, then its overlapping character bigrams."""
    return [*run, *(run[i : i + 2] for i in range(len(run) - 1))]


def _english(words: Iterable[str]) -> list[str]:
    return [stem(w) if w.isascii() else w for w in words]


def tokenize(text: str, tokenizer: LexicalTokenizer | str = DEFAULT_TOKENIZER) -> list[str]:
    """The terms of ``text`` under ``tokenizer`` (:class:`LexicalTokenizer`), in text order, repeats kept."""
    return _tokenizer(LexicalTokenizer.parse(tokenizer))(text)


def tokenizer_function(tokenizer: LexicalTokenizer | str) -> Callable[[str], list[str]]:
    """The function :func:`tokenize` applies for ``tokenizer`` (to call it on many texts)."""
    return _tokenizer(LexicalTokenizer.parse(tokenizer))


def _tokenizer(kind: LexicalTokenizer) -> Callable[[str], list[str]]:
    if kind is LexicalTokenizer.ENGLISH:
        return _tokenize_english
    return _tokenize_mixed if kind is LexicalTokenizer.MIXED else _tokenize_cjk


def _tokenize_english(text: str) -> list[str]:
    return _english(_patterns()[1].findall(normalize(text)))


def _split(text: str, stemmed: bool) -> list[str]:
    terms: list[str] = []
    for run, word in _patterns()[0].findall(normalize(text)):
        if run:
            terms.extend(cjk_terms(run))
        else:
            terms.append(stem(word) if stemmed and word.isascii() else word)
    return terms


def _tokenize_mixed(text: str) -> list[str]:
    return _split(text, stemmed=True)


def _tokenize_cjk(text: str) -> list[str]:
    return _split(text, stemmed=False)


def shadow(text: str | None, tokenizer: LexicalTokenizer | str) -> str | None:
    """The text FTS5 indexes for ``text``: its terms joined by spaces (None stays None)."""
    return None if text is None else " ".join(tokenize(text, tokenizer))

"""The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", 1980, with the revisions of his reference
implementation: ``bli`` → ``ble``, ``logi`` → ``log``), as SQLite FTS5's ``porter`` tokenizer applies it.

Written from the algorithm's description; tested term for term against FTS5's ``porter`` tokenizer (see
``tests/unit/test_search_lexical.py``), so an index tokenized here stems as ``tokenize='porter unicode61'`` would.
As FTS5 does, words shorter than 3 or longer than 64 characters are left as they are; unlike FTS5, only ASCII words
are stemmed (English rules say nothing about other scripts, and FTS5 would apply them to UTF-8 bytes).
"""

from __future__ import annotations

import functools

MIN_LENGTH, MAX_LENGTH = 3, 64
_VOWELS = frozenset("aeiou")

# (suffix, replacement) rules of steps 2, 3 and 4. As in the reference implementation, the rule whose suffix the word
# ends with is the only one tried (its condition failing leaves the word as it is); the tables list longer suffixes
# before the shorter ones they end with (``ization`` before ``ation``, ``ement`` before ``ment`` before ``ent``).
_STEP2 = (
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("logi", "log"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
)
_STEP3 = (
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
)
_STEP4 = (
    "al",
    "ance",
    "ence",
    "er",
    "ic",
    "able",
    "ible",
    "ant",
    "ement",
    "ment",
    "ent",
    "ion",
    "ou",
    "ism",
    "ate",
    "iti",
    "ous",
    "ive",
    "ize",
)


def _consonants(word: str) -> list[bool]:
    """Whether each letter is a consonant: not a vowel, and ``y`` only after a vowel (or first)."""
    flags: list[bool] = []
    for i, c in enumerate(word):
        vowel = c in _VOWELS or (c == "y" and i > 0 and flags[i - 1])
        flags.append(not vowel)
    return flags


def _measure(stem: str) -> int:
    """m: the number of vowel-consonant sequences of ``stem`` ([C](VC)^m[V])."""
    flags = _consonants(stem)
    return sum(1 for i in range(1, len(flags)) if flags[i] and not flags[i - 1])


def _has_vowel(stem: str) -> bool:
    return not all(_consonants(stem))


def _cvc(stem: str) -> bool:
    """*o: the stem ends consonant-vowel-consonant, the last consonant not ``w``, ``x`` or ``y``."""
    if len(stem) < 3 or stem[-1] in "wxy":
        return False
    flags = _consonants(stem)
    return flags[-3] and not flags[-2] and flags[-1]


def _step1a(word: str) -> str:
    if not word.endswith("s"):
        return word
    if word.endswith("es"):
        if (len(word) > 4 and word.endswith("sses")) or (len(word) > 3 and word.endswith("ies")):
            return word[:-2]
        return word[:-1]
    return word if word.endswith("ss") else word[:-1]


def _step1b(word: str) -> str:
    if word.endswith("eed") and len(word) > 3:
        return word[:-1] if _measure(word[:-3]) > 0 else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and len(word) > len(suffix):
            stem = word[: -len(suffix)]
            return _after_1b(stem) if _has_vowel(stem) else word
    return word


def _after_1b(stem: str) -> str:
    """The tidying after ``ed`` or ``ing`` was removed."""
    for ending, replacement in (("at", "ate"), ("bl", "ble"), ("iz", "ize")):
        if stem.endswith(ending) and len(stem) > 2:
            return stem[:-2] + replacement
    last = stem[-1]
    if len(stem) > 1 and last not in _VOWELS and last not in "lsz" and last == stem[-2]:  # (a double y too)
        return stem[:-1]
    if _measure(stem) == 1 and _cvc(stem):
        return stem + "e"
    return stem


def _replace(word: str, rules: tuple[tuple[str, str], ...], min_measure: int) -> str:
    for suffix, replacement in rules:
        if word.endswith(suffix) and len(word) > len(suffix):
            stem = word[: -len(suffix)]
            return stem + replacement if _measure(stem) > min_measure else word
    return word


def _step4(word: str) -> str:
    for suffix in _STEP4:
        if word.endswith(suffix) and len(word) > len(suffix):
            stem = word[: -len(suffix)]
            if _measure(stem) > 1 and (suffix != "ion" or stem[-1] in "st"):
                return stem
            return word
    return word


def _step5(word: str) -> str:
    if word.endswith("e"):
        stem = word[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            word = stem
    if len(word) > 1 and word.endswith("ll") and _measure(word[:-1]) > 1:
        word = word[:-1]
    return word


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Porter stem of a lowercase ``word`` (words of 3 to 64 ASCII characters; others as they are)."""
    if not MIN_LENGTH <= len(word) <= MAX_LENGTH or not word.isascii():
        return word
    word = _step1b(_step1a(word))
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word = _replace(word, _STEP2, 0)
    word = _replace(word, _STEP3, 0)
    return _step5(_step4(word))

"""Checks of client input at the edge of the HTTP service, shared by every route that takes text: the client error
(:class:`ApiError`, answered as a JSON 4xx) and the text and filter checks that raise it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import JsonValue

from sentvec.server.limits import Limits

SQLITE_INT = 2**63  # filter integers must be below this in magnitude: the index compares them in SQLite


class ApiError(Exception):
    """A client error with its HTTP status, machine-readable ``code`` and offending ``param``."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


def check_texts(texts: Sequence[str], limits: Limits, param: str, *, single: bool = False) -> None:
    """422 unless ``texts`` is a non-empty list within ``max_inputs`` of texts within ``max_chars`` that the
    tokenizer can take (valid Unicode: no lone surrogate). A bad text is named ``param[i]`` (``param`` alone
    when the request sent one text, ``single``)."""
    if not texts:
        raise ApiError(422, f"'{param}' must not be empty", "empty_input", param)
    if len(texts) > limits.max_inputs:
        message = f"'{param}' has {len(texts)} texts; the limit is max_inputs={limits.max_inputs}"
        raise ApiError(422, message, "max_inputs", param)
    for i, text in enumerate(texts):
        where = param if single else f"{param}[{i}]"
        if len(text) > limits.max_chars:
            message = f"{where} has {len(text)} characters; the limit is max_chars={limits.max_chars}"
            raise ApiError(422, message, "max_chars", where)
        problem = text_problem(text)
        if problem is not None:
            raise ApiError(422, f"{where} {problem}", "invalid_text", where)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be encoded as UTF-8 (and so cannot reach the tokenizer), or ``None``.

    JSON's ``\\uD800``-style escapes can spell a lone surrogate, which Python's JSON decoder accepts but which is
    no Unicode character: the Rust tokenizers (and SQLite) reject it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return (
            f"holds a lone surrogate (U+{ord(text[e.start]):04X}) at character {e.start}: "
            "texts must be valid Unicode (pair surrogates, or send the character itself as UTF-8)"
        )
    return None


def check_filter(value: JsonValue, param: str = "filter") -> None:
    """422 unless every string of a metadata filter is valid Unicode, every integer fits the index's 64-bit
    integers and every number is finite (Python's JSON decoder accepts ``NaN`` and ``Infinity``)."""
    stack: list[tuple[str, JsonValue]] = [(param, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, dict):
            for key, v in item.items():
                problem = text_problem(key)
                if problem is not None:
                    raise ApiError(422, f"a key of {where} {problem}", "invalid_filter", where)
                stack.append((f"{where}.{key}", v))
        else:
            problem = _scalar_problem(item)
            if problem is not None:
                raise ApiError(422, f"{where} {problem}", "invalid_filter", where)


def _scalar_problem(item: JsonValue) -> str | None:
    if isinstance(item, str):
        return text_problem(item)
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int) and not -SQLITE_INT <= item < SQLITE_INT:
        return f"is {short(item)}; filter integers must fit in 64 bits"
    if isinstance(item, float) and not math.isfinite(item):
        return f"is {item}; filter numbers must be finite"
    return None


def short(number: int) -> str:
    """``number``, or its size when too long to quote (``str`` refuses integers of over 4,300 digits)."""
    return str(number) if abs(number) < 10**30 else f"a {number.bit_length()}-bit integer"

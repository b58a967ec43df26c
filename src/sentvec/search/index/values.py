"""Strict JSON values (document metadata, config values) and metadata filters of an index.

Metadata is stored as strict JSON, which SQLite's JSON functions read: :func:`strict_json` checks a value,
:func:`parse_filter` a search filter, :func:`matches` decides whether a document's metadata passes one, and
:func:`_sql_filter` narrows the candidates in SQL first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TypeAlias

import numpy as np

MAX_JSON_DEPTH = 100  # nesting of metadata values (SQLite's JSON functions refuse deeper documents)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # the integers SQLite holds exactly

# A JSON value: document metadata and the config's values.
JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
Metadata: TypeAlias = Mapping[str, JSONValue]
SQLParam: TypeAlias = str | int | float | bytes | None


# --- strict JSON values ------------------------------------------------------------------------------------------


class NotStrictJSON(ValueError):
    """A value that is not strict JSON (what SQLite's JSON functions read): ``path`` names where, ``wrong_type``
    whether its type is the problem (a set, bytes, an object, a non-string key) rather than its value (NaN, an
    integer beyond 64 bits, a lone surrogate, too deep a nesting)."""

    def __init__(self, path: str, problem: str, *, wrong_type: bool) -> None:
        self.path, self.problem, self.wrong_type = path, problem, wrong_type
        super().__init__(f"{path}: {problem}")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _check_text(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NotStrictJSON(
            path, f"not valid Unicode (a lone surrogate at position {e.start})", wrong_type=False
        ) from None


def strict_json(value: object, path: str, depth: int = 0) -> JSONValue:
    """``value`` as strict JSON: objects with string keys, arrays (lists or tuples, returned as lists), strings,
    finite numbers (integers within 64 bits, numpy scalars as Python ones), booleans and None.

    Python's ``json`` writes ``NaN`` and ``Infinity`` and turns non-string keys into strings, but SQLite's JSON
    functions refuse the former (one such row breaks every filtered search over it) and the latter would not read
    back as written, so both are refused here: :class:`NotStrictJSON` names the path (``metadata.tags[2]``).
    """
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_text(value, path)
        return str(value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise NotStrictJSON(path, f"the integer {value} does not fit in 64 bits (SQLite's range)", wrong_type=False)
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotStrictJSON(path, f"{value} is not valid JSON (only finite numbers are)", wrong_type=False)
        return float(value)
    if isinstance(value, (Mapping, list, tuple)):
        return _strict_container(value, path, depth)
    raise NotStrictJSON(path, f"{type(value).__name__} is not a JSON value", wrong_type=True)


def _strict_container(
    value: Mapping[object, object] | list[object] | tuple[object, ...], path: str, depth: int
) -> JSONValue:
    """:func:`strict_json` of an object or an array."""
    if depth >= MAX_JSON_DEPTH:
        raise NotStrictJSON(path, f"nested deeper than {MAX_JSON_DEPTH} levels", wrong_type=False)
    if not isinstance(value, Mapping):
        return [strict_json(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    out: dict[str, JSONValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise NotStrictJSON(
                path, f"the key {key!r} is {type(key).__name__}; JSON object keys must be strings", wrong_type=True
            )
        _check_text(key, path)
        out[str(key)] = strict_json(item, _child(path, key), depth + 1)
    return out


def parse_filter(where: object) -> dict[str, JSONValue]:
    """A search filter checked: a mapping of metadata field names to strict JSON values (:func:`strict_json`).

    Raises ``TypeError`` (not a mapping, a non-string field, a value of a non-JSON type) or ``ValueError`` (NaN,
    an integer beyond 64 bits, ...), naming ``filter`` and the field.
    """
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise TypeError(f"filter must be a mapping of metadata field names to values, got {type(where).__name__}")
    checked: dict[str, JSONValue] = {}
    for field, value in where.items():
        if not isinstance(field, str):
            raise TypeError(f"filter: field names must be strings, got {field!r} ({type(field).__name__})")
        try:
            checked[field] = strict_json(value, f"filter[{field!r}]")
        except NotStrictJSON as e:
            raise (TypeError if e.wrong_type else ValueError)(str(e)) from None
    return checked


# --- metadata filters --------------------------------------------------------------------------------------------


def _same(a: JSONValue, b: JSONValue) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def matches(metadata: Metadata, where: Metadata) -> bool:
    """Whether ``metadata`` equals ``where`` on every field (a missing field equals ``None``; ``True`` != 1)."""
    return all(_same(metadata.get(field), value) for field, value in where.items())


def _sql_filter(where: Metadata) -> tuple[str, list[SQLParam]]:
    """A WHERE clause narrowing to candidates of a filter (:func:`matches` decides).

    Only fields SQLite compares exactly take part: scalar values (not booleans), field names that JSON writes as
    they are (SQLite's path finds no key stored with escapes: ``"``, ``\\``, control characters) and strings
    without NUL (SQLite's text comparison stops at it); the others are checked in Python only."""
    clauses: list[str] = []
    params: list[SQLParam] = []
    for field, value in where.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        if json.dumps(field, ensure_ascii=False)[1:-1] != field or (isinstance(value, str) and "\x00" in value):
            continue
        clauses.append("json_extract(metadata, ?) = ?")
        params.extend([f'$."{field}"', value])
    return (" AND ".join(clauses) or "1"), params

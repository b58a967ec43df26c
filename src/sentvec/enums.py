"""One way to read an enum from user input (a member, its value, or a documented alias)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

E = TypeVar("E", bound=enum.Enum)


def parse_enum(cls: type[E], value: object, what: str, aliases: Mapping[str, str] | None = None) -> E:
    """``value`` as a member of ``cls``: a member, its value (case-insensitive, ``-`` read as ``_``), or an alias.

    An unknown value is a ``ValueError`` that names ``what`` and lists the valid values.
    """
    if isinstance(value, cls):
        return value
    key = str(value).lower().replace("-", "_") if isinstance(value, str) else value
    if aliases and isinstance(key, str):
        key = aliases.get(key, key)
    for candidate in (value, key):
        try:
            return cls(candidate)
        except ValueError:
            continue
    raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(choices(cls))}")


def choices(cls: type[enum.Enum]) -> list[str]:
    """The values of ``cls`` as strings, for CLI ``choices`` and error messages."""
    return [str(member.value) for member in cls]

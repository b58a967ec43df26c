"""The enums users pass as parameters that need no numpy (so the CLI can build its ``choices`` from them without
loading anything heavy), and one way to read an enum from user input (a member, its value, or an alias)."""

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


class Precision(str, enum.Enum):
    """Output precisions of ``encode`` (see :mod:`sentvec.quantization`)."""

    FLOAT32 = "float32"
    INT8 = "int8"
    UINT8 = "uint8"
    BINARY = "binary"
    UBINARY = "ubinary"

    @classmethod
    def parse(cls, value: str | Precision) -> Precision:
        """Accept a member or its value."""
        return parse_enum(cls, value, "precision")


class BackendKind(str, enum.Enum):
    """Which engine runs the forward pass (``auto``: torch when installed and not quantized, else ONNX)."""

    AUTO = "auto"
    TORCH = "torch"
    ONNX = "onnx"
    OPENVINO = "openvino"

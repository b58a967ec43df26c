"""Reading JSON Lines files record by record; a bad line names the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sentvec.errors import DataFormatError


def iter_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; malformed JSON or a non-object is an error."""
    with open(path, encoding="utf-8") as f:
        for line, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise DataFormatError(path, line, f"malformed JSON: {e.msg}") from e
            if not isinstance(obj, dict):
                raise DataFormatError(path, line, "expected a JSON object")
            yield line, obj

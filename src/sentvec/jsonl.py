"""Reading JSON Lines files record by record (a bad line names the file and line), and the field names of a
JSONL, CSV or TSV file."""

from __future__ import annotations

import csv
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


def field_names(path: Path, kind: str | None = None) -> list[str]:
    """The fields of a data file: the keys of a JSONL file's first record, or the header row of a CSV/TSV file.
    ``kind`` ("jsonl", "csv", "tsv") defaults to the file's extension."""
    kind = kind or path.suffix.lower().lstrip(".")
    if kind == "jsonl":
        first = next(iter_objects(path), None)
        if first is None:
            raise DataFormatError(path, 1, "no records")
        return list(first[1])
    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f, delimiter="\t" if kind == "tsv" else ","), None)
    if not header:
        raise DataFormatError(path, 1, "no header row")
    return [c.strip() for c in header]

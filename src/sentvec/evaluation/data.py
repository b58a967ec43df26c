"""Loading scored sentence pairs from CSV, TSV and JSONL; bad rows (and bytes that are not UTF-8) name file and
line."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from sentvec.errors import DataFormatError
from sentvec.jsonl import iter_objects

DEFAULT_COLUMNS = ("sentence1", "sentence2", "score")


@dataclasses.dataclass(frozen=True)
class ScoredPairs:
    """Parallel lists: pairs of texts with a similarity score."""

    sentences1: list[str]
    sentences2: list[str]
    scores: list[float]

    def __len__(self) -> int:
        return len(self.scores)


def load_scored_pairs(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    header: bool | None = None,
    binary: bool = False,
) -> ScoredPairs:
    """Read pairs with a score.

    - ``.csv`` / ``.tsv``: with ``header=None`` a first row whose score field is not a number is taken as a
      header; headerless files use column order ``sentence1, sentence2, score`` (the STS benchmark files).
      With a header, ``columns`` names the three columns (default ``sentence1, sentence2, score``).
    - ``.jsonl``: one object per line with the fields named by ``columns``.

    ``binary``: the scores are 0/1 labels; any other value is an error naming its file, line and raw value.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    names = tuple(columns) if columns else DEFAULT_COLUMNS
    if len(names) != 3:
        raise ValueError(f"columns must name 3 fields (text 1, text 2, score), got {list(names)}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, names)
    elif suffix in (".csv", ".tsv"):
        rows = _delimited_rows(path, names, "\t" if suffix == ".tsv" else ",", header)
    else:
        raise DataFormatError(path, None, f"unsupported file type {suffix!r}; use .csv, .tsv or .jsonl")
    s1: list[str] = []
    s2: list[str] = []
    scores: list[float] = []
    with utf8_errors(path):
        for line, a, b, raw_score in rows:
            s1.append(_text(path, line, names[0], a))
            s2.append(_text(path, line, names[1], b))
            score = _score(path, line, names[2], raw_score)
            if binary and score not in (0.0, 1.0):
                raise DataFormatError(path, line, f"label {raw_score!r} is not 0 or 1", names[2])
            scores.append(score)
    if not scores:
        raise DataFormatError(path, None, "no rows")
    return ScoredPairs(s1, s2, scores)


Row = tuple[int, object, object, object]


def _delimited_rows(path: Path, names: Sequence[str], delimiter: str, header: bool | None) -> Iterator[Row]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)
        positions: list[int] = [0, 1, 2]
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if line == 1 and (header or (header is None and len(row) >= 3 and not _is_number(row[2]))):
                positions = _header_positions(path, row, names)
                continue
            if len(row) <= max(positions):
                missing = names[min(len(row), 2)] if len(row) < 3 else names[2]
                raise DataFormatError(path, line, f"expected {max(positions) + 1} fields, got {len(row)}", missing)
            yield line, row[positions[0]], row[positions[1]], row[positions[2]]


def _header_positions(path: Path, row: list[str], names: Sequence[str]) -> list[int]:
    positions = []
    for name in names:
        if name not in row:
            raise DataFormatError(path, 1, f"missing column {name!r}; the header has {row}", name)
        positions.append(row.index(name))
    return positions


def _jsonl_rows(path: Path, names: Sequence[str]) -> Iterator[Row]:
    for line, obj in iter_objects(path):
        for name in names:
            if name not in obj:
                raise DataFormatError(path, line, "missing field", name)
        yield line, obj[names[0]], obj[names[1]], obj[names[2]]


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _text(path: Path, line: int, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise DataFormatError(path, line, f"expected text, got {type(value).__name__}", field)
    return value


def _score(path: Path, line: int, field: str, value: object) -> float:
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(path, line, f"score {value!r} is not a number", field) from None
    if not math.isfinite(score):
        raise DataFormatError(path, line, f"score {value!r} is not finite", field)
    return score


# --- encoding errors ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def utf8_errors(path: Path) -> Iterator[None]:
    """Inside the block, a ``UnicodeDecodeError`` from reading ``path`` (opened as UTF-8 text) becomes a
    :class:`DataFormatError` naming the file and the line of its first invalid byte."""
    try:
        yield
    except UnicodeDecodeError as e:
        raise invalid_utf8(path, e) from e


def invalid_utf8(path: Path, error: UnicodeDecodeError | None = None) -> DataFormatError:
    """The error for a file that is not valid UTF-8: its first invalid bytes, by line (1-based) and byte column
    (1-based) — text decoders report an offset into their buffer, which names no line."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):  # b"\n" is never part of a multi-byte sequence
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                where = f"byte(s) {raw[e.start : e.end].hex(' ')} at column {e.start + 1}"
                return DataFormatError(path, number, f"not valid UTF-8: {where} ({e.reason}); save the file as UTF-8")
    reason = f" ({error.reason})" if error is not None else ""
    return DataFormatError(path, None, f"not valid UTF-8{reason}; save the file as UTF-8")

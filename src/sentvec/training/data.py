"""Training data: labelled pairs, scored pairs, tuples and (text, class) rows from files, DataFrames, lists and
Hugging Face datasets, with explicit column mapping (no guessing by column order).

Files are streamed: iterating reads the file again, row by row, so a 1M-row JSONL never sits in memory.
Every row is validated as it is read; an error names the file (or source), the row and the column.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sentvec.errors import DataFormatError
from sentvec.jsonl import iter_objects

Column = str | int


class LabelKind(str, enum.Enum):
    """What a label column holds."""

    NONE = "none"
    BINARY = "binary"  # 0 or 1
    SCORE = "score"  # a float, optionally within a range
    CLASS = "class"  # an integer class id >= 0
    EMBEDDING = "embedding"  # a vector (distillation targets)


@dataclasses.dataclass(frozen=True)
class Example:
    """One training row: the texts of its columns and an optional label."""

    texts: tuple[str, ...]
    label: Any = None


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """How to read rows: which columns hold texts, which one the label, and what the label must be."""

    columns: tuple[Column, ...]
    label: Column | None = None
    label_kind: LabelKind = LabelKind.NONE
    score_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("name at least one text column")
        if self.label is None and self.label_kind is not LabelKind.NONE:
            raise ValueError(f"label_kind {self.label_kind.value!r} needs a label column")


class TrainingData(Iterable[Example]):
    """A re-iterable, validated stream of examples. ``len()`` counts rows (one cheap pass for files)."""

    def __init__(self, rows: Callable[[], Iterator[tuple[int, Any]]], spec: DataSpec, source: str) -> None:
        self._rows = rows
        self.spec = spec
        self.source = source
        self._length: int | None = None

    def __iter__(self) -> Iterator[Example]:
        for row_number, row in self._rows():
            yield _example(row, row_number, self.spec, self.source)

    def __len__(self) -> int:
        if self._length is None:
            self._length = sum(1 for _ in self._rows())
        return self._length

    @property
    def n_columns(self) -> int:
        """Number of text columns."""
        return len(self.spec.columns)


class InMemoryData(TrainingData):
    """Examples held in a list (what shuffling a small dataset in full needs)."""

    def __init__(self, examples: list[Example], spec: DataSpec, source: str) -> None:
        super().__init__(lambda: iter(enumerate(examples, start=1)), spec, source)
        self.examples = examples

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __len__(self) -> int:
        return len(self.examples)


def load_data(
    source: Any,
    *,
    columns: Sequence[Column],
    label: Column | None = None,
    label_kind: LabelKind | str = LabelKind.NONE,
    score_range: tuple[float, float] | None = None,
) -> TrainingData:
    """Build training data from a CSV/TSV/JSONL path, a pandas DataFrame, a list of dicts or tuples, or a
    Hugging Face ``datasets.Dataset``.

    ``columns`` names the text columns in order (names for files with a header, dicts, DataFrames and datasets;
    0-based positions for headerless CSV/TSV files and tuples); ``label`` the label column; ``label_kind`` what
    it must hold (``"binary"``, ``"score"`` — within ``score_range`` when given —, ``"class"``, ``"embedding"``).
    """
    kind = LabelKind(label_kind) if not isinstance(label_kind, LabelKind) else label_kind
    spec = DataSpec(tuple(columns), label, kind, score_range)
    if isinstance(source, str | Path):
        return _file_data(Path(source), spec)
    if hasattr(source, "iterrows") and hasattr(source, "columns"):  # pandas.DataFrame
        records = source.to_dict("records")
        return TrainingData(lambda: iter(enumerate(records, start=1)), spec, "DataFrame")
    if hasattr(source, "column_names") and hasattr(source, "features"):  # datasets.Dataset
        return TrainingData(lambda: iter(enumerate(source, start=1)), spec, "Dataset")
    if isinstance(source, Sequence):
        rows = list(source)
        return InMemoryData([_example(r, i, spec, "list") for i, r in enumerate(rows, start=1)], spec, "list")
    raise TypeError(
        f"unsupported training data source {type(source).__name__}; use a file path, list, DataFrame or Dataset"
    )


def _file_data(path: Path, spec: DataSpec) -> TrainingData:
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return TrainingData(lambda: iter_objects(path), spec, str(path))
    if suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        named = any(isinstance(c, str) for c in (*spec.columns, spec.label) if c is not None)
        return TrainingData(lambda: _delimited_rows(path, delimiter, named), spec, str(path))
    raise DataFormatError(path, None, f"unsupported file type {suffix!r}; use .csv, .tsv or .jsonl")


def _delimited_rows(path: Path, delimiter: str, named: bool) -> Iterator[tuple[int, Any]]:
    """Rows as dicts (header present: ``named``) or lists (headerless, positional columns)."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header: list[str] | None = None
        for row in reader:
            if not row:
                continue
            if named and header is None:
                header = row
                continue
            if header is not None:
                if len(row) != len(header):
                    raise DataFormatError(path, reader.line_num, f"expected {len(header)} fields, got {len(row)}")
                yield reader.line_num, dict(zip(header, row, strict=True))
            else:
                yield reader.line_num, row


def _get(row: Any, column: Column, row_number: int, source: str) -> Any:
    try:
        return row[column]
    except (KeyError, IndexError, TypeError):
        raise DataFormatError(source, row_number, "missing column", str(column)) from None


def _example(row: Any, row_number: int, spec: DataSpec, source: str) -> Example:
    texts = []
    for column in spec.columns:
        value = _get(row, column, row_number, source)
        if not isinstance(value, str):
            raise DataFormatError(source, row_number, f"expected text, got {type(value).__name__}", str(column))
        if not value.strip():
            raise DataFormatError(source, row_number, "empty text", str(column))
        texts.append(value)
    label = None
    if spec.label is not None:
        label = _label(_get(row, spec.label, row_number, source), row_number, spec, source)
    return Example(tuple(texts), label)


def _label(value: Any, row_number: int, spec: DataSpec, source: str) -> Any:
    field = str(spec.label)
    if spec.label_kind is LabelKind.EMBEDDING:
        try:
            vector = [float(v) for v in value]
        except (TypeError, ValueError):
            raise DataFormatError(source, row_number, "expected a vector of numbers", field) from None
        return vector
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataFormatError(source, row_number, f"label {value!r} is not a number", field) from None
    if not math.isfinite(number):
        raise DataFormatError(source, row_number, f"label {value!r} is not finite", field)
    if spec.label_kind is LabelKind.BINARY and number not in (0.0, 1.0):
        raise DataFormatError(source, row_number, f"binary label must be 0 or 1, got {value!r}", field)
    if spec.label_kind is LabelKind.CLASS:
        if number != int(number) or number < 0:
            raise DataFormatError(source, row_number, f"class label must be an integer >= 0, got {value!r}", field)
        return int(number)
    if spec.score_range is not None:
        low, high = spec.score_range
        if not low <= number <= high:
            raise DataFormatError(source, row_number, f"score {number:g} is outside [{low:g}, {high:g}]", field)
    return number


def scale_scores(data: TrainingData, low: float, high: float) -> InMemoryData:
    """Scores mapped linearly from ``[low, high]`` to ``[0, 1]`` (e.g. STS scores 0-5 for CosineSimilarityLoss)."""
    examples = [Example(e.texts, (float(e.label) - low) / (high - low)) for e in data]
    spec = dataclasses.replace(data.spec, score_range=(0.0, 1.0))
    return InMemoryData(examples, spec, data.source)

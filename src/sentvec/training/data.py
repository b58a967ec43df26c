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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, SupportsFloat, SupportsIndex, TypeGuard, Union

from sentvec.errors import DataFormatError
from sentvec.jsonl import iter_objects

if TYPE_CHECKING:
    import datasets
    import pandas

Column = str | int
# a validated label: a class id, a binary label or a score, or a teacher embedding
Label = int | float | list[float]
# what load_data reads from
Source = Union[str, Path, Sequence[object], "pandas.DataFrame", "datasets.Dataset"]


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
    label: Label | None = None


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """How to read rows: which columns hold texts, which one the label, and what the label must be. ``names``:
    what reports (the model card) call the text columns and then the label, when ``columns`` are positions."""

    columns: tuple[Column, ...]
    label: Column | None = None
    label_kind: LabelKind = LabelKind.NONE
    score_range: tuple[float, float] | None = None
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("name at least one text column")
        if self.label is None and self.label_kind is not LabelKind.NONE:
            raise ValueError(f"label_kind {self.label_kind.value!r} needs a label column")
        expected = len(self.columns) + (self.label is not None)
        if self.names is not None and len(self.names) != expected:
            raise ValueError(f"names {list(self.names)}: expected {expected} (the text columns, then the label)")


class TrainingData(Iterable[Example]):
    """A re-iterable, validated stream of examples. ``len()`` counts rows (one cheap pass for files)."""

    def __init__(self, rows: Callable[[], Iterator[tuple[int, object]]], spec: DataSpec, source: str) -> None:
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

    @property
    def column_names(self) -> tuple[str, ...]:
        """The text columns and then the label column, as names (``spec.names``, else the columns themselves:
        positions as digits)."""
        if self.spec.names is not None:
            return self.spec.names
        label = () if self.spec.label is None else (self.spec.label,)
        return tuple(str(c) for c in (*self.spec.columns, *label))

    def is_empty(self) -> bool:
        """True when there is no row at all (reads at most the first row of a file)."""
        if self._length is not None:
            return self._length == 0
        rows = self._rows()
        try:
            return next(rows, None) is None
        finally:
            close = getattr(rows, "close", None)
            if callable(close):
                close()


class IndexedData(TrainingData):
    """Data with random access by position (:meth:`example`): shuffled in full, without a shuffle buffer."""

    def example(self, index: int) -> Example:
        """The validated example at 0-based ``index``."""
        raise NotImplementedError


class InMemoryData(IndexedData):
    """Examples held in a list (what shuffling a small dataset in full needs)."""

    def __init__(self, examples: list[Example], spec: DataSpec, source: str) -> None:
        super().__init__(lambda: iter(enumerate(examples, start=1)), spec, source)
        self.examples = examples

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __len__(self) -> int:
        return len(self.examples)

    def example(self, index: int) -> Example:
        """The example at 0-based ``index``."""
        return self.examples[index]


class DatasetData(IndexedData):
    """A Hugging Face ``datasets.Dataset`` read in place (Arrow, memory-mapped): rows are validated as they are
    read, by position for a shuffled epoch."""

    def __init__(self, dataset: datasets.Dataset, spec: DataSpec, source: str) -> None:
        super().__init__(lambda: iter(enumerate(dataset, start=1)), spec, source)
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def example(self, index: int) -> Example:
        """The example at 0-based ``index`` (row ``index + 1`` in errors)."""
        return _example(self.dataset[index], index + 1, self.spec, self.source)


def load_data(
    source: Source,
    *,
    columns: Sequence[Column],
    label: Column | None = None,
    label_kind: LabelKind | str = LabelKind.NONE,
    score_range: tuple[float, float] | None = None,
    names: Sequence[str] | None = None,
) -> TrainingData:
    """Build training data from a CSV/TSV/JSONL path, a pandas DataFrame, a list of dicts or tuples, or a
    Hugging Face ``datasets.Dataset``.

    ``columns`` names the text columns in order (names for files with a header, dicts, DataFrames and datasets;
    0-based positions for headerless CSV/TSV files and tuples); ``label`` the label column; ``label_kind`` what
    it must hold (``"binary"``, ``"score"`` — within ``score_range`` when given —, ``"class"``, ``"embedding"``).
    ``names``: what the model card calls the text columns and then the label (for positional columns).
    """
    kind = LabelKind(label_kind) if not isinstance(label_kind, LabelKind) else label_kind
    spec = DataSpec(tuple(columns), label, kind, score_range, None if names is None else tuple(names))
    if isinstance(source, str | Path):
        return _file_data(Path(source), spec)
    if _is_dataframe(source):
        records = source.to_dict("records")
        return TrainingData(lambda: iter(enumerate(records, start=1)), spec, "DataFrame")
    if _is_hf_dataset(source):
        dataset = source
        if _has_random_access(dataset):
            return DatasetData(dataset, spec, _dataset_source(dataset))
        return TrainingData(lambda: iter(enumerate(dataset, start=1)), spec, _dataset_source(dataset))
    if isinstance(source, Sequence):
        rows = list(source)
        return InMemoryData([_example(r, i, spec, "list") for i, r in enumerate(rows, start=1)], spec, "list")
    raise TypeError(
        f"unsupported training data source {type(source).__name__}; use a file path, list, DataFrame or Dataset"
    )


LABEL_COLUMNS = ("label", "score")


def from_dataset(dataset: datasets.Dataset, label_kind: LabelKind | str = LabelKind.NONE) -> TrainingData:
    """A Hugging Face ``datasets.Dataset`` with the reference's column convention: a column named ``label`` or
    ``score`` is the label, every other column is a text input, in the dataset's column order.

    ``label_kind`` is what the loss needs (its ``label_kind``): a loss without labels ignores a label column; a loss
    with labels needs one (a :class:`~sentvec.errors.DataFormatError` naming the columns otherwise).
    """
    kind = LabelKind(label_kind) if not isinstance(label_kind, LabelKind) else label_kind
    source = _dataset_source(dataset)
    names = [str(n) for n in (dataset.column_names or ())]
    if not names:
        raise DataFormatError(source, None, "the dataset names no columns; use load_data(dataset, columns=[...])")
    labels = [n for n in names if n in LABEL_COLUMNS]
    if len(labels) > 1:
        raise DataFormatError(source, None, f"both {labels[0]!r} and {labels[1]!r} columns: keep one as the label")
    texts = [n for n in names if n not in LABEL_COLUMNS]
    if not texts:
        raise DataFormatError(source, None, f"no text column (columns: {', '.join(names)})")
    if kind is LabelKind.NONE:
        return load_data(dataset, columns=texts)
    if not labels:
        raise DataFormatError(
            source,
            None,
            f"labels of kind {kind.value!r} are needed: name a column 'label' or 'score' (columns: {', '.join(names)})",
        )
    return load_data(dataset, columns=texts, label=labels[0], label_kind=kind)


def require_rows(data: TrainingData, name: str) -> None:
    """Refuse a dataset without a single row (a file with only a header, an empty list): a
    :class:`~sentvec.errors.DataFormatError` naming the source and the dataset."""
    if data.is_empty():
        raise DataFormatError(data.source, None, f"no rows to train on (dataset {name!r} is empty)")


def _is_dataframe(source: object) -> TypeGuard[pandas.DataFrame]:
    """A pandas DataFrame, told without importing pandas."""
    return hasattr(source, "iterrows") and hasattr(source, "columns")


def _is_hf_dataset(source: object) -> TypeGuard[datasets.Dataset]:
    """A Hugging Face ``datasets.Dataset``, told without importing datasets."""
    return hasattr(source, "column_names") and hasattr(source, "features")


def _has_random_access(dataset: datasets.Dataset) -> bool:
    """A map-style ``Dataset`` (length and rows by position), not a streaming ``IterableDataset``."""
    return hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")


def _dataset_source(dataset: datasets.Dataset) -> str:
    """How errors and the model card name a Hugging Face dataset: ``Dataset``, with its name when it has one."""
    info = getattr(dataset, "info", None)
    name = getattr(info, "dataset_name", None)
    return f"Dataset {name}" if isinstance(name, str) and name else "Dataset"


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


def _delimited_rows(path: Path, delimiter: str, named: bool) -> Iterator[tuple[int, dict[str, str] | list[str]]]:
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


def _get(row: object, column: Column, row_number: int, source: str) -> object:
    """``column`` of a row: a mapping (dicts, DataFrame records, dataset rows) or a sequence (CSV rows, tuples)."""
    try:
        if isinstance(row, Mapping):
            return row[column]
        if isinstance(row, Sequence) and isinstance(column, int):
            return row[column]
    except (KeyError, IndexError, TypeError):
        pass
    raise DataFormatError(source, row_number, "missing column", str(column))


def _example(row: object, row_number: int, spec: DataSpec, source: str) -> Example:
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


def _float(value: object) -> float:
    """``float(value)`` for what rows hold (numbers, numeric strings); TypeError or ValueError otherwise."""
    if isinstance(value, str | bytes | SupportsFloat | SupportsIndex):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not a number")


def _label(value: object, row_number: int, spec: DataSpec, source: str) -> Label:
    field = str(spec.label)
    if spec.label_kind is LabelKind.EMBEDDING:
        try:
            if not isinstance(value, Iterable):
                raise TypeError(f"{type(value).__name__} is not a vector")
            vector = [_float(v) for v in value]
        except (TypeError, ValueError):
            raise DataFormatError(source, row_number, "expected a vector of numbers", field) from None
        return vector
    try:
        number = _float(value)
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
    examples = [Example(e.texts, (_float(e.label) - low) / (high - low)) for e in data]
    spec = dataclasses.replace(data.spec, score_range=(0.0, 1.0))
    return InMemoryData(examples, spec, data.source)

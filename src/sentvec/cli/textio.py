"""Reading texts from and writing embeddings to the files the CLI accepts; output files are written beside their
target and renamed over it once complete (:func:`replacing`), so a failed run leaves no partial file and an
existing file is kept until the new one is whole."""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, TextIO

import numpy as np

from sentvec.errors import DataFormatError
from sentvec.evaluation.data import utf8_errors
from sentvec.jsonl import iter_objects

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

INPUT_TYPES = (".txt", ".jsonl", ".csv", ".tsv")
OUTPUT_TYPES = (".npy", ".parquet", ".jsonl")


def read_texts(path: Path, *, field: str | None = None, column: str | None = None) -> Iterator[str]:
    """Texts from ``.txt`` (one per line), ``.jsonl`` (``field``) or ``.csv``/``.tsv`` (``column``: a header
    name, or a 0-based index for headerless files). Bytes that are not UTF-8 are a :class:`DataFormatError`
    naming the file and line."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    if suffix == ".txt":
        return _txt(path)
    if suffix == ".jsonl":
        if not field:
            raise ValueError(f"{path}: a .jsonl input needs --field NAME")
        return _jsonl(path, field)
    if suffix in (".csv", ".tsv"):
        if column is None:
            raise ValueError(f"{path}: a {suffix} input needs --column NAME (or a 0-based index)")
        return _delimited(path, column, "\t" if suffix == ".tsv" else ",")
    raise DataFormatError(path, None, f"unsupported input type {suffix!r}; use one of {', '.join(INPUT_TYPES)}")


def _txt(path: Path) -> Iterator[str]:
    with utf8_errors(path), open(path, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\r\n")


def _jsonl(path: Path, field: str) -> Iterator[str]:
    with utf8_errors(path):
        for line, obj in iter_objects(path):
            if field not in obj:
                raise DataFormatError(path, line, "missing field", field)
            if not isinstance(obj[field], str):
                raise DataFormatError(path, line, f"expected text, got {type(obj[field]).__name__}", field)
            yield obj[field]


def _delimited(path: Path, column: str, delimiter: str) -> Iterator[str]:
    with utf8_errors(path), open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        index: int | None = int(column) if column.isdigit() else None
        for row in reader:
            if index is None:  # header row names the column
                if column not in row:
                    raise DataFormatError(path, reader.line_num, f"no column {column!r} in header {row}", column)
                index = row.index(column)
                continue
            if not row:
                continue
            if index >= len(row):
                raise DataFormatError(path, reader.line_num, f"row has {len(row)} fields", column)
            yield row[index]


def temporary_beside(path: Path) -> Path:
    """A hidden name in ``path``'s folder for the file being written (same suffix: writers that go by it, such as
    matplotlib's, see the intended type)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """The path to write ``path``'s new content to: renamed over ``path`` when the block completes, removed when
    it fails (so ``path`` is either left as it was or replaced whole). Missing folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_beside(path)
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


class EmbeddingWriter:
    """Writes ``(n, D)`` chunks of embeddings as they come: ``.npy`` (needs the total row count up front),
    ``.parquet`` (columns ``id``, ``embedding``: a fixed-size list) or ``.jsonl`` (``{"id", "embedding"}``).

    The chunks go to a hidden file beside ``path`` (:func:`temporary_beside`), renamed to ``path`` by a
    successful :meth:`close`: until then an existing ``path`` is untouched, and a failure leaves nothing behind.
    """

    def __init__(self, path: Path, total: int | None = None) -> None:
        self.path = path
        self.suffix = path.suffix.lower()
        if self.suffix not in OUTPUT_TYPES:
            raise ValueError(f"{path}: unsupported output type {self.suffix!r}; use one of {', '.join(OUTPUT_TYPES)}")
        if self.suffix == ".npy" and total is None:
            raise ValueError("writing .npy needs the total number of rows")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = temporary_beside(path)
        self.total = total
        self.rows = 0
        # the open output (by the first chunk), one of the three
        self._npy: BinaryIO | None = None
        self._jsonl: TextIO | None = None
        self._parquet: pq.ParquetWriter | None = None

    def write(self, chunk: np.ndarray) -> None:
        """Append one chunk."""
        if self.suffix == ".npy":
            self._write_npy(chunk)
        elif self.suffix == ".jsonl":
            self._write_jsonl(chunk)
        else:
            self._write_parquet(chunk)
        self.rows += len(chunk)

    def _write_npy(self, chunk: np.ndarray) -> None:
        if self._npy is None:  # header for the final shape, then rows appended as raw bytes (flat memory)
            self._npy = open(self._partial, "wb")  # noqa: SIM115 (closed in close())
            header = {"descr": np.lib.format.dtype_to_descr(chunk.dtype), "fortran_order": False}
            np.lib.format.write_array_header_1_0(self._npy, {**header, "shape": (self.total, *chunk.shape[1:])})
        self._npy.write(np.ascontiguousarray(chunk).tobytes())

    def _write_jsonl(self, chunk: np.ndarray) -> None:
        if self._jsonl is None:
            self._jsonl = open(self._partial, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        for i, vec in enumerate(chunk):
            self._jsonl.write(json.dumps({"id": self.rows + i, "embedding": vec.tolist()}) + "\n")

    def _write_parquet(self, chunk: np.ndarray) -> None:
        table = _parquet_table(chunk, self.rows)
        if self._parquet is None:
            from sentvec._extras import require

            parquet = require("pyarrow.parquet", "Writing .parquet")
            self._parquet = parquet.ParquetWriter(str(self._partial), table.schema)
        self._parquet.write_table(table)

    def close(self) -> None:
        """Flush, close and put the file in place; a ``.npy`` whose row count fell short of the announced total
        is an error (and nothing is written)."""
        self._close(complete=True)

    def _close(self, complete: bool) -> None:
        sinks = [sink for sink in (self._npy, self._jsonl, self._parquet) if sink is not None]
        if not sinks:
            return
        self._npy = self._jsonl = self._parquet = None
        try:
            for sink in sinks:
                sink.close()
        except BaseException:
            self._partial.unlink(missing_ok=True)
            raise
        short = self.suffix == ".npy" and self.rows != self.total  # its header announces rows that never came
        if not complete or short:
            self._partial.unlink(missing_ok=True)
            if complete:
                raise ValueError(f"{self.path}: wrote {self.rows} rows, announced {self.total}")
            return
        os.replace(self._partial, self.path)

    def __enter__(self) -> EmbeddingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Closes; when the block failed, the failure is what propagates (and no file is written)."""
        self._close(complete=exc_type is None)


def _parquet_table(embeddings: np.ndarray, first_id: int) -> pa.Table:
    from sentvec._extras import require

    pa = require("pyarrow", "Writing .parquet")
    n, dim = embeddings.shape
    flat = pa.array(np.ascontiguousarray(embeddings).reshape(-1), type=pa.from_numpy_dtype(embeddings.dtype))
    column = pa.FixedSizeListArray.from_arrays(flat, dim)
    return pa.table({"id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)), "embedding": column})

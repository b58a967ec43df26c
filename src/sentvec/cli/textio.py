"""Reading texts from and writing embeddings to the files the CLI accepts."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sentvec.errors import DataFormatError

INPUT_TYPES = (".txt", ".jsonl", ".csv", ".tsv")
OUTPUT_TYPES = (".npy", ".parquet", ".jsonl")


def read_texts(path: Path, *, field: str | None = None, column: str | None = None) -> Iterator[str]:
    """Texts from ``.txt`` (one per line), ``.jsonl`` (``field``) or ``.csv``/``.tsv`` (``column``: a header
    name, or a 0-based index for headerless files)."""
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
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\r\n")


def _jsonl(path: Path, field: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        for line, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise DataFormatError(path, line, f"malformed JSON: {e.msg}") from e
            if not isinstance(obj, dict) or field not in obj:
                raise DataFormatError(path, line, "missing field", field)
            if not isinstance(obj[field], str):
                raise DataFormatError(path, line, f"expected text, got {type(obj[field]).__name__}", field)
            yield obj[field]


def _delimited(path: Path, column: str, delimiter: str) -> Iterator[str]:
    with open(path, encoding="utf-8", newline="") as f:
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


def write_embeddings(path: Path, embeddings: np.ndarray, texts: list[str] | None = None) -> None:
    """Write ``(N, D)`` embeddings as ``.npy``, ``.parquet`` (columns ``id``, ``embedding``) or ``.jsonl``."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_TYPES:
        raise ValueError(f"{path}: unsupported output type {suffix!r}; use one of {', '.join(OUTPUT_TYPES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(path, embeddings)
    elif suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for i, vec in enumerate(embeddings):
                f.write(json.dumps({"id": i, "embedding": vec.tolist()}) + "\n")
    else:
        _write_parquet(path, embeddings)


def _write_parquet(path: Path, embeddings: np.ndarray) -> None:
    from sentvec._extras import require

    pa = require("pyarrow", "Writing .parquet")
    pq = require("pyarrow.parquet", "Writing .parquet")
    n, dim = embeddings.shape
    value_type = pa.from_numpy_dtype(embeddings.dtype)
    flat = pa.array(np.ascontiguousarray(embeddings).reshape(-1), type=value_type)
    column = pa.FixedSizeListArray.from_arrays(flat, dim)
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "embedding": column})
    pq.write_table(table, str(path))

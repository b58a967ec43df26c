"""The SQLite half of an index folder: documents, their float32 vectors, the config and the ANN watermark.

One file, ``index.sqlite``, in WAL mode with ``synchronous=FULL``:

- ``documents(key INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, text, metadata JSON, vector BLOB)``: the
  float32 vector lives in the same row as its document, so a committed batch holds documents and vectors together
  (nothing to reconcile after a crash), and WAL gives every reader a consistent snapshot of both. ``key`` is the
  ANN label; AUTOINCREMENT never reuses a key, so "keys above the ANN file's last key" are exactly the rows the
  file lacks.
- ``tombstones(seq, key)``: keys deleted since the ANN file was last written (pruned when it is rewritten).
- ``ann_state``: the ANN file in use and what it covers (``last_key``, ``tomb_seq``), switched in one commit.
- ``config``: JSON values (model, fingerprint, dimension, similarity, precision, int8 ranges, ...), one row per
  field of :class:`~sentvec.search.index.config.IndexConfig`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import numpy as np

from sentvec.errors import DataFormatError, SentvecError

DB_FILE = "index.sqlite"
LOCK_FILE = "write.lock"
SQL_CHUNK = 500  # ids or keys bound per statement (below every SQLite variable limit)

# A JSON value: document metadata and the config's values.
JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
Metadata: TypeAlias = Mapping[str, JSONValue]
# An SQLite row: its columns' types are fixed by SCHEMA, which the type checker cannot see.
Row: TypeAlias = tuple[Any, ...]
SQLParam: TypeAlias = str | int | float | bytes | None
_T = TypeVar("_T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (seq INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ann_state (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    file TEXT NOT NULL,
    last_key INTEGER NOT NULL,
    tomb_seq INTEGER NOT NULL
);
"""


class SemanticIndexError(SentvecError):
    """Base class of the errors of :mod:`sentvec.search.index`."""


class IndexFormatError(SemanticIndexError, ValueError):
    """The folder is not an index, or its files are malformed; the message names the path."""


class IndexModelMismatchError(SemanticIndexError, ValueError):
    """The model given does not match the model the index was built with; the message names both."""

    def __init__(self, path: object, index_model: str, index_fp: str, given_model: str, given_fp: str) -> None:
        self.index_model, self.given_model = index_model, given_model
        super().__init__(
            f"{path}: the index was built with model {index_model!r} (fingerprint {index_fp[:12]}), but the model "
            f"given is {given_model!r} (fingerprint {given_fp[:12]}); open it with the index's model or rebuild it"
        )


class ReadOnlyIndexError(SemanticIndexError, PermissionError):
    """A write was attempted on an index opened with ``read_only=True``."""


class IndexLockedError(SemanticIndexError, OSError):
    """Another process (or object) holds the index open for writing."""


@dataclasses.dataclass(frozen=True)
class AnnState:
    """The ANN file in use and what it covers: every key ``<= last_key`` added, every tombstone ``<= tomb_seq``
    removed."""

    file: str
    last_key: int
    tomb_seq: int


# --- metadata filters --------------------------------------------------------------------------------------------


def _same(a: JSONValue, b: JSONValue) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def matches(metadata: Metadata, where: Metadata) -> bool:
    """Whether ``metadata`` equals ``where`` on every field (a missing field equals ``None``; ``True`` != 1)."""
    return all(_same(metadata.get(field), value) for field, value in where.items())


def _sql_filter(where: Metadata) -> tuple[str, list[SQLParam]]:
    """A WHERE clause narrowing to candidates of a filter (scalar fields only; :func:`matches` decides)."""
    clauses: list[str] = []
    params: list[SQLParam] = []
    for field, value in where.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or '"' in field:
            continue
        clauses.append("json_extract(metadata, ?) = ?")
        params.extend([f'$."{field}"', value])
    return (" AND ".join(clauses) or "1"), params


# --- the store ---------------------------------------------------------------------------------------------------


class DocumentStore:
    """The SQLite database of an index folder. Thread-safe (one connection behind a lock).

    Writes run in :meth:`write` (``BEGIN IMMEDIATE`` ... ``COMMIT``); a group of reads that must see one state
    runs in :meth:`snapshot`.
    """

    def __init__(self, folder: Path, *, create: bool = False) -> None:
        self.path = folder / DB_FILE
        if not create and not self.path.is_file():
            raise IndexFormatError(f"{folder}: not an index folder (no {DB_FILE})")
        # timeout: SQLite's busy timeout, how long a statement waits for another connection's lock
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0)
        self._lock = threading.RLock()
        self._depth = 0
        if create:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(SCHEMA)
        self._conn.execute("PRAGMA synchronous = FULL")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every query inside sees the same committed state (re-entrant)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN")
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction, committed (durably) on success, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def _query(self, sql: str, params: Sequence[SQLParam] = ()) -> list[Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # --- config --------------------------------------------------------------------------------------------------
    def config(self) -> dict[str, JSONValue]:
        """Every config value, as stored (read with :meth:`~sentvec.search.index.config.IndexConfig.from_json`)."""
        return {key: json.loads(value) for key, value in self._query("SELECT key, value FROM config")}

    def set_config(self, values: Mapping[str, JSONValue]) -> None:
        """Insert or replace config values (inside a write transaction)."""
        rows = [(key, json.dumps(value)) for key, value in values.items()]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO config (key, value) VALUES (?, ?)", rows)

    # --- documents -----------------------------------------------------------------------------------------------
    def count(self, after: int = 0) -> int:
        """Number of documents (with key ``> after``)."""
        return int(self._query("SELECT count(*) FROM documents WHERE key > ?", [after])[0][0])

    def max_key(self) -> int:
        """The largest key ever used (0 when none), deleted rows included."""
        return self._sequence("documents")

    def _select_in(self, sql: str, values: Sequence[SQLParam]) -> list[Row]:
        """Rows of ``sql`` (with one ``IN ({marks})``) for all ``values``, asked ``SQL_CHUNK`` values at a time
        (SQLite caps the number of parameters of one statement)."""
        found: list[Row] = []
        for chunk in _chunks(values):
            found += self._query(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return found

    def keys_of(self, ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """``{id: (key, text)}`` of the given ids that are stored."""
        rows = self._select_in("SELECT id, key, text FROM documents WHERE id IN ({marks})", list(ids))
        return {doc_id: (int(key), text) for doc_id, key, text in rows}

    def insert(self, doc_id: str, text: str, metadata: Metadata, vector: np.ndarray) -> int:
        """Insert one document (inside a write transaction); returns its new key."""
        blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO documents (id, text, metadata, vector) VALUES (?, ?, ?, ?)",
                (doc_id, text, json.dumps(dict(metadata), ensure_ascii=False), blob),
            )
            return int(cur.lastrowid or 0)

    def set_metadata(self, key: int, metadata: Metadata) -> None:
        """Replace one document's metadata (inside a write transaction)."""
        with self._lock:
            self._conn.execute(
                "UPDATE documents SET metadata = ? WHERE key = ?", (json.dumps(dict(metadata), ensure_ascii=False), key)
            )

    def delete_keys(self, keys: Sequence[int]) -> None:
        """Delete documents and record tombstones for the ANN file (inside a write transaction)."""
        with self._lock:
            for chunk in _chunks(keys):
                self._conn.execute(f"DELETE FROM documents WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            self._conn.executemany("INSERT INTO tombstones (key) VALUES (?)", [(k,) for k in keys])

    def get(self, doc_id: str) -> Document | None:
        """One document by id."""
        rows = self._query("SELECT id, text, metadata FROM documents WHERE id = ?", (doc_id,))
        return _document(rows[0]) if rows else None

    def documents(self, keys: Sequence[int] | np.ndarray) -> dict[int, Document]:
        """``{key: Document}`` of the given keys that are stored."""
        sql = "SELECT key, id, text, metadata FROM documents WHERE key IN ({marks})"
        return {int(raw[0]): _document(raw[1:]) for raw in self._select_in(sql, [int(k) for k in keys])}

    def vectors(
        self, keys: Sequence[int] | np.ndarray, dimension: int
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, JSONValue]]]:
        """``(keys, (n, D) float32 vectors, metadata)`` of the given keys that are stored, by key ascending."""
        sql = "SELECT key, vector, metadata FROM documents WHERE key IN ({marks})"
        found = self._select_in(sql, [int(k) for k in keys])
        found.sort(key=lambda r: r[0])
        return (*_unpack(found, dimension), [json.loads(r[2]) for r in found])

    def iter_vectors(
        self, dimension: int, *, after: int = 0, where: Metadata | None = None, chunk: int = 50000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stream ``(keys, vectors)`` chunks of the documents with key ``> after`` (by key ascending) that match
        ``where`` (metadata is only read with a filter)."""
        clause, params = _sql_filter(where or {})
        meta = "metadata" if where else "'{}'"
        sql = f"SELECT key, vector, {meta} FROM documents WHERE key > ? AND {clause} ORDER BY key LIMIT ?"
        last = after
        while True:
            found = self._query(sql, [last, *params, chunk])
            if not found:
                return
            last, complete = int(found[-1][0]), len(found) < chunk
            if where:
                found = [r for r in found if matches(json.loads(r[2]), where)]
            yield _unpack(found, dimension)
            if complete:
                return

    # --- ANN bookkeeping -----------------------------------------------------------------------------------------
    def ann_state(self) -> AnnState | None:
        """The ANN file in use, or None when none was written yet."""
        rows = self._query("SELECT file, last_key, tomb_seq FROM ann_state WHERE one = 1")
        return AnnState(rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else None

    def set_ann_state(self, state: AnnState) -> None:
        """Point at a new ANN file and drop the tombstones it covers (inside a write transaction)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO ann_state (one, file, last_key, tomb_seq) VALUES (1, ?, ?, ?)",
                (state.file, state.last_key, state.tomb_seq),
            )
            self._conn.execute("DELETE FROM tombstones WHERE seq <= ?", (state.tomb_seq,))

    def tombstones(self, after: int) -> tuple[list[int], int]:
        """Keys deleted after tombstone ``after`` and the last tombstone's number (``after`` when none)."""
        rows = self._query("SELECT seq, key FROM tombstones WHERE seq > ? ORDER BY seq", (after,))
        return [int(k) for _, k in rows], (int(rows[-1][0]) if rows else after)

    def last_tombstone(self) -> int:
        """The number of the last tombstone ever written (0 when none)."""
        return self._sequence("tombstones")

    def _sequence(self, table: str) -> int:
        """The last AUTOINCREMENT number ``table`` handed out (0 when none)."""
        row = self._query("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
        return int(row[0][0]) if row else 0


def _chunks(values: Sequence[_T]) -> Iterator[list[_T]]:
    """``values`` in lists of at most ``SQL_CHUNK`` (SQLite caps the parameters of one statement)."""
    for start in range(0, len(values), SQL_CHUNK):
        yield list(values[start : start + SQL_CHUNK])


def _document(raw: Row) -> Document:
    return Document(raw[0], raw[1], json.loads(raw[2]))


def _unpack(found: Sequence[Row], dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys and the ``(n, D)`` float32 matrix of ``(key, vector blob, ...)`` rows."""
    keys = np.fromiter((int(r[0]) for r in found), dtype=np.int64, count=len(found))
    matrix = np.frombuffer(b"".join(r[1] for r in found), dtype=np.float32).reshape(len(found), dimension)
    return keys, matrix


# --- documents, config and lock helpers -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Document:
    """One stored document."""

    id: str
    text: str
    metadata: Metadata


def text_id(text: str) -> str:
    """The id given to a document passed as a bare string: the first 16 hex digits of its text's sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_doc(doc: object, n: int) -> Document:
    """The document at position ``n`` of an input: a dict ``{"id", "text", "metadata"?}`` or a string."""
    where = f"document {n}"
    if isinstance(doc, str):
        return Document(text_id(doc), doc, {})
    if not isinstance(doc, Mapping):
        raise DataFormatError(where, None, f"expected a dict or a string, got {type(doc).__name__}")
    for field in ("id", "text"):
        if field not in doc:
            raise DataFormatError(where, None, "missing field", field)
    raw_id = doc["id"]
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or raw_id == "":
        raise DataFormatError(where, None, f"expected a non-empty string id, got {raw_id!r}", "id")
    if not isinstance(doc["text"], str):
        raise DataFormatError(where, None, f"expected text, got {type(doc['text']).__name__}", "text")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise DataFormatError(where, None, f"expected an object, got {type(metadata).__name__}", "metadata")
    try:
        json.dumps(dict(metadata))
    except (TypeError, ValueError) as e:
        raise DataFormatError(where, None, f"not JSON-serializable: {e}", "metadata") from None
    return Document(str(raw_id), doc["text"], dict(metadata))


def acquire_lock(folder: Path) -> int:
    """Take the folder's exclusive write lock (released by the OS if the process dies)."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise IndexLockedError(
            f"{folder}: the index is open for writing elsewhere; open it with read_only=True to search it"
        ) from None
    return fd


def release_lock(fd: int | None) -> None:
    """Release a lock taken by :func:`acquire_lock` (None: nothing)."""
    if fd is not None:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    """Remove a file, ignoring failures."""
    with contextlib.suppress(OSError):  # a reader on Windows may still map it: a later writer's open removes it
        path.unlink()


def batched(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Lists of ``size`` items (the last one shorter), drawn lazily from ``items``."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk

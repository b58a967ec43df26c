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
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import numpy as np

from sentvec.errors import DataFormatError, SentvecError

logger = logging.getLogger(__name__)

DB_FILE = "index.sqlite"
LOCK_FILE = "write.lock"
SQL_CHUNK = 500  # ids or keys bound per statement (below every SQLite variable limit)
MAX_JSON_DEPTH = 100  # nesting of metadata values (SQLite's JSON functions refuse deeper documents)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # the integers SQLite holds exactly

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


# --- strict JSON values ------------------------------------------------------------------------------------------


class NotStrictJSON(ValueError):
    """A value that is not strict JSON (what SQLite's JSON functions read): ``path`` names where, ``wrong_type``
    whether its type is the problem (a set, bytes, an object, a non-string key) rather than its value (NaN, an
    integer beyond 64 bits, a lone surrogate, too deep a nesting)."""

    def __init__(self, path: str, problem: str, *, wrong_type: bool) -> None:
        self.path, self.problem, self.wrong_type = path, problem, wrong_type
        super().__init__(f"{path}: {problem}")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _check_text(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NotStrictJSON(
            path, f"not valid Unicode (a lone surrogate at position {e.start})", wrong_type=False
        ) from None


def strict_json(value: object, path: str, depth: int = 0) -> JSONValue:
    """``value`` as strict JSON: objects with string keys, arrays (lists or tuples, returned as lists), strings,
    finite numbers (integers within 64 bits, numpy scalars as Python ones), booleans and None.

    Python's ``json`` writes ``NaN`` and ``Infinity`` and turns non-string keys into strings, but SQLite's JSON
    functions refuse the former (one such row breaks every filtered search over it) and the latter would not read
    back as written, so both are refused here: :class:`NotStrictJSON` names the path (``metadata.tags[2]``).
    """
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_text(value, path)
        return str(value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise NotStrictJSON(path, f"the integer {value} does not fit in 64 bits (SQLite's range)", wrong_type=False)
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotStrictJSON(path, f"{value} is not valid JSON (only finite numbers are)", wrong_type=False)
        return float(value)
    if isinstance(value, (Mapping, list, tuple)):
        return _strict_container(value, path, depth)
    raise NotStrictJSON(path, f"{type(value).__name__} is not a JSON value", wrong_type=True)


def _strict_container(
    value: Mapping[object, object] | list[object] | tuple[object, ...], path: str, depth: int
) -> JSONValue:
    """:func:`strict_json` of an object or an array."""
    if depth >= MAX_JSON_DEPTH:
        raise NotStrictJSON(path, f"nested deeper than {MAX_JSON_DEPTH} levels", wrong_type=False)
    if not isinstance(value, Mapping):
        return [strict_json(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    out: dict[str, JSONValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise NotStrictJSON(
                path, f"the key {key!r} is {type(key).__name__}; JSON object keys must be strings", wrong_type=True
            )
        _check_text(key, path)
        out[str(key)] = strict_json(item, _child(path, key), depth + 1)
    return out


def parse_filter(where: object) -> dict[str, JSONValue]:
    """A search filter checked: a mapping of metadata field names to strict JSON values (:func:`strict_json`).

    Raises ``TypeError`` (not a mapping, a non-string field, a value of a non-JSON type) or ``ValueError`` (NaN,
    an integer beyond 64 bits, ...), naming ``filter`` and the field.
    """
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise TypeError(f"filter must be a mapping of metadata field names to values, got {type(where).__name__}")
    checked: dict[str, JSONValue] = {}
    for field, value in where.items():
        if not isinstance(field, str):
            raise TypeError(f"filter: field names must be strings, got {field!r} ({type(field).__name__})")
        try:
            checked[field] = strict_json(value, f"filter[{field!r}]")
        except NotStrictJSON as e:
            raise (TypeError if e.wrong_type else ValueError)(str(e)) from None
    return checked


# --- metadata filters --------------------------------------------------------------------------------------------


def _same(a: JSONValue, b: JSONValue) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def matches(metadata: Metadata, where: Metadata) -> bool:
    """Whether ``metadata`` equals ``where`` on every field (a missing field equals ``None``; ``True`` != 1)."""
    return all(_same(metadata.get(field), value) for field, value in where.items())


def _sql_filter(where: Metadata) -> tuple[str, list[SQLParam]]:
    """A WHERE clause narrowing to candidates of a filter (:func:`matches` decides).

    Only fields SQLite compares exactly take part: scalar values (not booleans), field names that JSON writes as
    they are (SQLite's path finds no key stored with escapes: ``"``, ``\\``, control characters) and strings
    without NUL (SQLite's text comparison stops at it); the others are checked in Python only."""
    clauses: list[str] = []
    params: list[SQLParam] = []
    for field, value in where.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        if json.dumps(field, ensure_ascii=False)[1:-1] != field or (isinstance(value, str) and "\x00" in value):
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
        # False once a row's metadata turned out not to be strict JSON (written by an older sentvec): filters are
        # then checked in Python only (SQLite's json_extract fails on the whole query over such a row)
        self._sql_filters = True
        try:
            with self._guard():
                if create:
                    self._conn.execute("PRAGMA journal_mode = WAL")
                    self._conn.executescript(SCHEMA)
                self._conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """SQLite's errors for a damaged or foreign database file as :class:`IndexFormatError` naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            if _damaged(e):
                raise IndexFormatError(f"{self.path}: not a readable index database ({e})") from e
            raise

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
            with self._guard():
                self._conn.execute("BEGIN")
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                with self._guard():
                    self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction, committed (durably) on success, rolled back on error."""
        with self._lock:
            with self._guard():
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # a damaged file may fail this too: report the first error
                    self._conn.execute("ROLLBACK")
                raise
            else:
                with self._guard():
                    self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def _query(self, sql: str, params: Sequence[SQLParam] = ()) -> list[Row]:
        with self._lock, self._guard():
            return self._conn.execute(sql, params).fetchall()

    def _execute(self, sql: str, params: Sequence[SQLParam] = ()) -> sqlite3.Cursor:
        with self._lock, self._guard():
            return self._conn.execute(sql, params)

    def _execute_many(self, sql: str, rows: Iterable[Sequence[SQLParam]]) -> None:
        with self._lock, self._guard():
            self._conn.executemany(sql, rows)

    def _json(self, text: str, what: str) -> JSONValue:
        """A stored JSON value (metadata or config); unparsable text is an :class:`IndexFormatError`."""
        try:
            value: JSONValue = json.loads(text)
        except (TypeError, ValueError, RecursionError) as e:
            raise IndexFormatError(f"{self.path}: malformed JSON in {what}: {e}") from None
        return value

    def _metadata(self, text: str, key: int) -> dict[str, JSONValue]:
        value = self._json(text, f"the metadata of document key {key}")
        if not isinstance(value, dict):
            raise IndexFormatError(f"{self.path}: the metadata of document key {key} is not a JSON object")
        return value

    # --- config --------------------------------------------------------------------------------------------------
    def config(self) -> dict[str, JSONValue]:
        """Every config value, as stored (read with :meth:`~sentvec.search.index.config.IndexConfig.from_json`)."""
        rows = self._query("SELECT key, value FROM config")
        return {key: self._json(value, f"config value {key!r}") for key, value in rows}

    def set_config(self, values: Mapping[str, JSONValue]) -> None:
        """Insert or replace config values (inside a write transaction)."""
        rows = [(key, json.dumps(value)) for key, value in values.items()]
        self._execute_many("INSERT OR REPLACE INTO config (key, value) VALUES (?, ?)", rows)

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
        cur = self._execute(
            "INSERT INTO documents (id, text, metadata, vector) VALUES (?, ?, ?, ?)",
            (doc_id, text, _dump_metadata(metadata), blob),
        )
        return int(cur.lastrowid or 0)

    def set_metadata(self, key: int, metadata: Metadata) -> None:
        """Replace one document's metadata (inside a write transaction)."""
        self._execute("UPDATE documents SET metadata = ? WHERE key = ?", (_dump_metadata(metadata), key))

    def delete_keys(self, keys: Sequence[int]) -> None:
        """Delete documents and record tombstones for the ANN file (inside a write transaction)."""
        with self._lock:
            for chunk in _chunks(keys):
                self._execute(f"DELETE FROM documents WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            self._execute_many("INSERT INTO tombstones (key) VALUES (?)", [(k,) for k in keys])

    def get(self, doc_id: str) -> Document | None:
        """One document by id."""
        rows = self._query("SELECT key, id, text, metadata FROM documents WHERE id = ?", (doc_id,))
        return self._document(rows[0]) if rows else None

    def documents(self, keys: Sequence[int] | np.ndarray) -> dict[int, Document]:
        """``{key: Document}`` of the given keys that are stored."""
        sql = "SELECT key, id, text, metadata FROM documents WHERE key IN ({marks})"
        return {int(raw[0]): self._document(raw) for raw in self._select_in(sql, [int(k) for k in keys])}

    def _document(self, raw: Row) -> Document:
        """A ``(key, id, text, metadata)`` row."""
        return Document(raw[1], raw[2], self._metadata(raw[3], int(raw[0])))

    def vectors(
        self, keys: Sequence[int] | np.ndarray, dimension: int
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, JSONValue]]]:
        """``(keys, (n, D) float32 vectors, metadata)`` of the given keys that are stored, by key ascending."""
        sql = "SELECT key, vector, metadata FROM documents WHERE key IN ({marks})"
        found = self._select_in(sql, [int(k) for k in keys])
        found.sort(key=lambda r: r[0])
        return (*_unpack(found, dimension), [self._metadata(r[2], int(r[0])) for r in found])

    def iter_vectors(
        self, dimension: int, *, after: int = 0, where: Metadata | None = None, chunk: int = 50000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stream ``(keys, vectors)`` chunks of the documents with key ``> after`` (by key ascending) that match
        ``where`` (metadata is only read with a filter)."""
        last = after
        while True:
            clause, params = _sql_filter(where or {}) if self._sql_filters else ("1", [])
            meta = "metadata" if where else "'{}'"
            sql = f"SELECT key, vector, {meta} FROM documents WHERE key > ? AND {clause} ORDER BY key LIMIT ?"
            try:
                found = self._query(sql, [last, *params, chunk])
            except sqlite3.OperationalError as e:
                if "malformed JSON" not in str(e) or not params:
                    raise
                self._filter_in_python()
                continue
            if not found:
                return
            last, complete = int(found[-1][0]), len(found) < chunk
            if where:
                found = [r for r in found if matches(self._metadata(r[2], int(r[0])), where)]
            yield _unpack(found, dimension)
            if complete:
                return

    def _filter_in_python(self) -> None:
        """Stop narrowing filters in SQL: some row's metadata is not strict JSON (``NaN``, ``Infinity``), which
        only an older sentvec wrote. Python reads those rows as written, so results stay exact, only slower."""
        self._sql_filters = False
        bad = [doc_id for (doc_id,) in self._query("SELECT id FROM documents WHERE NOT json_valid(metadata) LIMIT 5")]
        logger.warning(
            "%s: the metadata of some documents is not strict JSON (e.g. ids %s; NaN or Infinity, written by an "
            "older sentvec): filters are checked in Python for this index, which is slower; rewrite those "
            "documents' metadata with Index.update to fix it",
            self.path,
            ", ".join(map(repr, bad)),
        )

    # --- ANN bookkeeping -----------------------------------------------------------------------------------------
    def ann_state(self) -> AnnState | None:
        """The ANN file in use, or None when none was written yet."""
        rows = self._query("SELECT file, last_key, tomb_seq FROM ann_state WHERE one = 1")
        return AnnState(rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else None

    def set_ann_state(self, state: AnnState) -> None:
        """Point at a new ANN file and drop the tombstones it covers (inside a write transaction)."""
        with self._lock:
            self._execute(
                "INSERT OR REPLACE INTO ann_state (one, file, last_key, tomb_seq) VALUES (1, ?, ?, ?)",
                (state.file, state.last_key, state.tomb_seq),
            )
            self._execute("DELETE FROM tombstones WHERE seq <= ?", (state.tomb_seq,))

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


def _damaged(error: sqlite3.DatabaseError) -> bool:
    """Whether an SQLite error says the file is damaged or not an index (not busy, locked or out of space)."""
    if getattr(error, "sqlite_errorname", None) in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return True
    if type(error) is sqlite3.DatabaseError:
        return True
    return isinstance(error, sqlite3.OperationalError) and str(error).startswith(("no such table", "no such column"))


def _dump_metadata(metadata: Metadata) -> str:
    """Metadata as stored: strict JSON (``allow_nan=False``; :func:`parse_doc` has checked it)."""
    return json.dumps(dict(metadata), ensure_ascii=False, allow_nan=False)


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
    """The document at position ``n`` of an input: a dict ``{"id", "text", "metadata"?}`` or a string.

    Metadata must be strict JSON (:func:`strict_json`); a :class:`~sentvec.errors.DataFormatError` names the
    document (position and id) and the field path (``metadata.scores[1]``)."""
    where = f"document {n}"
    if isinstance(doc, str):
        _check_doc_text(doc, where, "text")
        return Document(text_id(doc), doc, {})
    if not isinstance(doc, Mapping):
        raise DataFormatError(where, None, f"expected a dict or a string, got {type(doc).__name__}")
    for field in ("id", "text"):
        if field not in doc:
            raise DataFormatError(where, None, "missing field", field)
    raw_id = doc["id"]
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or raw_id == "":
        raise DataFormatError(where, None, f"expected a non-empty string id, got {raw_id!r}", "id")
    doc_id = str(raw_id)
    _check_doc_text(doc_id, where, "id")
    where = f"document {n} (id {doc_id!r})"
    text = doc["text"]
    if not isinstance(text, str):
        raise DataFormatError(where, None, f"expected text, got {type(text).__name__}", "text")
    _check_doc_text(text, where, "text")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise DataFormatError(where, None, f"expected an object, got {type(metadata).__name__}", "metadata")
    try:
        checked = strict_json(metadata, "metadata")
    except NotStrictJSON as e:
        raise DataFormatError(where, None, e.problem, e.path) from None
    assert isinstance(checked, dict)
    return Document(doc_id, text, checked)


def _check_doc_text(value: str, where: str, field: str) -> None:
    try:
        _check_text(value, field)
    except NotStrictJSON as e:
        raise DataFormatError(where, None, e.problem, field) from None


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

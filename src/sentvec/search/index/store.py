"""The SQLite half of an index folder: documents, their float32 vectors, the config and the ANN watermark.

One file, ``index.sqlite``, in WAL mode with ``synchronous=FULL``:

- ``documents(key INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, text, metadata JSON, vector BLOB, title,
  lexical_title, lexical_text)``: the float32 vector lives in the same row as its document, so a committed batch
  holds documents and vectors together (nothing to reconcile after a crash), and WAL gives every reader a
  consistent snapshot of both. ``key`` is the ANN label; AUTOINCREMENT never reuses a key, so "keys above the ANN
  file's last key" are exactly the rows the file lacks. ``title`` (optional) and the two term lists of lexical
  search (:mod:`sentvec.search.index.lexical`) came later: folders written before lack them and open unchanged;
  they are added (``ALTER TABLE``, NULL for the rows already there) when a titled document or a lexical index first
  needs them.
- ``lexical`` (FTS5, external content on ``documents``) and the triggers that fill it, in indexes with lexical
  search.
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
import os
import sqlite3
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import numpy as np

from sentvec.errors import DataFormatError, SentvecError
from sentvec.search.index.values import (
    JSONValue,
    Metadata,
    NotStrictJSON,
    SQLParam,
    _check_text,
    _sql_filter,
    matches,
    strict_json,
)

logger = logging.getLogger(__name__)

DB_FILE = "index.sqlite"
LOCK_FILE = "write.lock"
SQL_CHUNK = 500  # ids or keys bound per statement (below every SQLite variable limit)

# An SQLite row: its columns' types are fixed by SCHEMA, which the type checker cannot see.
Row: TypeAlias = tuple[Any, ...]
_T = TypeVar("_T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL,
    title TEXT,
    lexical_title TEXT,
    lexical_text TEXT
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
            self.columns = self._columns()
        except BaseException:
            self._conn.close()
            raise

    def _columns(self) -> frozenset[str]:
        """The columns of ``documents`` (those of older folders lack ``title`` and the lexical terms)."""
        return frozenset(str(row[1]) for row in self._query("PRAGMA table_info(documents)"))

    def add_columns(self, names: Iterable[str]) -> None:
        """Add the optional (nullable text) columns ``documents`` lacks (inside a write transaction)."""
        with self._lock:
            for name in names:
                if name not in self.columns:
                    if name not in _OPTIONAL_COLUMNS:
                        raise ValueError(f"not an optional documents column: {name!r}")
                    self._execute(f"ALTER TABLE documents ADD COLUMN {name} TEXT")
            self.columns = self._columns()

    def execute_all(self, statements: Iterable[str]) -> None:
        """Run fixed SQL statements (inside a write transaction)."""
        for sql in statements:
            self._execute(sql)

    def rows(self, sql: str, params: Sequence[SQLParam] = (), size: int = 1000) -> Generator[list[Row], None, None]:
        """The rows of a query, ``size`` at a time (damage reported as :class:`IndexFormatError`)."""
        with self._lock, self._guard():
            cursor = self._conn.execute(sql, params)
            while batch := cursor.fetchmany(size):
                yield batch

    def sql_filter(self, where: Metadata) -> tuple[str, list[SQLParam]]:
        """A WHERE clause (on ``metadata``) narrowing to the candidates of a filter, :func:`matches` to decide;
        ``("1", [])`` once this index turned out to hold metadata SQLite cannot read (see :meth:`filter_failed`)."""
        return _sql_filter(where) if self._sql_filters else ("1", [])

    def filter_failed(self, error: sqlite3.OperationalError, params: Sequence[SQLParam]) -> None:
        """Re-raise ``error`` unless it is SQLite refusing malformed metadata JSON in a filter with ``params``;
        then filter in Python from now on (the caller retries)."""
        if "malformed JSON" not in str(error) or not params:
            raise error
        self._filter_in_python()

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

    def _title(self) -> str:
        """The title column in a SELECT (NULL in folders written before titles)."""
        return "title" if "title" in self.columns else "NULL"

    def keys_of(self, ids: Iterable[str]) -> dict[str, tuple[int, str, str | None]]:
        """``{id: (key, text, title)}`` of the given ids that are stored."""
        sql = f"SELECT id, key, text, {self._title()} FROM documents WHERE id IN ({{marks}})"
        return {doc_id: (int(key), text, title) for doc_id, key, text, title in self._select_in(sql, list(ids))}

    def insert(
        self,
        doc: Document,
        vector: np.ndarray,
        terms: tuple[str | None, str | None] | None = None,
    ) -> int:
        """Insert one document with its vector and, for lexical search, the term lists of its title and text
        (inside a write transaction; the columns they need exist: :meth:`add_columns`); returns its new key."""
        names = ["id", "text", "metadata", "vector"]
        values: list[SQLParam] = [doc.id, doc.text, _dump_metadata(doc.metadata)]
        values.append(np.ascontiguousarray(vector, dtype=np.float32).tobytes())
        if doc.title is not None:
            names.append("title")
            values.append(doc.title)
        if terms is not None:
            names += ["lexical_title", "lexical_text"]
            values += list(terms)
        marks = ", ".join("?" * len(names))
        cur = self._execute(f"INSERT INTO documents ({', '.join(names)}) VALUES ({marks})", values)
        return int(cur.lastrowid or 0)

    def texts(self, after: int, limit: int) -> list[tuple[int, str | None, str]]:
        """``(key, title, text)`` of up to ``limit`` documents with key ``> after``, by key."""
        sql = f"SELECT key, {self._title()}, text FROM documents WHERE key > ? ORDER BY key LIMIT ?"
        return [(int(key), title, text) for key, title, text in self._query(sql, (after, limit))]

    def set_terms(self, rows: Sequence[tuple[str | None, str | None, int]]) -> None:
        """Set ``(lexical_title, lexical_text, key)`` of documents (inside a write transaction)."""
        self._execute_many("UPDATE documents SET lexical_title = ?, lexical_text = ? WHERE key = ?", rows)

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
        rows = self._query(f"SELECT key, id, text, metadata, {self._title()} FROM documents WHERE id = ?", (doc_id,))
        return self._document(rows[0]) if rows else None

    def documents(self, keys: Sequence[int] | np.ndarray) -> dict[int, Document]:
        """``{key: Document}`` of the given keys that are stored."""
        sql = f"SELECT key, id, text, metadata, {self._title()} FROM documents WHERE key IN ({{marks}})"
        return {int(raw[0]): self._document(raw) for raw in self._select_in(sql, [int(k) for k in keys])}

    def _document(self, raw: Row) -> Document:
        """A ``(key, id, text, metadata, title)`` row."""
        return Document(raw[1], raw[2], self._metadata(raw[3], int(raw[0])), raw[4])

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
            clause, params = self.sql_filter(where or {})
            meta = "metadata" if where else "'{}'"
            sql = f"SELECT key, vector, {meta} FROM documents WHERE key > ? AND {clause} ORDER BY key LIMIT ?"
            try:
                found = self._query(sql, [last, *params, chunk])
            except sqlite3.OperationalError as e:
                self.filter_failed(e, params)
                continue
            if not found:
                return
            last, complete = int(found[-1][0]), len(found) < chunk
            if where:
                found = [r for r in found if matches(self._metadata(r[2], int(r[0])), where)]
            yield _unpack(found, dimension)
            if complete:
                return

    def metadata_of(self, text: str, key: int) -> dict[str, JSONValue]:
        """A stored metadata value read (an :class:`IndexFormatError` when it is no JSON object)."""
        return self._metadata(text, key)

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


_OPTIONAL_COLUMNS = ("title", "lexical_title", "lexical_text")


@dataclasses.dataclass(frozen=True)
class Document:
    """One stored document: its id, text, metadata and optional title.

    The model embeds :attr:`embedded_text` (the title, a space and the text, as BEIR and the reference library
    join them); lexical search weighs the title and the text apart.
    """

    id: str
    text: str
    metadata: Metadata
    title: str | None = None

    @property
    def embedded_text(self) -> str:
        """What the model encodes: ``title + " " + text`` (stripped) with a title, else the text."""
        return self.text if not self.title else f"{self.title} {self.text}".strip()


def text_id(text: str) -> str:
    """The id given to a document passed as a bare string: the first 16 hex digits of its text's sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_doc(doc: object, n: int) -> Document:
    """The document at position ``n`` of an input: a dict ``{"id", "text", "title"?, "metadata"?}`` or a string.

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
    title = doc.get("title")
    if title is not None:
        if not isinstance(title, str):
            raise DataFormatError(where, None, f"expected text or null, got {type(title).__name__}", "title")
        _check_doc_text(title, where, "title")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise DataFormatError(where, None, f"expected an object, got {type(metadata).__name__}", "metadata")
    try:
        checked = strict_json(metadata, "metadata")
    except NotStrictJSON as e:
        raise DataFormatError(where, None, e.problem, e.path) from None
    assert isinstance(checked, dict)
    return Document(doc_id, text, checked, title)


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

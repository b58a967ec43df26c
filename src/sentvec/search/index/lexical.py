"""The lexical half of an index: BM25 over its documents with SQLite FTS5, in the same database file.

Layout (see :mod:`sentvec.search.index.store`):

- ``documents`` holds, beside each document's ``title`` and ``text``, their *terms*: ``lexical_title`` and
  ``lexical_text``, the words of :mod:`sentvec.search.terms` joined by spaces (FTS5 cannot call a tokenizer written
  in Python, so texts are tokenized before they reach it).
- ``lexical`` is an FTS5 table with *external content* on ``documents`` (``content_rowid = key``): it holds only
  the inverted index of those two columns, tokenized by FTS5's ``ascii`` tokenizer, which splits the term lists
  back into exactly these terms.
- Triggers on ``documents`` insert a document's terms into ``lexical`` and delete them, inside the statement that
  writes the document: a batch's documents, vectors and terms are committed in one transaction, so a crash (even
  ``kill -9``) leaves every acknowledged document searchable both ways and none half-indexed.

Queries are tokenized the same way and searched as their distinct terms, each quoted and OR-ed
(:func:`match_expression`): FTS5's query syntax (``"``, ``-``, ``*``, ``NEAR``, ``OR``, ``AND``, ``NOT``, ``^``,
``:``, parentheses) never sees user text. Scores are FTS5's ``bm25()`` with the title and text weights of the
index's :class:`LexicalConfig`, negated (larger is better).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from sentvec.search.index.store import DocumentStore, IndexFormatError, JSONValue, SemanticIndexError
from sentvec.search.index.values import Metadata, SQLParam, matches
from sentvec.search.terms import DEFAULT_TOKENIZER, LexicalTokenizer, tokenizer_function

TABLE = "lexical"
TERMS_VERSION = 1  # how texts become terms (sentvec.search.terms); an index of another version needs a rebuild
LEXICAL_COLUMNS = ("title", "lexical_title", "lexical_text")  # the documents columns lexical search needs
TRIGGERS = ("documents_lexical_insert", "documents_lexical_delete", "documents_lexical_update")

_CREATE = (
    f"CREATE VIRTUAL TABLE {TABLE} USING fts5(lexical_title, lexical_text, content='documents', "
    "content_rowid='key', tokenize='ascii')",
    f"""CREATE TRIGGER documents_lexical_insert AFTER INSERT ON documents BEGIN
        INSERT INTO {TABLE} (rowid, lexical_title, lexical_text) VALUES (new.key, new.lexical_title, new.lexical_text);
    END""",
    f"""CREATE TRIGGER documents_lexical_delete AFTER DELETE ON documents BEGIN
        INSERT INTO {TABLE} ({TABLE}, rowid, lexical_title, lexical_text)
            VALUES ('delete', old.key, old.lexical_title, old.lexical_text);
    END""",
    f"""CREATE TRIGGER documents_lexical_update AFTER UPDATE OF lexical_title, lexical_text ON documents BEGIN
        INSERT INTO {TABLE} ({TABLE}, rowid, lexical_title, lexical_text)
            VALUES ('delete', old.key, old.lexical_title, old.lexical_text);
        INSERT INTO {TABLE} (rowid, lexical_title, lexical_text) VALUES (new.key, new.lexical_title, new.lexical_text);
    END""",
)


class LexicalSearchUnavailableError(SemanticIndexError, RuntimeError):
    """Lexical (or hybrid) search was asked of an index without a lexical index, or this Python's SQLite lacks
    FTS5; the message says what to do."""


@functools.lru_cache(maxsize=1)
def fts5_available() -> bool:
    """Whether this Python's ``sqlite3`` has FTS5 (python.org builds and most distributions do)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE probe USING fts5(text)")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()
    return True


def require_fts5(what: str) -> None:
    """:class:`LexicalSearchUnavailableError` naming ``what`` unless SQLite has FTS5."""
    if not fts5_available():
        raise LexicalSearchUnavailableError(
            f"{what} needs SQLite's FTS5 extension, which this Python's sqlite3 (SQLite {sqlite3.sqlite_version}) "
            "lacks: use a Python whose SQLite has FTS5 (python.org's builds and most Linux distributions' do), or "
            "create the index with lexical=False (`sentvec index build --no-lexical`) for dense search only"
        )


@dataclasses.dataclass(frozen=True)
class LexicalConfig:
    """An index's lexical settings, stored in its config (key ``lexical``).

    Attributes:
        tokenizer: how texts become terms (:class:`~sentvec.search.terms.LexicalTokenizer`), fixed when the lexical
            index is built (:meth:`Index.rebuild_lexical <sentvec.search.index.Index.rebuild_lexical>` changes it).
        title_weight, text_weight: the ``bm25()`` weights of a term found in the title and in the text
            (1 and 1 by default: on NFCorpus dev a heavier title did not help).
        terms_version: the version of :mod:`sentvec.search.terms` the terms were made with.
    """

    tokenizer: LexicalTokenizer = DEFAULT_TOKENIZER
    title_weight: float = 1.0
    text_weight: float = 1.0
    terms_version: int = TERMS_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokenizer", LexicalTokenizer.parse(self.tokenizer))
        for name in ("title_weight", "text_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"lexical {name} must be a finite number >= 0, got {value!r}")
            object.__setattr__(self, name, float(value))

    @classmethod
    def parse(cls, value: bool | str | LexicalTokenizer | LexicalConfig | None) -> LexicalConfig | None:
        """``lexical=`` of :meth:`Index.create`: True (the default settings), False or None (no lexical index), a
        tokenizer (or its name), or a :class:`LexicalConfig`."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, LexicalConfig):
            return value
        if isinstance(value, (str, LexicalTokenizer)):
            return cls(tokenizer=LexicalTokenizer.parse(value))
        raise TypeError(f"lexical must be a bool, a tokenizer name or a LexicalConfig, got {type(value).__name__}")

    def to_json(self) -> dict[str, JSONValue]:
        """The stored form."""
        return {
            "tokenizer": self.tokenizer.value,
            "title_weight": self.title_weight,
            "text_weight": self.text_weight,
            "terms_version": self.terms_version,
        }

    @classmethod
    def from_json(cls, value: JSONValue, folder: object) -> LexicalConfig | None:
        """The stored form read back (None: no lexical index); :class:`IndexFormatError` when malformed."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise IndexFormatError(f"{folder}: malformed index config: lexical is {value!r}, expected an object")
        try:
            version = value.get("terms_version", TERMS_VERSION)
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise ValueError(f"terms_version is {version!r}")
            if version > TERMS_VERSION:
                raise ValueError(f"terms version {version} is newer than this sentvec's ({TERMS_VERSION})")
            tokenizer = value.get("tokenizer", DEFAULT_TOKENIZER.value)
            title, text = value.get("title_weight", 1.0), value.get("text_weight", 1.0)
            if (
                not isinstance(tokenizer, str)
                or not isinstance(title, (int, float))
                or not isinstance(text, (int, float))
            ):
                raise ValueError(f"{value!r}")
            return cls(LexicalTokenizer.parse(tokenizer), title, text, version)
        except ValueError as e:
            raise IndexFormatError(f"{folder}: malformed lexical config: {e}") from None

    def terms(self, text: str | None) -> str | None:
        """The term list FTS5 indexes for ``text``: its terms joined by spaces (None stays None)."""
        return None if text is None else " ".join(tokenizer_function(self.tokenizer)(text))

    def query_terms(self, query: str) -> list[str]:
        """The distinct terms of a query, in order."""
        return list(dict.fromkeys(tokenizer_function(self.tokenizer)(query)))


def create_statements() -> tuple[str, ...]:
    """The FTS5 table and the triggers that keep it in step with ``documents`` (run inside a write transaction,
    after the table has its :data:`LEXICAL_COLUMNS`)."""
    return _CREATE


def drop_statements() -> tuple[str, ...]:
    """Remove the FTS5 table and its triggers (when present)."""
    return (*(f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS), f"DROP TABLE IF EXISTS {TABLE}")


def rebuild_statement() -> str:
    """Re-read every document's terms into the FTS5 table."""
    return f"INSERT INTO {TABLE} ({TABLE}) VALUES ('rebuild')"


def match_expression(terms: Iterable[str]) -> str | None:
    """An FTS5 MATCH expression finding documents with any of ``terms``: each a quoted string (``"`` doubled),
    OR-ed; no operator, prefix, column filter or grouping can come from the terms. None when there is no term."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in dict.fromkeys(terms) if term]
    return " OR ".join(quoted) or None


def search_terms(
    store: DocumentStore, terms: Sequence[str], weights: tuple[float, float], k: int, where: Metadata
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best documents (keys, BM25 scores; best first, ties by key) holding any of ``terms`` and matching
    the filter ``where`` (narrowed in SQL where it can be, then checked with :func:`matches`)."""
    expression = match_expression(terms)
    keys: list[int] = []
    scores: list[float] = []
    if expression is None:
        return np.asarray(keys, np.int64), np.asarray(scores, np.float64)
    while True:
        clause, params = store.sql_filter(where)
        try:  # rows best first: stop at the k-th that passes the filter (closing the cursor)
            with contextlib.closing(store.rows(*_match_query(expression, weights, k, where, clause, params))) as rows:
                for batch in rows:
                    for row in batch:
                        if not where or matches(store.metadata_of(row[2], int(row[0])), where):
                            keys.append(int(row[0]))
                            scores.append(float(row[1]))
                    if len(keys) >= k:
                        break
        except sqlite3.OperationalError as e:
            store.filter_failed(e, params)  # malformed metadata JSON in the SQL filter: retry, filtering in Python
            keys.clear()
            scores.clear()
            continue
        return np.asarray(keys[:k], np.int64), np.asarray(scores[:k], np.float64)


def _match_query(
    expression: str, weights: tuple[float, float], k: int, where: Metadata, clause: str, params: list[SQLParam]
) -> tuple[str, list[SQLParam]]:
    """The SQL of :func:`search_terms`: FTS5 ranks, ``documents`` supplies the metadata to filter on."""
    rank = f"-bm25({TABLE}, ?, ?)"
    if not where:
        sql = f"SELECT rowid, {rank} AS score FROM {TABLE} WHERE {TABLE} MATCH ? ORDER BY score DESC, rowid LIMIT ?"
        return sql, [*weights, expression, k]
    sql = (
        f"SELECT {TABLE}.rowid, {rank} AS score, documents.metadata FROM {TABLE} "
        f"JOIN documents ON documents.key = {TABLE}.rowid WHERE {TABLE} MATCH ? AND {clause} "
        f"ORDER BY score DESC, {TABLE}.rowid"
    )
    return sql, [*weights, expression, *params]

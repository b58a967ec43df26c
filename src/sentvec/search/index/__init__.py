"""A persistent semantic index: documents in SQLite, their vectors searched with usearch's HNSW (or exactly).

Needs the ``index`` extra (``pip install 'sentvec[index]'``) for usearch::

    from sentvec.search.index import Index

    with Index.create("my-index", model, precision="int8") as index:
        index.add({"id": d["_id"], "text": d["text"], "metadata": {"lang": "en"}} for d in corpus)
    with Index.open("my-index", model, read_only=True) as index:
        hits = index.search("what is a cat?", k=10, filter={"lang": "en"})
        hits = index.search("what is a cat?", k=10, mode="hybrid")  # BM25 (SQLite FTS5) and dense, fused by RRF
"""

from sentvec.search.index.config import HnswParams, IndexConfig, IndexInfo
from sentvec.search.index.fingerprint import model_fingerprint
from sentvec.search.index.index import BatchReport, Index, WriteReport
from sentvec.search.index.lexical import LexicalConfig, LexicalSearchUnavailableError
from sentvec.search.index.searching import SearchHit
from sentvec.search.index.store import (
    Document,
    IndexFormatError,
    IndexLockedError,
    IndexModelMismatchError,
    ReadOnlyIndexError,
    SemanticIndexError,
    text_id,
)

__all__ = [
    "BatchReport",
    "Document",
    "HnswParams",
    "Index",
    "IndexConfig",
    "IndexFormatError",
    "IndexInfo",
    "IndexLockedError",
    "IndexModelMismatchError",
    "LexicalConfig",
    "LexicalSearchUnavailableError",
    "ReadOnlyIndexError",
    "SearchHit",
    "SemanticIndexError",
    "WriteReport",
    "model_fingerprint",
    "text_id",
]

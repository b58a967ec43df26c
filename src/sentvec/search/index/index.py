"""The persistent semantic index: documents and float32 vectors in SQLite, an HNSW graph of their codes beside.

Folder layout (see :mod:`sentvec.search.index.store` and :mod:`sentvec.search.index.ann`):

- ``index.sqlite`` (WAL): config, documents with their float32 vectors, tombstones, the ANN watermark and (by
  default) the lexical index: an FTS5 table over the documents' terms (:mod:`sentvec.search.index.lexical`).
- ``ann-<random>.usearch``: the HNSW graph of the codes (float32, int8 or binary); immutable once written.
- ``write.lock``: held (``flock``) by the one writable :class:`Index` at a time.

Durability: :meth:`Index.add` commits its documents to SQLite batch by batch (``synchronous=FULL``); a batch is
*acknowledged* when ``on_batch`` is called with its report: from then on its documents survive a crash, even
``kill -9``. The ANN file is only rewritten at checkpoints: on :meth:`Index.close`, and once the changes since
the last one reach ``checkpoint_every`` or a quarter of the graph, whichever is more (each checkpoint writes the
whole graph: a fixed interval would write a growing file over and over, O(n²) bytes for a bulk build; this keeps
the bytes written proportional to the index). Opening for writing catches the graph up from SQLite (keys above
the file's ``last_key``, tombstones above its ``tomb_seq``) and checkpoints. Readers (``read_only=True``)
memory-map the file in use and search the rows it lacks exactly, inside one SQLite snapshot, so each search sees
one committed state. The lexical index is written by triggers inside the transactions that write the documents,
so it never lags: every acknowledged document is searchable both ways.

Searching (dense, lexical, hybrid) is :class:`~sentvec.search.index.searching.IndexSearch`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from sentvec.arrays import ArrayLike
from sentvec.prompts import Role
from sentvec.quantization import Precision, calibration_ranges
from sentvec.search.index import lexical as lexical_index
from sentvec.search.index.ann import AnnIndex, VectorCodec, parse_precision, usearch_index
from sentvec.search.index.config import IndexConfig, IndexInfo, calibrated_ranges
from sentvec.search.index.lexical import LexicalConfig
from sentvec.search.index.searching import IndexSearch, SearchHit
from sentvec.search.index.store import (
    DB_FILE,
    AnnState,
    Document,
    DocumentStore,
    IndexFormatError,
    ReadOnlyIndexError,
    acquire_lock,
    batched,
    parse_doc,
    release_lock,
    unlink_quietly,
)
from sentvec.search.terms import LexicalTokenizer

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

logger = logging.getLogger(__name__)

CHECKPOINT_EVERY = 10_000  # changes between checkpoints at least ...
CHECKPOINT_FRACTION = 4  # ... and at least 1/4 of the graph
REBUILD_CHUNK = 1000  # documents tokenized at a time by rebuild_lexical

Doc = Mapping[str, object] | str  # a dict {"id", "text", "title"?, "metadata"?} or a bare text (see parse_doc)
Lexical = bool | str | LexicalTokenizer | LexicalConfig | None  # Index.create's lexical= (LexicalConfig.parse)
__all__ = ["BatchReport", "Index", "SearchHit", "WriteReport"]


@dataclasses.dataclass(frozen=True)
class BatchReport:
    """One committed (acknowledged) batch: every id of ``ids`` is durably in the index."""

    ids: tuple[str, ...]
    added: int
    updated: int
    skipped: int


@dataclasses.dataclass(frozen=True)
class WriteReport:
    """Totals of one :meth:`Index.add` or :meth:`Index.update` call."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    batches: int = 0


class Index(IndexSearch):
    """A persistent index of documents, searched by their embeddings (an HNSW graph (usearch) or exactly), by BM25
    (SQLite FTS5) or both, fused (:meth:`search`).

    Build one with :meth:`create`, reopen it with :meth:`open`; use it as a context manager (or call
    :meth:`close`) so the graph is checkpointed. One writable instance per folder at a time
    (:class:`IndexLockedError` otherwise); any number of ``read_only`` ones, in any process.
    """

    def __init__(
        self, folder: Path, store: DocumentStore, config: IndexConfig, model: Embedder | None, *, lock: int | None
    ) -> None:
        self.folder = folder
        self.store = store
        self.config = config
        self.model = model
        self.read_only = lock is None
        self.dimension = config.dimension
        self.similarity = config.similarity
        self.precision = config.precision
        self.codec = VectorCodec(self.precision, self.similarity, self.dimension, config.int8_ranges)
        self.checkpoint_every = CHECKPOINT_EVERY
        self._lock_fd = lock
        self._mutex = threading.RLock()
        self._ann: AnnIndex | None = None
        self._ann_state: AnnState | None = None  # the file loaded (reader) or last written (writer)
        self._covered = 0  # every stored key <= this is in self._ann
        self._covered_tomb = 0
        self._lag = 0  # changes not yet in the ANN file
        self._closed = False

    # --- opening -------------------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        folder: str | Path,
        model: Embedder,
        precision: Precision | str = Precision.FLOAT32,
        calibration: ArrayLike | Sequence[str] | None = None,
        *,
        lexical: Lexical = True,
    ) -> Index:
        """A new, empty, writable index in ``folder`` (created; it must not hold an index yet) for ``model``.

        ``precision`` is what the ANN graph holds: ``"float32"``, ``"int8"`` (per-dimension ranges from
        ``calibration``: an ``(N, D)`` array of embeddings or a list of texts to encode; without one, from the first
        batch added) or ``"binary"`` (sign bits). Results are always rescored with the float32 vectors.

        ``lexical``: the lexical index for lexical and hybrid search (an FTS5 table in the same database): True (the
        default: the ``mixed`` tokenizer, English words stemmed and CJK as characters and bigrams), a tokenizer
        (:class:`~sentvec.search.terms.LexicalTokenizer` or its name: ``"english"``, ``"cjk"``, ``"mixed"``), a
        :class:`~sentvec.search.index.lexical.LexicalConfig` (title and text weights too), or False for none
        (:meth:`rebuild_lexical` adds one later).
        """
        folder = Path(folder)
        if model is None:
            raise ValueError("Index.create needs the model that encodes the documents")
        graph_precision = parse_precision(precision)
        lexical_config = LexicalConfig.parse(lexical)
        if lexical_config is not None:
            lexical_index.require_fts5("an index with lexical search")
        if cls.exists(folder):
            raise FileExistsError(f"{folder}: already holds an index; open it with Index.open")
        usearch_index()  # a missing extra fails before anything is written
        folder.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(folder)
        try:
            config = IndexConfig.for_model(model, graph_precision, lexical=lexical_config)
            ranges = calibrated_ranges(model, graph_precision, calibration, config.document_prompt_name)
            config = dataclasses.replace(config, int8_ranges=ranges)
            store = DocumentStore(folder, create=True)
            with store.write():
                store.set_config(config.to_json())
                if lexical_config is not None:
                    store.execute_all(lexical_index.create_statements())
        except BaseException:
            release_lock(lock)
            raise
        index = cls(folder, store, config, model, lock=lock)
        index._ann = AnnIndex.new(index.codec)
        return index

    @classmethod
    def open(cls, folder: str | Path, model: Embedder | None = None, read_only: bool = False) -> Index:
        """Open an index. ``model`` is needed to add documents or search by text; when given, it must be the
        model the index was built with (:class:`IndexModelMismatchError` otherwise).

        Writable (the default): takes the folder's write lock, loads the ANN graph fully and catches it up from
        SQLite when it lags (after a crash). ``read_only=True``: no lock; the graph is memory-mapped (usearch's
        view) and writes raise :class:`ReadOnlyIndexError`.
        """
        folder = Path(folder)
        store = DocumentStore(folder)
        lock = None
        try:
            lock = None if read_only else acquire_lock(folder)
            config = IndexConfig.from_json(store.config(), folder)
            if config.lexical is not None and not read_only:  # its triggers need FTS5 to write any document
                lexical_index.require_fts5(f"{folder}: writing to this index (it has a lexical index)")
            if model is not None:
                config.check_model(model, folder)
            index = cls(folder, store, config, model, lock=lock)
            if read_only:
                index._read(lambda: None)
            else:
                index._catch_up()
        except BaseException:
            store.close()
            release_lock(lock)
            raise
        return index

    @staticmethod
    def exists(folder: str | Path) -> bool:
        """Whether ``folder`` holds an index (:meth:`create` refuses it, :meth:`open` can try it)."""
        return (Path(folder) / DB_FILE).exists()

    @staticmethod
    def read_config(folder: str | Path) -> IndexConfig:
        """The config of the index in ``folder``, read without a model or the write lock (e.g. to find the model
        to open it with: :meth:`IndexConfig.model_reference`); :class:`IndexFormatError` when it is no index."""
        store = DocumentStore(Path(folder))
        try:
            return IndexConfig.from_json(store.config(), folder)
        finally:
            store.close()

    def _catch_up(self) -> None:
        """Load the ANN file (or start a new graph), add the rows it lacks, drop deleted ones, checkpoint."""
        state = self.store.ann_state()
        ann: AnnIndex | None = None
        covered, tomb = 0, self.store.last_tombstone()
        if state is not None:
            try:
                ann = AnnIndex.load(self.folder / state.file, view=False)
                covered, tomb = state.last_key, state.tomb_seq
            except (FileNotFoundError, IndexFormatError) as e:
                logger.warning("%s; rebuilding the ANN index from the stored vectors", e)
        rebuilt = ann is None and state is not None
        if ann is None:
            ann = AnnIndex.new(self.codec)
        removed, tomb = self.store.tombstones(after=tomb)
        ann.remove(np.asarray(removed, dtype=np.int64))
        added = 0
        for keys, vectors in self.store.iter_vectors(self.dimension, after=covered):
            ann.add(keys, self.codec.encode(vectors))
            added += len(keys)
        self._ann, self._ann_state = ann, state
        self._covered, self._covered_tomb = max(covered, self.store.max_key()), tomb
        self._lag = added + len(removed) + int(rebuilt)
        if added or removed:
            logger.info("caught the ANN index up: %d added, %d removed", added, len(removed))
        if self._lag:
            self.checkpoint()
        keep = {self._ann_state.file} if self._ann_state else set()
        for path in self.folder.glob("ann-*.usearch*"):
            if path.name not in keep:
                unlink_quietly(path)

    def close(self) -> None:
        """Checkpoint (writable, when the ANN file lags), close SQLite, release the write lock."""
        if self._closed:
            return
        try:
            if not self.read_only and self._lag:
                self.checkpoint()
        finally:
            self._closed = True
            self.store.close()
            release_lock(self._lock_fd)
            self._lock_fd, self._ann = None, None

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------------------------------
    def add(
        self, docs: Iterable[Doc], *, batch_size: int = 256, on_batch: Callable[[BatchReport], None] | None = None
    ) -> WriteReport:
        """Add documents: dicts ``{"id", "text", "metadata"?}`` or strings (id: the first 16 hex digits of the
        text's sha256). ``docs`` is consumed lazily, ``batch_size`` at a time: each batch is encoded, committed,
        added to the graph, then reported to ``on_batch`` (its acknowledgement). Ids already stored (or seen
        earlier in ``docs``) are skipped, so re-running an interrupted ``add`` completes it without duplicates.

        ``metadata`` must be a JSON object of strict JSON (string keys; finite numbers, integers within 64 bits;
        valid Unicode; tuples and numpy scalars are stored as lists and Python numbers): anything else (``NaN``,
        a set, bytes, ...) is a :class:`~sentvec.errors.DataFormatError` naming the document's position, id and
        field (``metadata.scores[1]``). A batch is checked whole before it is written: the batches before it stay
        committed and acknowledged, nothing of its own is written.
        """
        return self._write(docs, batch_size, on_batch, upsert=False)

    def update(
        self, docs: Iterable[Doc], *, batch_size: int = 256, on_batch: Callable[[BatchReport], None] | None = None
    ) -> WriteReport:
        """Insert or replace documents (as :meth:`add`, but a stored id gets the new text and metadata: a new text
        is re-encoded, a metadata-only change keeps the vector; the last occurrence of an id wins)."""
        return self._write(docs, batch_size, on_batch, upsert=True)

    def _write(
        self,
        docs: Iterable[Doc],
        batch_size: int,
        on_batch: Callable[[BatchReport], None] | None,
        upsert: bool,
    ) -> WriteReport:
        self._check_writable()
        self._require_model("adding documents")
        if isinstance(docs, (str, Mapping)):
            raise TypeError("expected an iterable of documents (dicts or strings), got a single document")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        totals = WriteReport()
        seen = 0
        for chunk in batched(docs, batch_size):
            parsed = [parse_doc(doc, seen + i) for i, doc in enumerate(chunk)]
            seen += len(chunk)
            report = self._write_batch(parsed, upsert)
            totals = WriteReport(
                totals.added + report.added,
                totals.updated + report.updated,
                totals.skipped + report.skipped,
                totals.batches + 1,
            )
            if on_batch is not None:
                on_batch(report)
            self._maybe_checkpoint()
        return totals

    def _write_batch(self, parsed: list[Document], upsert: bool) -> BatchReport:
        unique: dict[str, Document] = {}
        for doc in parsed:
            if upsert or doc.id not in unique:
                unique[doc.id] = doc
        existing = self.store.keys_of(unique)
        new = [d for d in unique.values() if d.id not in existing]
        old = [d for d in unique.values() if upsert and d.id in existing]
        changed = [d for d in old if (d.text, d.title) != existing[d.id][1:]]
        retagged = [d for d in old if (d.text, d.title) == existing[d.id][1:]]
        encode = new + changed
        vectors = self._encode([d.embedded_text for d in encode], Role.DOCUMENT)
        lexical = self.config.lexical
        terms = [(lexical.terms(d.title), lexical.terms(d.text)) if lexical else None for d in encode]
        ranges = self.codec.ranges
        if self.precision is Precision.INT8 and ranges is None and len(vectors):
            ranges = calibration_ranges(vectors)
        old_keys = [existing[d.id][0] for d in changed]
        with self._mutex:
            with self.store.write():
                if ranges is not self.codec.ranges and ranges is not None:
                    self.store.set_config({"int8_ranges": ranges.tolist()})
                if any(d.title is not None for d in encode):
                    self.store.add_columns(["title"])  # a folder written before titles gets the column
                if old_keys:
                    self.store.delete_keys(old_keys)
                rows = zip(encode, vectors, terms, strict=True)
                keys = [self.store.insert(d, v, t) for d, v, t in rows]
                for doc in retagged:
                    self.store.set_metadata(existing[doc.id][0], doc.metadata)
            # committed: acknowledged from here on, whatever happens to the graph
            self.codec = dataclasses.replace(self.codec, ranges=ranges)
            self._apply(np.asarray(keys, np.int64), vectors, np.asarray(old_keys, np.int64))
        return BatchReport(
            ids=tuple(unique), added=len(new), updated=len(old), skipped=len(parsed) - len(new) - len(old)
        )

    def delete(self, ids: Iterable[str]) -> int:
        """Delete documents by id (unknown ids are ignored); returns how many were deleted."""
        self._check_writable()
        wanted = [ids] if isinstance(ids, str) else [str(i) for i in ids]
        with self._mutex:
            keys = sorted(key for key, _, _ in self.store.keys_of(wanted).values())
            if not keys:
                return 0
            with self.store.write():
                self.store.delete_keys(keys)
            self._apply(np.zeros(0, np.int64), np.zeros((0, self.dimension), np.float32), np.asarray(keys, np.int64))
        self._maybe_checkpoint()
        return len(keys)

    def _apply(self, keys: np.ndarray, vectors: np.ndarray, removed: np.ndarray) -> None:
        """Bring the in-memory graph up to a commit."""
        assert self._ann is not None
        if removed.size:
            self._ann.remove(removed)
            self._covered_tomb = self.store.last_tombstone()
        if keys.size:
            self._ann.add(keys, self.codec.encode(vectors))
            self._covered = max(self._covered, int(keys.max()))
        self._lag += int(keys.size + removed.size)

    def _maybe_checkpoint(self) -> None:
        graph = len(self._ann) if self._ann is not None else 0
        if self._lag >= max(self.checkpoint_every, graph // CHECKPOINT_FRACTION):
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write the graph to a new ANN file and switch SQLite to it in one commit (then remove the old file)."""
        self._check_writable()
        with self._mutex:
            assert self._ann is not None
            name = self._ann.save(self.folder)
            state = AnnState(name, self._covered, self._covered_tomb)
            try:
                with self.store.write():
                    self.store.set_ann_state(state)
            except BaseException:
                unlink_quietly(self.folder / name)
                raise
            old, self._ann_state, self._lag = self._ann_state, state, 0
            if old is not None and old.file != name:
                unlink_quietly(self.folder / old.file)

    def info(self) -> IndexInfo:
        """What the index is and holds: model, fingerprint, dimension, similarity, precision, counts, ANN file."""
        self._check_open()
        with self._mutex, self.store.snapshot():
            state = self.store.ann_state()
            documents = self.store.count()
            saved = 0 if state is None else state.last_key
            pending = self.store.count(after=saved)
            lexical = (
                self.config.lexical
                if not self.read_only
                else IndexConfig.from_json(self.store.config(), self.folder).lexical
            )
        return IndexInfo(
            path=self.folder,
            model=self.config.model_name,
            model_source=self.config.model_source,
            fingerprint=self.config.fingerprint,
            dimension=self.dimension,
            similarity=self.similarity,
            precision=self.precision,
            documents=documents,
            ann_file=None if state is None else state.file,
            ann_pending=pending,
            int8_calibrated=self.codec.ranges is not None if self.precision is Precision.INT8 else None,
            hnsw=self.config.hnsw,
            read_only=self.read_only,
            lexical=lexical,
        )

    # --- the lexical index ---------------------------------------------------------------------------------------
    def rebuild_lexical(
        self,
        tokenizer: LexicalTokenizer | str | None = None,
        *,
        title_weight: float | None = None,
        text_weight: float | None = None,
    ) -> LexicalConfig:
        """Give the index a lexical index (one built without, or by an older sentvec), or rebuild its own with
        another ``tokenizer`` or weights (each defaults to the current setting, else the default one).

        Every document's terms are computed again and the FTS5 table rebuilt from them in one transaction: a crash
        leaves the index as it was. Needs no model. Returns the new settings (also in ``config.lexical``).
        """
        self._check_writable()
        lexical_index.require_fts5("Index.rebuild_lexical")
        current = self.config.lexical or LexicalConfig()
        lexical = LexicalConfig(
            current.tokenizer if tokenizer is None else LexicalTokenizer.parse(tokenizer),
            current.title_weight if title_weight is None else title_weight,
            current.text_weight if text_weight is None else text_weight,
        )
        config = self.config.with_lexical(lexical)
        with self._mutex, self.store.write():
            self.store.add_columns(lexical_index.LEXICAL_COLUMNS)
            self.store.execute_all(lexical_index.drop_statements())  # the triggers first: no FTS5 table to update
            last = 0
            while rows := self.store.texts(after=last, limit=REBUILD_CHUNK):
                self.store.set_terms([(lexical.terms(title), lexical.terms(text), key) for key, title, text in rows])
                last = rows[-1][0]
            self.store.execute_all([*lexical_index.create_statements(), lexical_index.rebuild_statement()])
            self.store.set_config({"lexical": lexical.to_json(), "format_version": config.format_version})
        self.config = config
        return lexical

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise ReadOnlyIndexError(f"{self.folder}: opened read-only; open it with read_only=False to write")

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writable"
        return f"Index({str(self.folder)!r}, model={self.config.model_name!r}, {self.precision.value}, {mode})"

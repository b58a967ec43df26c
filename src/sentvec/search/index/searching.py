"""The read side of :class:`~sentvec.search.index.Index`: dense (HNSW or exact), lexical (FTS5 BM25) and hybrid
search, each inside one SQLite snapshot.

- Dense: ANN candidates (plus the rows the graph lacks) rescored with the float32 vectors, or exact search.
- Lexical: the query's distinct terms, quoted and OR-ed, ranked by FTS5's ``bm25()`` (:mod:`.lexical`).
- Hybrid: both retrievers' best ``candidates`` fused (:mod:`sentvec.search.fusion`): RRF or a convex combination.
- Reranked (any mode): the mode's best ``rerank_candidates`` rescored by a cross-encoder (:mod:`sentvec.search.rerank`)
  outside the snapshot, the ``k`` best kept.

A metadata filter applies to every retriever before fusion.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from sentvec.arrays import ArrayLike, as_embedding_matrix
from sentvec.prompts import Role
from sentvec.quantization import Precision
from sentvec.search.exact import TopK, check_top_k, semantic_search_arrays
from sentvec.search.fusion import (
    ALPHA,
    DENSE,
    LEXICAL,
    RRF_K,
    Fused,
    FusionMethod,
    SearchMode,
    check_alpha,
    check_rrf_k,
    fuse,
)
from sentvec.search.hybrid import check_candidates
from sentvec.search.index.ann import AnnIndex, VectorCodec
from sentvec.search.index.config import IndexConfig
from sentvec.search.index.lexical import LexicalConfig, LexicalSearchUnavailableError, require_fts5, search_terms
from sentvec.search.index.store import AnnState, Document, DocumentStore, Metadata
from sentvec.search.index.values import matches, parse_filter
from sentvec.search.rerank import (
    DEFAULT_RERANK_CANDIDATES,
    check_rerank_candidates,
    check_reranker,
    rerank_order,
    score_pairs,
)

if TYPE_CHECKING:
    from sentvec.protocols import Embedder, Reranker
    from sentvec.similarity import SimilarityFunction

RESCORE_FACTOR = 10  # compressed codes or a filter: rescore max(10 × k, 100) ANN candidates with float32 vectors
RESCORE_MIN = 100
EXACT_CHUNK = 50_000
ENCODE_BATCH_SIZE = 32

Ranked = tuple[np.ndarray, np.ndarray]  # one query's result keys and scores, best first
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """One result of :meth:`Index.search`: the document and its score (larger is better): the similarity under
    the index's function (dense), the BM25 score (lexical) or the fused score (hybrid).

    The index's counterpart of :class:`sentvec.search.Hit`: exact search over arrays only knows a row number
    (``Hit.corpus_id``, into the caller's corpus), while an index owns its documents, so its hits carry the stored
    document (id, text, metadata, title) instead of a row. ``dense_rank`` / ``lexical_rank`` (1-based) and
    ``dense_score`` / ``lexical_score`` say where each retriever placed the document (None: it did not return it).

    After reranking (``search(..., rerank=...)``), ``score`` and ``rerank_score`` are the reranker's, and
    ``retrieval_rank`` (1-based) / ``retrieval_score`` are where and how the mode's search ranked the document
    (all three None without reranking).
    """

    id: str
    score: float
    text: str
    metadata: Metadata
    title: str | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    rerank_score: float | None = None
    retrieval_rank: int | None = None
    retrieval_score: float | None = None

    @property
    def retrievers(self) -> tuple[str, ...]:
        """The retrievers that returned the document (``"dense"``, ``"lexical"``)."""
        return tuple(name for name, rank in ((DENSE, self.dense_rank), (LEXICAL, self.lexical_rank)) if rank)

    @property
    def passage(self) -> str:
        """What a reranker reads of the document: ``title + " " + text`` with a title (as the model embeds it),
        else the text."""
        return self.text if not self.title else f"{self.title} {self.text}".strip()


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    """A search's settings, checked: the mode, the fusion and each retriever's candidate count."""

    mode: SearchMode
    fusion: FusionMethod
    rrf_k: float
    alpha: float
    candidates: int

    @classmethod
    def parse(
        cls, k: int, mode: object, fusion: object, rrf_k: object, alpha: object, candidates: object
    ) -> SearchOptions:
        """Every argument checked (``ValueError`` naming the bad one), whatever the mode."""
        search_mode = SearchMode.parse(mode if isinstance(mode, (str, SearchMode)) else str(mode))
        method = FusionMethod.parse(fusion if isinstance(fusion, (str, FusionMethod)) else str(fusion))
        depth = check_candidates(candidates, k)
        depth = depth if search_mode is SearchMode.HYBRID else k  # one retriever: its k best are the answer
        return cls(search_mode, method, check_rrf_k(rrf_k), check_alpha(alpha), depth)

    @property
    def dense(self) -> bool:
        return self.mode is not SearchMode.LEXICAL

    @property
    def lexical(self) -> bool:
        return self.mode is not SearchMode.DENSE


class IndexSearch:
    """Searching an index (the base of :class:`~sentvec.search.index.Index`, which sets these attributes)."""

    folder: Path
    store: DocumentStore
    config: IndexConfig
    model: Embedder | None
    read_only: bool
    dimension: int
    similarity: SimilarityFunction
    precision: Precision
    codec: VectorCodec
    _mutex: threading.RLock
    _ann: AnnIndex | None
    _ann_state: AnnState | None
    _covered: int
    _closed: bool

    # --- search --------------------------------------------------------------------------------------------------
    def search(
        self,
        query: str | ArrayLike,
        k: int = 10,
        filter: Metadata | None = None,
        exact: bool = False,
        *,
        mode: SearchMode | str = SearchMode.DENSE,
        fusion: FusionMethod | str = FusionMethod.RRF,
        rrf_k: float = RRF_K,
        alpha: float = ALPHA,
        candidates: int | None = None,
        text: str | None = None,
        rerank: Reranker | None = None,
        rerank_candidates: int = DEFAULT_RERANK_CANDIDATES,
    ) -> list[SearchHit]:
        """The ``k`` best documents for ``query`` (a text, encoded with the model's query prompt when it has one,
        or a vector), best first, ties by insertion order.

        ``k``: a positive integer; more than the index holds returns every (matching) document, and nothing is
        ever allocated beyond what the index holds. ``filter``: a mapping of metadata fields to the JSON value each
        must equal, applied in every mode (ANN candidates are over-fetched and filtered; when fewer than ``k``
        survive, the filtered documents are searched exactly); ``TypeError``/``ValueError`` naming ``filter`` when
        it is not one. ``exact=True``: dense search is exact over every (matching) document with
        :func:`~sentvec.search.exact.semantic_search_arrays`. ANN candidates are always rescored with the float32
        vectors, so dense scores are exact either way (up to float32 rounding).

        ``mode``: ``"dense"`` (the default: embeddings), ``"lexical"`` (BM25 over the index's FTS5 table; needs no
        model and returns only documents holding a query term) or ``"hybrid"`` (both, each retriever's best
        ``candidates`` (default ``max(k, 100)``) fused with ``fusion``: ``"rrf"``, ``1 / (rrf_k + rank)`` summed,
        or ``"convex"``, ``alpha × dense + (1 - alpha) × lexical`` of min-max normalised scores). Hits carry each
        retriever's rank and score. Lexical and hybrid search need a lexical index (:meth:`Index.rebuild_lexical`
        gives an index built without one its own) and the query text: ``text=`` when ``query`` is a vector.

        ``rerank``: a cross-encoder (:class:`~sentvec.protocols.Reranker`, e.g. :class:`sentvec.CrossEncoder`, one
        label): the mode's best ``max(k, rerank_candidates)`` documents (default 100; clamped to the index) are
        scored by ``rerank.predict`` on ``(query text, title + " " + text)`` pairs and the ``k`` best returned, the
        reranker's score as ``score`` (ties keep the mode's order), each hit's ``retrieval_rank`` and
        ``retrieval_score`` the mode's. Reranking needs the query text (``text=`` with a vector) and runs after the
        index's snapshot is released.
        """
        queries: list[str] | np.ndarray = (
            [query] if isinstance(query, str) else as_embedding_matrix(query, "query vector")
        )
        if len(queries) != 1:
            raise ValueError(f"search takes one query vector, got {len(queries)}; use search_many")
        texts = None if text is None else [text]
        return self.search_many(
            queries,
            k,
            filter,
            exact,
            mode=mode,
            fusion=fusion,
            rrf_k=rrf_k,
            alpha=alpha,
            candidates=candidates,
            texts=texts,
            rerank=rerank,
            rerank_candidates=rerank_candidates,
        )[0]

    def search_many(
        self,
        queries: Sequence[str] | ArrayLike,
        k: int = 10,
        filter: Metadata | None = None,
        exact: bool = False,
        *,
        mode: SearchMode | str = SearchMode.DENSE,
        fusion: FusionMethod | str = FusionMethod.RRF,
        rrf_k: float = RRF_K,
        alpha: float = ALPHA,
        candidates: int | None = None,
        texts: Sequence[str] | None = None,
        rerank: Reranker | None = None,
        rerank_candidates: int = DEFAULT_RERANK_CANDIDATES,
    ) -> list[list[SearchHit]]:
        """:meth:`search` for many queries (texts, encoded in one call, or an ``(n, D)`` array with their
        ``texts`` for lexical, hybrid and reranked search) at once; reranking scores the pairs of every query in
        one ``predict`` call."""
        k = check_top_k(k, "k")
        depth = k
        if rerank is not None:
            check_reranker(rerank)
            depth = check_rerank_candidates(rerank_candidates, k)
        options = SearchOptions.parse(depth, mode, fusion, rrf_k, alpha, candidates)
        where = parse_filter(filter)
        query_texts = _query_texts(queries, texts) if rerank is not None else None
        if rerank is not None and query_texts is None:
            raise ValueError("reranking needs the query texts: pass texts= with query vectors")
        self._check_open()
        hits = self._retrieve(queries, depth, where, exact, options, texts)
        if rerank is None or query_texts is None:
            return hits
        return _rerank(rerank, query_texts, hits, k)

    def _retrieve(
        self,
        queries: Sequence[str] | ArrayLike,
        k: int,
        where: Metadata,
        exact: bool,
        options: SearchOptions,
        texts: Sequence[str] | None,
    ) -> list[list[SearchHit]]:
        """The ``k`` best hits per query under checked ``options`` (what a reranker would take its candidates
        from: ask it for the candidates wanted, rerank, keep ``k``)."""
        query_texts = _query_texts(queries, texts)
        if options.lexical:
            if query_texts is None:
                raise ValueError(f"{options.mode.value} search needs the query texts: pass texts, not only vectors")
            require_fts5(f"{options.mode.value} search")
        matrix = self._query_matrix(queries) if options.dense else None
        if matrix is not None and query_texts is not None and len(query_texts) != len(matrix):
            raise ValueError(f"{len(query_texts)} query texts for {len(matrix)} query vectors")
        n_queries = len(matrix) if matrix is not None else len(query_texts or ())
        dense_search = self._exact if exact else self._approximate

        def run() -> list[list[SearchHit]]:
            # k and the candidates are clamped to the keys ever handed out (O(1) to read, never fewer than the
            # documents) before anything is sized by them: a huge k costs no more than k = the index's size
            size = self.store.max_key()
            bounded, depth = min(k, size), min(options.candidates, size)
            if bounded == 0:
                return [[] for _ in range(n_queries)]
            dense = dense_search(matrix, depth, where) if matrix is not None else []
            lexical = self._lexical(query_texts, depth, where) if options.lexical and query_texts else []
            if options.mode is SearchMode.DENSE:
                fused = [Fused.single(DENSE, ranked, bounded) for ranked in dense]
            elif options.mode is SearchMode.LEXICAL:
                fused = [Fused.single(LEXICAL, ranked, bounded) for ranked in lexical]
            else:
                fused = [
                    fuse(d, lex, bounded, options.fusion, options.rrf_k, options.alpha)
                    for d, lex in zip(dense, lexical, strict=True)
                ]
            return self._hits(fused)

        return self._read(run)

    def _read(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` in one SQLite snapshot, a reader's view first switched to the ANN file it names."""
        for attempt in range(8):
            try:
                with self._mutex, self.store.snapshot():
                    if self.read_only:
                        self._refresh_view()
                    return fn()
            except FileNotFoundError:  # the snapshot named an ANN file a checkpoint has just replaced
                if attempt == 7:
                    raise
        raise AssertionError("unreachable")

    def _refresh_view(self) -> None:
        """Reader: memory-map the ANN file the current snapshot points at (FileNotFoundError: retry)."""
        state = self.store.ann_state()
        if state == self._ann_state:
            return
        if self.codec.ranges is None and self.precision is Precision.INT8:
            ranges = IndexConfig.from_json(self.store.config(), self.folder).int8_ranges
            if ranges is not None:
                self.codec = dataclasses.replace(self.codec, ranges=ranges)
        self._ann = None if state is None else AnnIndex.load(self.folder / state.file, view=True)
        self._ann_state = state
        self._covered = 0 if state is None else state.last_key

    def _query_matrix(self, queries: Sequence[str] | ArrayLike) -> np.ndarray:
        if isinstance(queries, str):
            queries = [queries]
        if isinstance(queries, (list, tuple)) and queries and all(isinstance(q, str) for q in queries):
            self._require_model("searching by text")
            for i, query in enumerate(queries):  # the model's tokenizer takes no lone surrogate
                try:
                    query.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise ValueError(
                        f"query {i} is not valid Unicode (a lone surrogate at position {e.start})"
                    ) from None
            return self._encode(list(queries), Role.QUERY)
        matrix = np.asarray(as_embedding_matrix(queries, "query vectors"), dtype=np.float32)
        if matrix.shape[1] != self.dimension:
            raise ValueError(f"query vectors have dimension {matrix.shape[1]}, the index {self.dimension}")
        return matrix

    # --- the retrievers ------------------------------------------------------------------------------------------
    def _approximate(self, queries: np.ndarray, k: int, where: Metadata) -> list[Ranked]:
        """ANN candidates (plus the rows the graph lacks) rescored exactly; exact search on a shortfall."""
        filtered = bool(where)
        count = 2 * k if self.codec.exact_candidates and not filtered else max(RESCORE_FACTOR * k, RESCORE_MIN)
        ann = self._ann if self._ann is not None and len(self._ann) else None
        count = min(count, len(ann)) if ann else 0  # usearch sizes its answer by count: no more than it holds
        candidates = ann.search(self.codec.encode(queries), count) if ann else [np.zeros(0, np.int64)] * len(queries)
        # the candidates' vectors (and metadata, to filter) in one read for all queries; then rows by key
        union = candidates[0] if len(candidates) == 1 else np.unique(np.concatenate(candidates))
        keys, vectors, metadata = self.store.vectors(union[union <= self._covered], self.dimension)
        if filtered:
            keep = np.fromiter((matches(m, where) for m in metadata), dtype=bool, count=len(keys))
            keys, vectors = keys[keep], vectors[keep]
        tail = list(self.store.iter_vectors(self.dimension, after=self._covered, where=where))
        tail_keys = np.concatenate([p[0] for p in tail]) if tail else np.zeros(0, np.int64)
        tail_vectors = np.concatenate([p[1] for p in tail]) if tail else np.zeros((0, self.dimension), np.float32)
        total: int | None = None
        results: list[Ranked] = []
        for i, found in enumerate(candidates):
            # this query's candidates, keys ascending (ties in score go to the earlier document)
            rows = slice(None) if len(candidates) == 1 else np.flatnonzero(np.isin(keys, found))
            query_keys = np.concatenate([keys[rows], tail_keys])
            query_vectors = np.concatenate([vectors[rows], tail_vectors])
            if len(query_keys) < k:
                total = self.store.count() if total is None and not filtered else total
                if filtered or len(query_keys) < (total or 0):
                    results.extend(self._exact(queries[i : i + 1], k, where))
                    continue
            scores, idx = semantic_search_arrays(queries[i], query_vectors, top_k=k, score=self.similarity)
            results.append((query_keys[idx[0]], scores[0]))
        return results

    def _exact(self, queries: np.ndarray, k: int, where: Metadata) -> list[Ranked]:
        """Exact top-k over every matching document, streamed ``EXACT_CHUNK`` rows at a time in key order."""
        best = TopK(len(queries), k)
        for keys, vectors in self.store.iter_vectors(self.dimension, where=where, chunk=EXACT_CHUNK):
            if len(keys):
                scores, idx = semantic_search_arrays(
                    queries, vectors, top_k=k, score=self.similarity, corpus_chunk_size=EXACT_CHUNK
                )
                best.add(scores, keys[idx])
        return [(best.indices[i], best.scores[i]) for i in range(len(queries))]

    def _lexical(self, texts: Sequence[str], k: int, where: Metadata) -> list[Ranked]:
        """BM25 top-k of each query text over the matching documents (only those holding a query term)."""
        config = self.lexical_config()
        weights = (config.title_weight, config.text_weight)
        return [search_terms(self.store, config.query_terms(text), weights, k, where) for text in texts]

    def lexical_config(self) -> LexicalConfig:
        """The index's lexical settings; :class:`LexicalSearchUnavailableError` when it has no lexical index."""
        config = self.config.lexical
        if config is None and self.read_only:  # a writer may have given it one since this reader opened
            config = IndexConfig.from_json(self.store.config(), self.folder).lexical
        if config is None:
            raise LexicalSearchUnavailableError(
                f"{self.folder}: the index has no lexical index (built with lexical=False or by an older sentvec): "
                f"give it one with Index.rebuild_lexical() or `sentvec index rebuild-lexical {self.folder}`"
            )
        return config

    def _hits(self, fused: list[Fused]) -> list[list[SearchHit]]:
        """The fused rankings as hits, their documents read in one query for all."""
        if not fused:
            return []
        wanted = fused[0].ids if len(fused) == 1 else np.unique(np.concatenate([f.ids for f in fused]))
        docs = self.store.documents(wanted)
        return [_ranking_hits(ranking, docs) for ranking in fused]

    # --- documents -----------------------------------------------------------------------------------------------
    def get(self, doc_id: str) -> Document | None:
        """The stored document with this id, or None."""
        self._check_open()
        return self.store.get(str(doc_id))

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.get(doc_id) is not None

    def __len__(self) -> int:
        self._check_open()
        return self.store.count()

    # --- helpers -------------------------------------------------------------------------------------------------
    def _encode(self, texts: list[str], role: Role) -> np.ndarray:
        """Encode with the prompt the index chose for ``role`` at creation (when the model has it; else none)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._require_model("encoding texts")
        name = self.config.prompt_name(role)
        vectors = model.encode(
            texts,
            prompt_name=name if name and name in model.prompts else None,
            batch_size=ENCODE_BATCH_SIZE,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.folder}: the index is closed")

    def _require_model(self, what: str) -> Embedder:
        if self.model is None:
            raise ValueError(f"{what} needs the model: Index.open({str(self.folder)!r}, model=...)")
        return self.model


def _query_texts(queries: Sequence[str] | ArrayLike, texts: Sequence[str] | None) -> list[str] | None:
    """The query texts: ``queries`` when they are texts, else ``texts`` (checked to be texts), else None."""
    if isinstance(queries, str):
        return [queries]
    if isinstance(queries, (list, tuple)) and queries and all(isinstance(q, str) for q in queries):
        if texts is not None:
            raise ValueError("texts= is for vector queries; the queries are texts already")
        return list(queries)
    if texts is None:
        return None
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a sequence of query texts, one per query vector")
    return list(texts)


def _rerank(reranker: Reranker, texts: list[str], hits: list[list[SearchHit]], k: int) -> list[list[SearchHit]]:
    """Each query's hits rescored by ``reranker`` (every pair in one call), the ``k`` best kept."""
    if len(texts) != len(hits):
        raise ValueError(f"{len(texts)} query texts for {len(hits)} queries")
    pairs = [(query, hit.passage) for query, row in zip(texts, hits, strict=True) for hit in row]
    scores = score_pairs(reranker, pairs)
    out: list[list[SearchHit]] = []
    offset = 0
    for row in hits:
        row_scores = scores[offset : offset + len(row)]
        offset += len(row)
        out.append(
            [
                dataclasses.replace(
                    row[i],
                    score=float(row_scores[i]),
                    rerank_score=float(row_scores[i]),
                    retrieval_rank=int(i) + 1,
                    retrieval_score=row[i].score,
                )
                for i in rerank_order(row_scores, k)
            ]
        )
    return out


def _ranking_hits(ranking: Fused, docs: dict[int, Document]) -> list[SearchHit]:
    """One fused ranking's hits (keys deleted since the ranking was made are left out)."""
    hits: list[SearchHit] = []
    dense_ranks, lexical_ranks = ranking.ranks.get(DENSE), ranking.ranks.get(LEXICAL)
    for i, (key, score) in enumerate(zip(ranking.ids.tolist(), ranking.scores.tolist(), strict=True)):
        doc = docs.get(key)
        if doc is None:
            continue
        dense_rank = lexical_rank = None
        dense_score = lexical_score = None
        if dense_ranks is not None and dense_ranks[i]:
            dense_rank, dense_score = int(dense_ranks[i]), float(ranking.sources[DENSE][i])
        if lexical_ranks is not None and lexical_ranks[i]:
            lexical_rank, lexical_score = int(lexical_ranks[i]), float(ranking.sources[LEXICAL][i])
        hits.append(
            SearchHit(
                doc.id,
                float(score),
                doc.text,
                doc.metadata,
                doc.title,
                dense_rank,
                dense_score,
                lexical_rank,
                lexical_score,
            )
        )
    return hits

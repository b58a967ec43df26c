"""Information retrieval: rank a corpus for each query by exact search, score the rankings against qrels."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, TypeVar

import numpy as np

from sentvec.errors import DataFormatError
from sentvec.evaluation.base import EvaluationResult, Evaluator, main_function
from sentvec.evaluation.data import utf8_errors
from sentvec.jsonl import iter_objects
from sentvec.prompts import Role, role_prompt_name
from sentvec.search.exact import TopK, semantic_search_arrays
from sentvec.search.fusion import ALPHA, RRF_K, FusionMethod, SearchMode
from sentvec.search.rerank import DEFAULT_RERANK_CANDIDATES
from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from sentvec.protocols import Embedder, Reranker
    from sentvec.search.index import Index

Relevant = Iterable[Hashable] | Mapping[Hashable, float]
QueryId = TypeVar("QueryId", bound=Hashable)
DocId = TypeVar("DocId", bound=Hashable)


def _grades(qid: Hashable, relevant: Relevant) -> dict[Hashable, float]:
    """``{corpus id: grade}`` of the relevant documents (grade > 0); a plain collection means grade 1 each."""
    if not isinstance(relevant, Mapping):
        return dict.fromkeys(relevant, 1.0)
    grades: dict[Hashable, float] = {}
    for cid, grade in relevant.items():
        value = float(grade)
        if not math.isfinite(value):
            raise ValueError(f"relevance of document {cid!r} for query {qid!r} is not finite: {grade!r}")
        if value > 0:
            grades[cid] = value
    return grades


DEFAULT_KS: dict[str, tuple[int, ...]] = {
    "accuracy": (1, 3, 5, 10),
    "precision": (1, 3, 5, 10),  # precision and recall
    "mrr": (10,),
    "ndcg": (10,),
    "map": (100,),
}


def relevant_queries(
    queries: Iterable[QueryId], relevant_docs: Mapping[QueryId, Relevant]
) -> tuple[list[QueryId], list[dict[Hashable, float]]]:
    """The ids of the queries with at least one relevant document (grade > 0), in order, and their grades."""
    grades = {qid: _grades(qid, relevant_docs[qid]) for qid in queries if qid in relevant_docs}
    ids = [qid for qid in grades if grades[qid]]
    return ids, [grades[qid] for qid in ids]


def score_rankings(
    rankings: Mapping[SimilarityFunction, Sequence[Sequence[Hashable]]],
    relevant: Sequence[Mapping[Hashable, float]],
    main: SimilarityFunction,
    name: str,
    ks: Mapping[str, Sequence[int]] = DEFAULT_KS,
) -> EvaluationResult:
    """The metrics of each function's rankings (``"<fn>_ndcg@10"``, ...), primary: ``main``'s NDCG at the largest
    k. Used by :class:`InformationRetrievalEvaluator` and by :func:`evaluate_index` (rankings from an index)."""
    metrics: dict[str, float] = {}
    for fn, ranked in rankings.items():
        values = retrieval_metrics(
            ranked,
            relevant,
            mrr_at_k=ks["mrr"],
            ndcg_at_k=ks["ndcg"],
            accuracy_at_k=ks["accuracy"],
            precision_recall_at_k=ks["precision"],
            map_at_k=ks["map"],
        )
        metrics.update({f"{fn.value}_{key}": value for key, value in values.items()})
    return EvaluationResult(name=name, metrics=metrics, primary_metric=f"{main.value}_ndcg@{max(ks['ndcg'])}")


def _check_ks(label: str, ks: Sequence[int]) -> list[int]:
    values = list(dict.fromkeys(int(k) for k in ks))
    if not values or min(values) < 1:
        raise ValueError(f"{label} must be a non-empty list of integers >= 1, got {list(ks)}")
    return values


def retrieval_metrics(
    rankings: Sequence[Sequence[Hashable]],
    relevant: Sequence[Mapping[Hashable, float]],
    *,
    mrr_at_k: Sequence[int] = DEFAULT_KS["mrr"],
    ndcg_at_k: Sequence[int] = DEFAULT_KS["ndcg"],
    accuracy_at_k: Sequence[int] = DEFAULT_KS["accuracy"],
    precision_recall_at_k: Sequence[int] = DEFAULT_KS["precision"],
    map_at_k: Sequence[int] = DEFAULT_KS["map"],
) -> dict[str, float]:
    """Mean over queries of Accuracy@k, Precision@k, Recall@k, MRR@k, NDCG@k and MAP@k.

    ``rankings[i]`` is query i's ranked corpus ids (best first); ``relevant[i]`` maps its relevant ids to grades
    > 0 (it must not be empty). A document is relevant when it has a grade. Precision@k divides by k, Recall@k by
    the number of relevant documents, MAP@k's average precision by ``min(k, number relevant)``. NDCG@k uses the
    grades as gains with the ``1 / log2(rank + 1)`` discount, and the ideal DCG of the relevant documents sorted by
    grade (binary relevance is all grades 1).
    """
    if len(rankings) != len(relevant):
        raise ValueError(f"{len(rankings)} rankings but {len(relevant)} relevance maps")
    if not rankings:
        raise ValueError("need at least one query")
    sums: dict[str, float] = {}
    names = {"accuracy": accuracy_at_k, "precision": precision_recall_at_k, "recall": precision_recall_at_k}
    names |= {"mrr": mrr_at_k, "ndcg": ndcg_at_k, "map": map_at_k}
    for metric, ks in names.items():
        for k in ks:
            sums[f"{metric}@{k}"] = 0.0
    for ranked, grades in zip(rankings, relevant, strict=True):
        if not grades:
            raise ValueError("every query needs at least one relevant document")
        for key, value in _query_metrics(list(ranked), grades, names).items():
            sums[key] += value
    return {key: total / len(rankings) for key, total in sums.items()}


def _query_metrics(
    ranked: list[Hashable], grades: Mapping[Hashable, float], names: Mapping[str, Sequence[int]]
) -> dict[str, float]:
    gains = np.array([grades.get(cid, 0.0) for cid in ranked], dtype=np.float64)
    hits = gains > 0
    cum_hits = np.cumsum(hits)
    n_relevant = len(grades)
    length = max([len(ranked), n_relevant, *[k for ks in names.values() for k in ks]])
    discount = 1.0 / np.log2(np.arange(length) + 2.0)
    ideal = np.sort(np.fromiter(grades.values(), dtype=np.float64))[::-1]
    first_hit = int(np.argmax(hits)) if hits.any() else None
    out: dict[str, float] = {}

    def found(k: int) -> int:
        return int(cum_hits[min(k, len(ranked)) - 1]) if ranked else 0

    for k in names["accuracy"]:
        out[f"accuracy@{k}"] = float(found(k) > 0)
    for k in names["precision"]:
        out[f"precision@{k}"] = found(k) / k
        out[f"recall@{k}"] = found(k) / n_relevant
    for k in names["mrr"]:
        out[f"mrr@{k}"] = 1.0 / (first_hit + 1) if first_hit is not None and first_hit < k else 0.0
    for k in names["ndcg"]:
        dcg = float((gains[:k] * discount[: len(gains[:k])]).sum())
        idcg = float((ideal[:k] * discount[: len(ideal[:k])]).sum())
        out[f"ndcg@{k}"] = dcg / idcg
    for k in names["map"]:
        top = hits[:k]
        precisions = cum_hits[: len(top)][top] / (np.flatnonzero(top) + 1.0)
        out[f"map@{k}"] = float(precisions.sum()) / min(k, n_relevant)
    return out


class IROptions(TypedDict, total=False):
    """The keywords of :class:`InformationRetrievalEvaluator` other than its data and name (``from_beir``)."""

    mrr_at_k: Sequence[int]
    ndcg_at_k: Sequence[int]
    accuracy_at_k: Sequence[int]
    precision_recall_at_k: Sequence[int]
    map_at_k: Sequence[int]
    corpus_chunk_size: int
    score_functions: Sequence[SimilarityFunction | str] | None
    main_score_function: SimilarityFunction | str | None
    batch_size: int
    query_prompt: str | None
    query_prompt_name: str | None
    corpus_prompt: str | None
    corpus_prompt_name: str | None
    show_progress_bar: bool | None


class InformationRetrievalEvaluator(Evaluator):
    """Retrieval quality of a model: every query searches the whole corpus exactly, ranked by score.

    ``relevant_docs`` maps a query id to a set of relevant corpus ids (binary relevance) or to a
    ``{corpus id: grade}`` dict (graded; grades <= 0 mean not relevant). Queries without relevant documents are
    left out. The corpus is encoded and searched ``corpus_chunk_size`` documents at a time, keeping only a running
    top-k per query, so memory stays bounded however large it is. Rankings are by score descending, ties broken
    by corpus order (the order of ``corpus``); sentence-transformers breaks them by sorted corpus id instead.

    Prompts, as ``encode_query``/``encode_document``: queries are encoded with ``query_prompt`` (text) or
    ``query_prompt_name``, else the model's query prompt when it has one; the corpus with ``corpus_prompt`` /
    ``corpus_prompt_name``, else the model's document prompt (:mod:`sentvec.prompts` chooses both). Pass ``""``
    as the prompt text for none.

    Metrics, for each score function ``fn`` (default: the model's similarity function): ``fn_accuracy@k``,
    ``fn_precision@k``, ``fn_recall@k``, ``fn_mrr@k``, ``fn_ndcg@k`` and ``fn_map@k`` as defined by
    :func:`retrieval_metrics` (fractions in [0, 1]). The primary metric is ``<main>_ndcg@<largest ndcg k>`` for
    ``main_score_function`` (default: the model's similarity function when it is evaluated, else the first of
    ``score_functions``).
    """

    def __init__(
        self,
        queries: Mapping[QueryId, str],
        corpus: Mapping[DocId, str],
        relevant_docs: Mapping[QueryId, Relevant],
        *,
        mrr_at_k: Sequence[int] = DEFAULT_KS["mrr"],
        ndcg_at_k: Sequence[int] = DEFAULT_KS["ndcg"],
        accuracy_at_k: Sequence[int] = DEFAULT_KS["accuracy"],
        precision_recall_at_k: Sequence[int] = DEFAULT_KS["precision"],
        map_at_k: Sequence[int] = DEFAULT_KS["map"],
        corpus_chunk_size: int = 50000,
        score_functions: Sequence[SimilarityFunction | str] | None = None,
        main_score_function: SimilarityFunction | str | None = None,
        name: str = "information_retrieval",
        batch_size: int = 32,
        query_prompt: str | None = None,
        query_prompt_name: str | None = None,
        corpus_prompt: str | None = None,
        corpus_prompt_name: str | None = None,
        show_progress_bar: bool | None = None,
    ) -> None:
        self.ks = {
            "accuracy": _check_ks("accuracy_at_k", accuracy_at_k),
            "precision": _check_ks("precision_recall_at_k", precision_recall_at_k),
            "mrr": _check_ks("mrr_at_k", mrr_at_k),
            "ndcg": _check_ks("ndcg_at_k", ndcg_at_k),
            "map": _check_ks("map_at_k", map_at_k),
        }
        if corpus_chunk_size < 1:
            raise ValueError(f"corpus_chunk_size must be >= 1, got {corpus_chunk_size}")
        if not corpus:
            raise ValueError("the corpus is empty")
        query_ids, self.relevant = relevant_queries(queries, relevant_docs)
        if not query_ids:
            raise ValueError("no query has a relevant document")
        self.query_ids: list[Hashable] = list(query_ids)
        self.queries = [queries[qid] for qid in query_ids]
        self.corpus_ids: list[Hashable] = list(corpus)
        self.corpus = list(corpus.values())
        self.corpus_chunk_size = corpus_chunk_size
        self.score_functions = (
            None
            if score_functions is None
            else list(dict.fromkeys(SimilarityFunction.parse(f) for f in score_functions))
        )
        if self.score_functions == []:
            raise ValueError("score_functions is empty")
        self.main_score_function = SimilarityFunction.parse(main_score_function) if main_score_function else None
        if self.main_score_function and self.score_functions and self.main_score_function not in self.score_functions:
            raise ValueError(f"main_score_function {self.main_score_function.value!r} is not among score_functions")
        self.name = name
        self.batch_size = batch_size
        self.query_prompt, self.query_prompt_name = query_prompt, query_prompt_name
        self.corpus_prompt, self.corpus_prompt_name = corpus_prompt, corpus_prompt_name
        self.show_progress_bar = show_progress_bar

    @classmethod
    def from_beir(
        cls, folder: str | Path, split: str = "test", *, name: str | None = None, **options: Unpack[IROptions]
    ) -> InformationRetrievalEvaluator:
        """Build from a BEIR dataset folder (see :func:`load_beir`); ``name`` defaults to ``<folder>-<split>``."""
        queries, corpus, qrels = load_beir(folder, split)
        name = f"{Path(folder).name}-{split}" if name is None else name
        # mypy does not solve the id type variables of __init__ through ``cls(...)`` (its type[Self] call)
        return cls(queries, corpus, qrels, name=name, **options)  # type: ignore[arg-type]

    def _functions(self, model: Embedder) -> tuple[list[SimilarityFunction], SimilarityFunction]:
        functions = self.score_functions or [self.main_score_function or model.similarity_fn]
        return functions, main_function(model, self.main_score_function, functions)

    def _encoder(self, model: Embedder, role: Role) -> Callable[[list[str]], np.ndarray]:
        """How texts of ``role`` are encoded: with the explicit prompt text or prompt name, else the model's
        prompt for the role, else none (the model's own default applies)."""
        if role is Role.QUERY:
            prompt, name = self.query_prompt, self.query_prompt_name
        else:
            prompt, name = self.corpus_prompt, self.corpus_prompt_name
        if prompt is not None:
            return lambda texts: model.encode(
                texts, prompt=prompt, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar
            )
        if name is None:
            name = role_prompt_name(model.prompts, role)
        return lambda texts: model.encode(
            texts, prompt_name=name, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar
        )

    def rank(self, model: Embedder, functions: Sequence[SimilarityFunction]) -> dict[SimilarityFunction, np.ndarray]:
        """For each function, the ``(n_queries, min(max k, corpus size))`` corpus positions ranked best first."""
        max_k = max(k for ks in self.ks.values() for k in ks)
        encode_corpus = self._encoder(model, Role.DOCUMENT)
        query_embeddings = self._encoder(model, Role.QUERY)(self.queries)
        best = {fn: TopK(len(self.queries), max_k) for fn in functions}
        for start in range(0, len(self.corpus), self.corpus_chunk_size):
            chunk = encode_corpus(self.corpus[start : start + self.corpus_chunk_size])
            for fn in functions:
                scores, indices = semantic_search_arrays(
                    query_embeddings, chunk, top_k=max_k, score=fn, corpus_chunk_size=self.corpus_chunk_size
                )
                best[fn].add(scores, indices + start)
        return {fn: best[fn].indices for fn in functions}

    def __call__(self, model: Embedder) -> EvaluationResult:
        """Encode queries and corpus, rank the corpus for each query, average the metrics over queries."""
        functions, main = self._functions(model)
        rankings = {
            fn: [[self.corpus_ids[i] for i in row] for row in positions.tolist()]
            for fn, positions in self.rank(model, functions).items()
        }
        return score_rankings(rankings, self.relevant, main, self.name, self.ks)


def evaluate_index(
    index: Index,
    queries: Mapping[QueryId, str],
    relevant_docs: Mapping[QueryId, Relevant],
    *,
    exact: bool = False,
    name: str = "index",
    ks: Mapping[str, Sequence[int]] = DEFAULT_KS,
    mode: SearchMode | str = SearchMode.DENSE,
    fusion: FusionMethod | str = FusionMethod.RRF,
    rrf_k: float = RRF_K,
    alpha: float = ALPHA,
    candidates: int | None = None,
    rerank: Reranker | None = None,
    rerank_candidates: int = DEFAULT_RERANK_CANDIDATES,
) -> EvaluationResult:
    """The metrics of :class:`InformationRetrievalEvaluator`, ranked by a search index instead of exact search
    over a corpus held in memory.

    Each query with a relevant document searches ``index`` as deep as the largest k, with
    :meth:`Index.search <sentvec.search.index.Index.search>`'s options: ``mode`` (``"dense"``: the index's model
    and similarity function; ``"lexical"``: BM25; ``"hybrid"``: both fused by ``fusion`` with ``rrf_k`` or
    ``alpha``, ``candidates`` from each retriever) and ``rerank`` (a cross-encoder reranking each query's best
    ``max(depth, rerank_candidates)``). ``exact=True`` searches the embeddings exactly instead of with the ANN graph,
    which gives the evaluator's numbers on the index's documents (dense mode). ``ks`` holds the cut-offs by metric
    (keys as :data:`DEFAULT_KS`). The metrics are named by the index's similarity function in every mode.
    """
    query_ids, relevant = relevant_queries(queries, relevant_docs)
    if not query_ids:
        raise ValueError("no query has a relevant document")
    depth = max(k for values in ks.values() for k in values)
    hits = index.search_many(
        [queries[qid] for qid in query_ids],
        k=depth,
        exact=exact,
        mode=mode,
        fusion=fusion,
        rrf_k=rrf_k,
        alpha=alpha,
        candidates=candidates,
        rerank=rerank,
        rerank_candidates=rerank_candidates,
    )
    rankings: dict[SimilarityFunction, list[list[Hashable]]] = {index.similarity: [[h.id for h in row] for row in hits]}
    return score_rankings(rankings, relevant, index.similarity, name, ks)


# --- BEIR -------------------------------------------------------------------------------------------------------


def load_beir(
    folder: str | Path, split: str = "test"
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, float]]]:
    """Read a BEIR dataset folder: ``(queries, corpus, qrels)``.

    - ``corpus.jsonl``: objects with ``_id`` and ``text`` (and optional ``title``); the document text is
      ``(title + " " + text).strip()``.
    - ``queries.jsonl``: objects with ``_id`` and ``text``.
    - ``qrels/<split>.tsv``: tab-separated ``query-id``, ``corpus-id``, ``score`` with that header; ``qrels`` keeps
      the rows with score > 0 as ``{query id: {corpus id: score}}``.

    Ids are strings (integer ids in JSON are converted). Malformed records raise :class:`DataFormatError` naming
    file, line and field.
    """
    root = Path(folder)
    corpus: dict[str, str] = {}
    for path, line, doc_id, obj in _records(root / "corpus.jsonl"):
        title = obj.get("title") or ""
        if not isinstance(title, str):
            raise DataFormatError(path, line, f"expected text, got {type(title).__name__}", "title")
        corpus[doc_id] = (title + " " + _text(path, line, obj)).strip()
    return load_queries(root / "queries.jsonl"), corpus, load_qrels(root / "qrels" / f"{split}.tsv")


def load_queries(path: str | Path) -> dict[str, str]:
    """A BEIR ``queries.jsonl``: ``{query id: text}`` (objects with ``_id`` and ``text``)."""
    return {query_id: _text(file, line, obj) for file, line, query_id, obj in _records(Path(path))}


def _records(path: Path) -> Iterator[tuple[Path, int, str, Mapping[str, object]]]:
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    seen: set[str] = set()
    with utf8_errors(path):
        for line, obj in iter_objects(path):
            if "_id" not in obj:
                raise DataFormatError(path, line, "missing field", "_id")
            raw = obj["_id"]
            if isinstance(raw, bool) or not isinstance(raw, (str, int)):
                raise DataFormatError(path, line, f"expected a string id, got {type(raw).__name__}", "_id")
            record_id = str(raw)
            if record_id in seen:
                raise DataFormatError(path, line, f"duplicate id {record_id!r}", "_id")
            seen.add(record_id)
            yield path, line, record_id, obj


def _text(path: Path, line: int, obj: Mapping[str, object]) -> str:
    if "text" not in obj:
        raise DataFormatError(path, line, "missing field", "text")
    text = obj["text"]
    if not isinstance(text, str):
        raise DataFormatError(path, line, f"expected text, got {type(text).__name__}", "text")
    return text


QRELS_HEADER = ["query-id", "corpus-id", "score"]


def load_qrels(path: str | Path) -> dict[str, dict[str, float]]:
    """A BEIR qrels TSV (``query-id``, ``corpus-id``, ``score``): ``{query id: {corpus id: score}}`` for the rows
    with score > 0."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    qrels: dict[str, dict[str, float]] = {}
    with utf8_errors(path), open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header_seen = False
        for row in reader:
            line = reader.line_num
            if not row or not "".join(row).strip():
                continue
            if not header_seen:
                if [cell.strip() for cell in row] != QRELS_HEADER:
                    raise DataFormatError(path, line, f"expected the header {'<tab>'.join(QRELS_HEADER)}, got {row}")
                header_seen = True
                continue
            query_id, corpus_id, score = _qrels_row(path, line, row)
            if score > 0:
                qrels.setdefault(query_id, {})[corpus_id] = score
    if not header_seen:
        raise DataFormatError(path, None, "no rows")
    return qrels


def _qrels_row(path: Path, line: int, row: list[str]) -> tuple[str, str, float]:
    if len(row) != 3:
        field = QRELS_HEADER[len(row)] if len(row) < 3 else None
        raise DataFormatError(path, line, f"expected 3 tab-separated fields, got {len(row)}", field)
    query_id, corpus_id, raw = (cell.strip() for cell in row)
    for field, value in (("query-id", query_id), ("corpus-id", corpus_id)):
        if not value:
            raise DataFormatError(path, line, "empty id", field)
    try:
        score = float(raw)
    except ValueError:
        raise DataFormatError(path, line, f"score {raw!r} is not a number", "score") from None
    if not math.isfinite(score):
        raise DataFormatError(path, line, f"score {raw!r} is not finite", "score")
    return query_id, corpus_id, score

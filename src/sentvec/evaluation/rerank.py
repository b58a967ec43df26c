"""Evaluators for cross-encoders (rerankers): reranking candidate lists (MRR@k, NDCG@k, MAP) and correlation with
gold scores (Pearson, Spearman). Each returns an :class:`~sentvec.evaluation.EvaluationResult` with a primary metric,
so the trainer picks the best checkpoint of a cross-encoder by it."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec.evaluation.base import EvaluationResult, check_parallel
from sentvec.evaluation.data import load_scored_pairs
from sentvec.evaluation.retrieval import retrieval_metrics
from sentvec.evaluation.sts import pearson, spearman

if TYPE_CHECKING:
    from sentvec.protocols import Reranker

__all__ = [
    "CrossEncoderCorrelationEvaluator",
    "CrossEncoderEvaluator",
    "CrossEncoderRerankingEvaluator",
    "RerankingSample",
]


class CrossEncoderEvaluator(abc.ABC):
    """Evaluates a reranker (any :class:`~sentvec.Reranker`, e.g. :class:`~sentvec.CrossEncoder`); returns a result
    and has no side effects."""

    name: str

    @abc.abstractmethod
    def __call__(self, model: Reranker) -> EvaluationResult:
        """Run the evaluation."""


@dataclasses.dataclass(frozen=True)
class RerankingSample:
    """One query and its candidates: ``positive`` (relevant documents) and either ``negative`` (irrelevant ones) or
    ``documents`` (a first-stage retriever's candidates, best first, positives among them or not)."""

    query: str
    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()
    documents: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, raw: RerankingSample | Mapping[str, object], where: str) -> RerankingSample:
        """A sample from the reference's dict (``query``, ``positive``, ``negative`` or ``documents``)."""
        if isinstance(raw, RerankingSample):
            return raw
        if not isinstance(raw, Mapping):
            raise TypeError(f"{where} is {type(raw).__name__}, expected a dict with query, positive, negative")
        unknown = sorted(set(raw) - {"query", "positive", "negative", "documents"})
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {unknown}; expected query, positive, negative or documents")
        query = raw.get("query")
        if not isinstance(query, str):
            raise TypeError(f"{where}['query'] must be a str, got {type(query).__name__}")
        has_neg, has_docs = raw.get("negative") is not None, raw.get("documents") is not None
        if has_neg == has_docs:
            raise ValueError(f"{where} needs exactly one of 'negative' and 'documents'")
        docs = _texts(raw.get("documents"), f"{where}['documents']") if has_docs else None
        return cls(
            query=query,
            positive=_texts(raw.get("positive"), f"{where}['positive']"),
            negative=_texts(raw.get("negative"), f"{where}['negative']") if has_neg else (),
            documents=docs,
        )


def _texts(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{where} must be a list of str, got {type(value).__name__}")
    for i, text in enumerate(value):
        if not isinstance(text, str):
            raise TypeError(f"{where}[{i}] is {type(text).__name__}, expected str")
    return tuple(value)


class CrossEncoderRerankingEvaluator(CrossEncoderEvaluator):
    """How well a reranker orders each query's candidates: MRR@k, NDCG@k (binary relevance) and MAP, averaged over
    the queries (fractions in [0, 1], as :class:`~sentvec.evaluation.InformationRetrievalEvaluator`).

    Each sample has a query, its ``positive`` documents and either ``negative`` documents (the candidates are the
    positives and the negatives) or ``documents`` (a first-stage ranking, best first). With ``documents``:
    ``always_rerank_positives=True`` adds the positives missing from the candidates (an upper bound on the
    reranker); ``False`` reranks the candidates as they are, a positive missing from them counting as not found
    (what a pipeline achieves). ``documents`` also gets the first stage's own figures, ``base_mrr@k``,
    ``base_ndcg@k`` and ``base_map``. Candidates are scored with ``model.predict`` (ties keep candidate order);
    a query without a positive, or without any candidate, is skipped (the number evaluated is ``queries``).

    The primary metric is ``ndcg@k``.
    """

    def __init__(
        self,
        samples: Sequence[RerankingSample | Mapping[str, object]],
        *,
        at_k: int = 10,
        always_rerank_positives: bool = True,
        name: str = "rerank",
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
    ) -> None:
        if isinstance(at_k, bool) or not isinstance(at_k, int) or at_k < 1:
            raise ValueError(f"at_k must be an integer >= 1, got {at_k!r}")
        self.samples = [RerankingSample.parse(s, f"samples[{i}]") for i, s in enumerate(samples)]
        if not self.samples:
            raise ValueError("need at least one sample")
        self.at_k = at_k
        self.always_rerank_positives = always_rerank_positives
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar

    def candidates(self, sample: RerankingSample) -> list[str]:
        """The documents reranked for ``sample``, in candidate order, each once."""
        if sample.documents is None:
            docs = [*sample.positive, *sample.negative]
        else:
            docs = list(sample.documents)
            if self.always_rerank_positives:
                present = set(docs)
                docs += [p for p in sample.positive if p not in present]
        return list(dict.fromkeys(docs))

    def __call__(self, model: Reranker) -> EvaluationResult:
        """Score every (query, candidate) pair in one ``predict`` call, rank, and average the metrics."""
        kept = [(s, self.candidates(s)) for s in self.samples if s.positive]
        kept = [(s, docs) for s, docs in kept if docs]
        if not kept:
            raise ValueError("no sample has both a positive and a candidate document")
        pairs = [(s.query, d) for s, docs in kept for d in docs]
        scores = np.asarray(
            model.predict(pairs, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar),
            dtype=np.float64,
        )
        if scores.ndim != 1:
            raise ValueError(f"reranking needs one score per pair; the model gives {scores.shape[1]} (num_labels)")
        reranked: list[list[Hashable]] = []
        base: list[list[Hashable]] = []
        relevant: list[dict[Hashable, float]] = []
        start = 0
        for sample, docs in kept:
            own = scores[start : start + len(docs)]
            start += len(docs)
            order = np.argsort(-own, kind="stable")  # best first; ties keep candidate order
            reranked.append([docs[i] for i in order])
            base.append(list(docs))
            relevant.append(dict.fromkeys(sample.positive, 1.0))
        metrics = self._metrics(reranked, relevant, "")
        if any(s.documents is not None for s, _ in kept):
            metrics.update(self._metrics(base, relevant, "base_"))
        return EvaluationResult(name=self.name, metrics=metrics, primary_metric=f"ndcg@{self.at_k}")

    def _metrics(
        self, rankings: list[list[Hashable]], relevant: list[dict[Hashable, float]], prefix: str
    ) -> dict[str, float]:
        deepest = max(self.at_k, *(len(r) for r in rankings))
        values = retrieval_metrics(
            rankings,
            relevant,
            mrr_at_k=(self.at_k,),
            ndcg_at_k=(self.at_k,),
            accuracy_at_k=(),
            precision_recall_at_k=(),
            map_at_k=(deepest,),  # over the whole candidate list: average precision
        )
        return {
            f"{prefix}mrr@{self.at_k}": values[f"mrr@{self.at_k}"],
            f"{prefix}ndcg@{self.at_k}": values[f"ndcg@{self.at_k}"],
            f"{prefix}map": values[f"map@{deepest}"],
        }


class CrossEncoderCorrelationEvaluator(CrossEncoderEvaluator):
    """Pearson and Spearman correlation (×100, as :class:`~sentvec.evaluation.SimilarityEvaluator`) between a
    reranker's scores for text pairs and their gold scores (e.g. STS). Scores are ``model.predict``'s (after the
    model's activation). The primary metric is ``spearman``."""

    def __init__(
        self,
        sentence_pairs: Sequence[tuple[str, str]],
        scores: Sequence[float],
        *,
        name: str = "correlation",
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
    ) -> None:
        pairs = [_pair(p, f"sentence_pairs[{i}]") for i, p in enumerate(sentence_pairs)]
        check_parallel("scored pairs", 2, sentence_pairs=pairs, scores=scores)
        self.sentence_pairs = pairs
        self.scores = np.asarray(scores, dtype=np.float64)
        if not np.isfinite(self.scores).all():
            raise ValueError("a gold score is not finite")
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        columns: Sequence[str] | None = None,
        name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
    ) -> CrossEncoderCorrelationEvaluator:
        """From a CSV/TSV/JSONL file of scored pairs (see :func:`~sentvec.evaluation.load_scored_pairs`; the STS
        benchmark files as they are); ``name`` defaults to the file's stem."""
        data = load_scored_pairs(path, columns=columns)
        return cls(
            list(zip(data.sentences1, data.sentences2, strict=True)),
            data.scores,
            name=Path(path).stem if name is None else name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
        )

    def __call__(self, model: Reranker) -> EvaluationResult:
        """Score the pairs, correlate with the gold scores."""
        predicted = np.asarray(
            model.predict(self.sentence_pairs, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar),
            dtype=np.float64,
        )
        if predicted.ndim != 1:
            raise ValueError(f"correlation needs one score per pair; the model gives {predicted.shape[1]} (num_labels)")
        metrics = {
            "pearson": 100.0 * pearson(self.scores, predicted),
            "spearman": 100.0 * spearman(self.scores, predicted),
        }
        return EvaluationResult(name=self.name, metrics=metrics, primary_metric="spearman")


def _pair(item: object, where: str) -> tuple[str, str]:
    if not isinstance(item, (tuple, list)) or len(item) != 2 or not all(isinstance(t, str) for t in item):
        raise TypeError(f"{where} must be a (text, text) pair of str, got {item!r}")
    return item[0], item[1]

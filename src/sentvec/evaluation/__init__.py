"""Evaluators: small callables that take a model and return a frozen result with a primary metric."""

from sentvec.evaluation.base import EvaluationResult, Evaluator
from sentvec.evaluation.classification import BinaryClassificationEvaluator
from sentvec.evaluation.data import ScoredPairs, load_scored_pairs
from sentvec.evaluation.mse import MSEEvaluator
from sentvec.evaluation.rerank import (
    CrossEncoderCorrelationEvaluator,
    CrossEncoderEvaluator,
    CrossEncoderRerankingEvaluator,
    RerankingSample,
)
from sentvec.evaluation.retrieval import (
    InformationRetrievalEvaluator,
    evaluate_index,
    load_beir,
    load_qrels,
    load_queries,
    relevant_queries,
    retrieval_metrics,
)
from sentvec.evaluation.sequential import SequentialEvaluator
from sentvec.evaluation.sts import EmbeddingSimilarityEvaluator, SimilarityEvaluator, pearson, spearman
from sentvec.evaluation.translation import TranslationEvaluator
from sentvec.evaluation.triplet import TripletEvaluator

__all__ = [
    "BinaryClassificationEvaluator",
    "CrossEncoderCorrelationEvaluator",
    "CrossEncoderEvaluator",
    "CrossEncoderRerankingEvaluator",
    "EmbeddingSimilarityEvaluator",
    "EvaluationResult",
    "Evaluator",
    "InformationRetrievalEvaluator",
    "MSEEvaluator",
    "RerankingSample",
    "ScoredPairs",
    "SequentialEvaluator",
    "SimilarityEvaluator",
    "TranslationEvaluator",
    "TripletEvaluator",
    "evaluate_index",
    "load_beir",
    "load_qrels",
    "load_queries",
    "load_scored_pairs",
    "pearson",
    "relevant_queries",
    "retrieval_metrics",
    "spearman",
]

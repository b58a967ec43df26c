"""Evaluators: small callables that take a model and return a frozen result with a primary metric."""

from sentvec.evaluation.base import EvaluationResult, Evaluator
from sentvec.evaluation.data import ScoredPairs, load_scored_pairs
from sentvec.evaluation.sts import SimilarityEvaluator, pearson, spearman

__all__ = [
    "EvaluationResult",
    "Evaluator",
    "ScoredPairs",
    "SimilarityEvaluator",
    "load_scored_pairs",
    "pearson",
    "spearman",
]

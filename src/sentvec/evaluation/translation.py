"""Parallel-sentence retrieval: does each sentence find its own translation?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sentvec.evaluation.base import EvaluationResult, Evaluator, check_parallel
from sentvec.search.exact import semantic_search_arrays
from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from sentvec.protocols import Embedder


class TranslationEvaluator(Evaluator):
    """For each source sentence, is its parallel target the most cosine-similar of all targets
    (``src2trg_accuracy``), and vice versa (``trg2src_accuracy``)? The primary metric ``mean_accuracy`` is their
    mean; all three are fractions in [0, 1].

    A tie for the best score goes to the candidate listed first (as with ``numpy.argmax``). The search runs in
    ``chunk_size × chunk_size`` blocks, so large sets need no full similarity matrix.
    """

    def __init__(
        self,
        source_sentences: Sequence[str],
        target_sentences: Sequence[str],
        *,
        name: str = "translation",
        batch_size: int = 32,
        chunk_size: int = 1024,
        show_progress_bar: bool | None = None,
    ) -> None:
        check_parallel("sentence pair", source_sentences=source_sentences, target_sentences=target_sentences)
        self.source_sentences, self.target_sentences = list(source_sentences), list(target_sentences)
        self.name = name
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.show_progress_bar = show_progress_bar

    def _encode(self, model: Embedder, texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar)

    def _accuracy(self, queries: np.ndarray, candidates: np.ndarray) -> float:
        _, best = semantic_search_arrays(
            queries, candidates, 1, SimilarityFunction.COSINE, self.chunk_size, self.chunk_size
        )
        return float(np.mean(best[:, 0] == np.arange(len(queries))))

    def __call__(self, model: Embedder) -> EvaluationResult:
        """Encode both sides and retrieve in both directions."""
        src = self._encode(model, self.source_sentences)
        trg = self._encode(model, self.target_sentences)
        src2trg, trg2src = self._accuracy(src, trg), self._accuracy(trg, src)
        metrics = {
            "src2trg_accuracy": src2trg,
            "trg2src_accuracy": trg2src,
            "mean_accuracy": (src2trg + trg2src) / 2.0,
        }
        return EvaluationResult(name=self.name, metrics=metrics, primary_metric="mean_accuracy")

"""Distillation check: how far the student's embeddings are from a teacher's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sentvec.evaluation.base import EvaluationResult, Evaluator, check_parallel

if TYPE_CHECKING:
    from sentvec.protocols import Embedder


class MSEEvaluator(Evaluator):
    """Mean squared error ×100 between the student's embeddings of ``target_sentences`` and the teacher's of the
    parallel ``source_sentences`` (as in multilingual distillation, where targets are translations).

    The teacher embeddings are computed once, at construction. The metric is ``mse`` (primary) with
    ``greater_is_better=False``: lower is better, and unlike sentence-transformers' ``negative_mse`` it is not
    negated. Student and teacher must produce vectors of the same size.
    """

    def __init__(
        self,
        source_sentences: Sequence[str],
        target_sentences: Sequence[str],
        teacher_model: Embedder,
        *,
        name: str = "mse",
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
    ) -> None:
        check_parallel("sentence pair", source_sentences=source_sentences, target_sentences=target_sentences)
        self.target_sentences = list(target_sentences)
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.source_embeddings = np.asarray(
            teacher_model.encode(list(source_sentences), batch_size=batch_size, show_progress_bar=show_progress_bar),
            dtype=np.float64,
        )

    def __call__(self, model: Embedder) -> EvaluationResult:
        """Encode the targets with ``model`` and compare them with the teacher's source embeddings."""
        student = np.asarray(
            model.encode(self.target_sentences, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar),
            dtype=np.float64,
        )
        if student.shape != self.source_embeddings.shape:
            raise ValueError(
                f"student embeddings have shape {student.shape}, the teacher's {self.source_embeddings.shape}"
            )
        mse = float(((student - self.source_embeddings) ** 2).mean()) * 100.0
        return EvaluationResult(name=self.name, metrics={"mse": mse}, primary_metric="mse", greater_is_better=False)

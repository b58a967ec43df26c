"""A porting layer: the reference library's ``util`` functions, with its argument names and return shapes, over
sentvec's typed functions. ``from sentence_transformers import util`` → ``from sentvec import util``.

The typed API stays the primary one (:mod:`sentvec.similarity`, :mod:`sentvec.search`, :mod:`sentvec.quantization`:
enums, dataclass hits); this module exists so that ported code runs unchanged. Like the reference, the similarity
functions return a ``torch.Tensor`` when torch is installed (ported code calls ``torch.topk`` and ``.item()`` on
them), and a numpy array otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from sentvec import similarity as _sim
from sentvec._extras import available
from sentvec.arrays import ArrayLike, as_embedding_matrix, to_numpy
from sentvec.quantization import Precision
from sentvec.quantization import quantize_embeddings as _quantize
from sentvec.search.exact import semantic_search as _semantic_search
from sentvec.search.mining import communities_by_center
from sentvec.search.mining import paraphrase_mining_embeddings as _paraphrase_mining_embeddings
from sentvec.similarity import Array, SimilarityFunction

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

ScoreFunction = Callable[[Array, Array], Array]


def _as_input(x: ArrayLike) -> Array:
    """Like the reference: lists and numpy arrays become torch tensors when torch is installed; 1-D → one row."""
    if type(x).__module__.startswith("torch"):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc":
        arr = arr.astype(np.float32)
    if available("torch"):
        import torch

        return torch.from_numpy(np.ascontiguousarray(arr))
    return arr


def cos_sim(a: ArrayLike, b: ArrayLike) -> Array:
    """Cosine similarity matrix ``(N, M)``."""
    return _sim.cosine(_as_input(a), _as_input(b))


def dot_score(a: ArrayLike, b: ArrayLike) -> Array:
    """Dot-product matrix ``(N, M)``."""
    return _sim.dot(_as_input(a), _as_input(b))


def euclidean_sim(a: ArrayLike, b: ArrayLike) -> Array:
    """Negated Euclidean distance matrix ``(N, M)`` (larger is more similar)."""
    return _sim.euclidean(_as_input(a), _as_input(b))


def manhattan_sim(a: ArrayLike, b: ArrayLike) -> Array:
    """Negated Manhattan distance matrix ``(N, M)`` (larger is more similar)."""
    return _sim.manhattan(_as_input(a), _as_input(b))


def pairwise_cos_sim(a: ArrayLike, b: ArrayLike) -> Array:
    """Row-wise cosine similarity ``(N,)``."""
    return _sim.pairwise_cosine(_as_input(a), _as_input(b))


def pairwise_dot_score(a: ArrayLike, b: ArrayLike) -> Array:
    """Row-wise dot product ``(N,)``."""
    return _sim.pairwise_dot(_as_input(a), _as_input(b))


def pairwise_euclidean_sim(a: ArrayLike, b: ArrayLike) -> Array:
    """Row-wise negated Euclidean distance ``(N,)``."""
    return _sim.pairwise_euclidean(_as_input(a), _as_input(b))


def pairwise_manhattan_sim(a: ArrayLike, b: ArrayLike) -> Array:
    """Row-wise negated Manhattan distance ``(N,)``."""
    return _sim.pairwise_manhattan(_as_input(a), _as_input(b))


pytorch_cos_sim = cos_sim


def normalize_embeddings(embeddings: ArrayLike) -> Array:
    """Rows scaled to unit L2 norm."""
    return _sim.normalize(_as_input(embeddings))


def truncate_embeddings(embeddings: Array, truncate_dim: int | None) -> Array:
    """The first ``truncate_dim`` columns (all of them for None)."""
    return embeddings[..., :truncate_dim]


# The reference's score functions that sentvec computes natively (chunked, exact top-k in numpy).
_NATIVE: dict[object, SimilarityFunction] = {
    cos_sim: SimilarityFunction.COSINE,
    dot_score: SimilarityFunction.DOT,
    euclidean_sim: SimilarityFunction.EUCLIDEAN,
    manhattan_sim: SimilarityFunction.MANHATTAN,
}


def _score(score_function: ScoreFunction) -> SimilarityFunction | Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The typed function for a reference score function; any other callable runs on the reference's tensor types."""
    native = _NATIVE.get(score_function)
    if native is not None:
        return native

    def custom(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return to_numpy(score_function(_as_input(a), _as_input(b)))

    return custom


def semantic_search(
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 500000,
    top_k: int = 10,
    score_function: ScoreFunction = cos_sim,
) -> list[list[dict[str, int | float]]]:
    """For each query, its ``top_k`` corpus rows as ``{"corpus_id": int, "score": float}``, best first."""
    hits = _semantic_search(
        query_embeddings,
        corpus_embeddings,
        top_k=top_k,
        score=_score(score_function),
        query_chunk_size=query_chunk_size,
        corpus_chunk_size=corpus_chunk_size,
    )
    return [[{"corpus_id": h.corpus_id, "score": h.score} for h in row] for row in hits]


information_retrieval = semantic_search


def paraphrase_mining_embeddings(
    embeddings: ArrayLike,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: ScoreFunction = cos_sim,
) -> list[list[float | int]]:
    """The most similar pairs as ``[score, i, j]`` (``i < j``), best first, at most ``max_pairs``."""
    del corpus_chunk_size  # sentvec bounds the score block itself
    pairs = _paraphrase_mining_embeddings(
        embeddings, top_k=top_k, threshold=-np.inf, score=_score(score_function), chunk_size=query_chunk_size
    )
    return [[p.score, p.i, p.j] for p in pairs[:max_pairs]]


def paraphrase_mining(
    model: Embedder,
    sentences: Sequence[str],
    show_progress_bar: bool = False,
    batch_size: int = 32,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: ScoreFunction = cos_sim,
    truncate_dim: int | None = None,
    prompt_name: str | None = None,
    prompt: str | None = None,
) -> list[list[float | int]]:
    """Embed ``sentences`` and return their most similar pairs as ``[score, i, j]``."""
    embeddings = model.encode(
        list(sentences),
        batch_size=batch_size,
        show_progress_bar=show_progress_bar,
        truncate_dim=truncate_dim,
        prompt_name=prompt_name,
        prompt=prompt,
    )
    return paraphrase_mining_embeddings(
        embeddings, query_chunk_size, corpus_chunk_size, max_pairs, top_k, score_function
    )


def community_detection(
    embeddings: ArrayLike,
    threshold: float = 0.75,
    min_community_size: int = 10,
    batch_size: int = 1024,
    show_progress_bar: bool = False,
) -> list[list[int]]:
    """Groups of rows whose cosine similarity to a central row is at least ``threshold``, largest first; each starts
    with its central row, then the rest by similarity to it (the reference's order)."""
    del show_progress_bar
    found = communities_by_center(
        as_embedding_matrix(embeddings), threshold=threshold, min_size=min_community_size, batch_size=batch_size
    )
    return sorted((members for _, members in found), key=len, reverse=True)  # stable: as the reference orders them


def quantize_embeddings(
    embeddings: ArrayLike,
    precision: Literal["float32", "int8", "uint8", "binary", "ubinary"] | Precision,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """The reference's codes: int8/uint8 ranges from ``ranges``, else ``calibration_embeddings``, else the batch
    itself (as the reference does; prefer fixed ranges, see :func:`sentvec.quantization.quantize_embeddings`)."""
    emb = as_embedding_matrix(embeddings) if np.asarray(to_numpy(embeddings)).ndim != 1 else to_numpy(embeddings)
    precision = Precision.parse(precision)
    if precision in (Precision.INT8, Precision.UINT8) and ranges is None and calibration_embeddings is None:
        if emb.ndim == 1 or emb.shape[0] == 1:
            raise ValueError(
                f"Cannot compute {precision.value} quantization ranges from a single embedding; pass ranges= or "
                "calibration_embeddings="
            )
        calibration_embeddings = emb
    return _quantize(emb, precision, ranges, calibration_embeddings=calibration_embeddings, rounding="floor")

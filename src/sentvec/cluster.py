"""Clustering embeddings: k-means or agglomerative with k chosen by silhouette, representatives, a 2-D plot.

Needs the ``[plot]`` extra (scikit-learn, matplotlib). Embeddings are compared by cosine: they are L2-normalized
before clustering, and the silhouette is the cosine one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec._extras import require
from sentvec.arrays import ArrayLike, as_embedding_matrix
from sentvec.similarity import normalize

if TYPE_CHECKING:
    from matplotlib.axes import Axes

METHODS = ("kmeans", "agglomerative")
PROJECTIONS = ("pca", "tsne")
# Above this many points the silhouette is estimated on a seeded sample of this size (it costs O(n²)).
SILHOUETTE_SAMPLE = 10000


@dataclasses.dataclass(frozen=True)
class Clustering:
    """A clustering of ``n`` embeddings.

    Attributes:
        labels: ``(n,)`` int cluster of each embedding, ``0..k-1``; cluster 0 is the largest (ties: the cluster
            whose first member comes first).
        k: number of clusters.
        method: ``"kmeans"`` or ``"agglomerative"``.
        silhouette: mean cosine silhouette coefficient, in ``[-1, 1]`` (larger: better separated).
        centroids: ``(k, D)`` mean of each cluster's L2-normalized embeddings.
    """

    labels: np.ndarray
    k: int
    method: str
    silhouette: float
    centroids: np.ndarray

    def sizes(self) -> list[int]:
        """Number of members of each cluster, by cluster label."""
        return np.bincount(self.labels, minlength=self.k).tolist()


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return normalize(x.astype(np.float64))


def _fit_labels(x: np.ndarray, k: int, method: str, seed: int) -> np.ndarray:
    cluster_mod = require("sklearn.cluster", "Clustering embeddings")
    if method == "kmeans":
        return np.asarray(cluster_mod.KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x))
    model = cluster_mod.AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average")
    return np.asarray(model.fit_predict(x))


def _silhouette(x: np.ndarray, labels: np.ndarray, seed: int) -> float:
    if len(np.unique(labels)) < 2:
        return -1.0  # degenerate: every point in one cluster
    metrics = require("sklearn.metrics", "Clustering embeddings")
    sample = SILHOUETTE_SAMPLE if len(x) > SILHOUETTE_SAMPLE else None
    return float(metrics.silhouette_score(x, labels, metric="cosine", sample_size=sample, random_state=seed))


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel: largest cluster first, ties by first appearance."""
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(values)), key=lambda c: (-counts[c], first[c]))
    mapping = np.empty(int(values.max()) + 1, dtype=np.int64)
    mapping[values[order]] = np.arange(len(values))
    return mapping[labels]


def _check_k(k: object, n: int, what: str = "k") -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"{what} must be an integer, got {k!r}")
    if k < 2 or k > n - 1:
        raise ValueError(f"{what} must be between 2 and {n - 1} (the number of embeddings - 1), got {k}")


def cluster(
    embeddings: ArrayLike,
    k: int | None = None,
    method: str = "kmeans",
    k_range: tuple[int, int] = (2, 10),
    seed: int = 0,
) -> Clustering:
    """Cluster embeddings by cosine.

    Args:
        embeddings: ``(n, D)`` numpy array or torch tensor, ``n >= 3``.
        k: number of clusters, an integer ``2 <= k <= n - 1`` (``TypeError`` / ``ValueError`` naming ``k``
            otherwise); ``None``: the k of ``k_range`` with the best silhouette (ties: the smaller k).
        method: ``"kmeans"`` (on the L2-normalized rows) or ``"agglomerative"`` (average linkage, cosine).
        k_range: inclusive ``(smallest, largest)`` k tried when ``k`` is None; the largest is capped at ``n - 1``.
        seed: seeds k-means and the silhouette sample.

    Returns:
        A :class:`Clustering`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; valid: {', '.join(METHODS)}")
    x = _unit_rows(as_embedding_matrix(embeddings))
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"clustering needs at least 3 embeddings, got {n}")
    if k is not None:
        _check_k(k, n)
        candidates = [int(k)]
    else:
        if not isinstance(k_range, (tuple, list)) or len(k_range) != 2:
            raise ValueError(f"k_range must be a (smallest, largest) pair of integers, got {k_range!r}")
        lo, hi = k_range
        _check_k(lo, n, "the smallest k of k_range")
        if not isinstance(hi, (int, np.integer)) or isinstance(hi, bool):
            raise TypeError(f"the largest k of k_range must be an integer, got {hi!r}")
        hi = min(int(hi), n - 1)  # capped before anything is fitted: a huge k_range costs no more than n - 1
        if hi < lo:
            raise ValueError(f"k_range {tuple(k_range)} holds no k between 2 and {n - 1}")
        candidates = list(range(int(lo), hi + 1))
    best: tuple[float, int, np.ndarray] | None = None  # (silhouette, k, labels)
    for c in candidates:
        labels = _fit_labels(x, c, method, seed)
        score = _silhouette(x, labels, seed)
        if best is None or score > best[0]:
            best = (score, c, labels)
    assert best is not None
    score, _, labels = best
    labels = _canonical(labels)
    k_found = int(labels.max()) + 1
    centroids = np.stack([x[labels == c].mean(axis=0) for c in range(k_found)])
    return Clustering(labels=labels, k=k_found, method=method, silhouette=score, centroids=centroids)


def representatives(embeddings: ArrayLike, clustering: Clustering, texts: Sequence[str], n: int = 3) -> list[list[str]]:
    """For each cluster (by label), up to ``n`` of its texts closest (cosine) to its centroid, closest first
    (ties: the earlier text)."""
    x = _unit_rows(as_embedding_matrix(embeddings))
    if not len(x) == len(texts) == len(clustering.labels):
        raise ValueError(
            f"embeddings ({len(x)}), texts ({len(texts)}) and labels ({len(clustering.labels)}) must have one row each"
        )
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    centroids = _unit_rows(clustering.centroids)
    out: list[list[str]] = []
    for c in range(clustering.k):
        members = np.flatnonzero(clustering.labels == c)
        scores = x[members] @ centroids[c]
        order = np.lexsort((members, -scores))[:n]
        out.append([texts[i] for i in members[order].tolist()])
    return out


def project_2d(embeddings: ArrayLike, method: str = "pca", seed: int = 0) -> np.ndarray:
    """``(n, 2)`` coordinates of the L2-normalized embeddings: PCA, or t-SNE (cosine, PCA-initialized)."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; valid: {', '.join(PROJECTIONS)}")
    x = _unit_rows(as_embedding_matrix(embeddings))
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"a 2-D projection needs at least 2 embeddings, got {n}")
    if method == "pca":
        centered = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centered, full_matrices=False)
        coords = centered @ vt[:2].T
        return coords if coords.shape[1] == 2 else np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    manifold = require("sklearn.manifold", "t-SNE projection")
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    tsne = manifold.TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed)
    return np.asarray(tsne.fit_transform(x))


def plot_clusters(
    embeddings: ArrayLike,
    labels: ArrayLike,
    out_png: str | Path,
    method: str = "pca",
    texts: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Draw a 2-D scatter of the embeddings coloured by cluster, with a legend, and save it as a PNG.

    Args:
        embeddings: ``(n, D)`` numpy array or torch tensor.
        labels: ``(n,)`` integer cluster labels; negative labels are drawn grey as "unassigned".
        out_png: the image to write (its folder is created).
        method: ``"pca"`` or ``"tsne"``.
        texts: when given (and at most 200), each point is annotated with its text (cut at 30 characters).
        title: the plot title; default: the projection and the number of points.

    Returns:
        The path written.
    """
    require("matplotlib", "Plotting clusters")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    coords = project_2d(embeddings, method)
    if len(labels) != len(coords):
        raise ValueError(f"{len(coords)} embeddings but {len(labels)} labels")
    if texts is not None and len(texts) != len(coords):
        raise ValueError(f"{len(coords)} embeddings but {len(texts)} texts")
    fig = Figure(figsize=(8, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _scatter(ax, coords, labels)
    if texts is not None and len(texts) <= 200:
        for (px, py), text in zip(coords.tolist(), texts, strict=True):
            ax.annotate(text if len(text) <= 30 else text[:29] + "…", (px, py), fontsize=6, alpha=0.7)
    ax.set_title(title or f"{method.upper()} projection of {len(coords)} embeddings")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.legend(loc="best", fontsize=8, markerscale=1.5)
    fig.tight_layout()
    path = Path(out_png)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _scatter(ax: Axes, coords: np.ndarray, labels: np.ndarray) -> None:
    import matplotlib

    clusters = sorted(int(c) for c in np.unique(labels) if c >= 0)
    cmap = matplotlib.colormaps["tab10" if len(clusters) <= 10 else "tab20"]
    for n, c in enumerate(clusters):
        mask = labels == c
        color = cmap(n % cmap.N)
        ax.scatter(coords[mask, 0], coords[mask, 1], s=24, color=color, label=f"cluster {c} ({int(mask.sum())})")
    mask = labels < 0
    if mask.any():
        ax.scatter(coords[mask, 0], coords[mask, 1], s=12, color="lightgrey", label=f"unassigned ({int(mask.sum())})")

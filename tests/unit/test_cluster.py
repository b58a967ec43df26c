"""Clustering planted clusters, choosing k by silhouette, representatives and the PNG plot."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from sklearn.metrics import adjusted_rand_score

from sentvec.cluster import Clustering, cluster, plot_clusters, project_2d, representatives


def _planted(sizes, dim=16, noise=0.08, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.eye(dim)[: len(sizes)] * 3 + 0.1 * rng.normal(size=(len(sizes), dim))
    emb = np.concatenate([centers[c] + noise * rng.normal(size=(n, dim)) for c, n in enumerate(sizes)])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    perm = rng.permutation(len(emb))
    return emb[perm].astype(np.float32), labels[perm]


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_planted_clusters_recovered_and_k_chosen(method):
    emb, truth = _planted([12, 9, 7, 5])
    result = cluster(emb, method=method, k_range=(2, 8))
    assert isinstance(result, Clustering)
    assert result.k == 4
    assert result.method == method
    assert adjusted_rand_score(truth, result.labels) == 1.0
    assert result.sizes() == [12, 9, 7, 5]  # largest cluster first
    assert result.centroids.shape == (4, 16)
    assert 0.5 < result.silhouette <= 1.0
    given = cluster(emb, k=4, method=method)
    assert np.array_equal(given.labels, result.labels)


def test_fixed_k_and_determinism():
    emb, truth = _planted([10, 10, 10], seed=1)
    a = cluster(emb, k=3, seed=5)
    b = cluster(emb, k=3, seed=5)
    assert np.array_equal(a.labels, b.labels)
    assert adjusted_rand_score(truth, a.labels) == 1.0
    two = cluster(emb, k=2)
    assert two.k == 2 and two.silhouette < a.silhouette


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 1}, ValueError, "between 2 and"),
        ({"k": 30}, ValueError, "between 2 and 29"),
        ({"k": 2.5}, TypeError, "integer"),
        ({"k_range": (1, 5)}, ValueError, "smallest k"),
        ({"k_range": (40, 50)}, ValueError, "between 2 and"),
        ({"k_range": (5, 3)}, ValueError, "holds no k"),
        ({"method": "dbscan"}, ValueError, "unknown clustering method"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    emb, _ = _planted([10, 10, 10])
    with pytest.raises(error, match=match):
        cluster(emb, **kwargs)


def test_too_few_points():
    with pytest.raises(ValueError, match="at least 3"):
        cluster(np.ones((2, 4)))


def test_representatives_are_closest_to_centroid():
    emb, _ = _planted([6, 5, 4])
    texts = [f"text {i}" for i in range(len(emb))]
    result = cluster(emb, k=3)
    reps = representatives(emb, result, texts, n=3)
    assert len(reps) == 3 and [len(r) for r in reps] == [3, 3, 3]
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    for c, chosen in enumerate(reps):
        members = np.flatnonzero(result.labels == c)
        centroid = result.centroids[c] / np.linalg.norm(result.centroids[c])
        scores = unit[members] @ centroid
        best = [texts[members[i]] for i in np.argsort(-scores, kind="stable")[:3]]
        assert chosen == best
    assert [len(r) for r in representatives(emb, result, texts, n=10)] == [6, 5, 4]
    with pytest.raises(ValueError, match="one row each"):
        representatives(emb, result, texts[:-1])


@pytest.mark.parametrize("projection", ["pca", "tsne"])
def test_plot_written_and_not_blank(tmp_path, projection):
    from matplotlib.image import imread

    emb, truth = _planted([8, 6, 5])
    out = plot_clusters(emb, truth, tmp_path / "sub" / "plot.png", method=projection, texts=[str(i) for i in truth])
    assert out == tmp_path / "sub" / "plot.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(str(out))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels[..., :3].var() > 1e-3


def test_plot_unassigned_and_errors(tmp_path):
    emb, truth = _planted([5, 5])
    labels = truth.copy()
    labels[:3] = -1
    assert plot_clusters(emb, labels, tmp_path / "p.png").is_file()
    with pytest.raises(ValueError, match="labels"):
        plot_clusters(emb, labels[:-1], tmp_path / "q.png")
    with pytest.raises(ValueError, match="unknown projection"):
        plot_clusters(emb, labels, tmp_path / "q.png", method="umap")
    assert project_2d(emb).shape == (10, 2)

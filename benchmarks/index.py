"""HNSW vs exact search in sentvec.search.index: recall@10, latency and QPS for float32, int8 and binary graphs.

    .venv/bin/python benchmarks/index.py [--n 100000] [--dim 384] [--queries 1000] [--clusters 1000]

Data: ``n`` random-but-clustered unit vectors (Gaussian clusters around random unit centres, normalized) and
``queries`` more from the same clusters. Ground truth: exact cosine top-10 (numpy). For each precision an index
is built through the public API (documents whose "encoder" looks their vector up, so no model runs), then every
query is searched one at a time, as a service would: reported are the build time, the recall@10 of the graph
alone (usearch's top-10 over the codes) and of ``Index.search`` (int8/binary rescore max(10k, 100) candidates
with the float32 vectors), p50/p99 latency, queries per second, and the ANN file size. A last row times exact
search (``exact=True``, a chunked scan of the vectors in SQLite) on a few queries.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.search.index import Index
from sentvec.similarity import SimilarityFunction

K = 10


class LookupEncoder:
    """A stand-in model (enough of :class:`sentvec.protocols.Embedder` for an index): the text ``"v<i>"`` encodes
    as row ``i`` of a matrix. Its folder holds one "weight", the matrix's sha256, for the index's fingerprint."""

    def __init__(self, vectors: np.ndarray, folder: Path) -> None:
        from safetensors.numpy import save_file

        self.vectors = vectors
        self.dimension = vectors.shape[1]
        self.name = f"lookup-{vectors.shape[0]}x{vectors.shape[1]}"
        self.similarity_fn = SimilarityFunction.COSINE
        self.prompts: dict[str, str] = {}
        folder.mkdir(parents=True, exist_ok=True)
        digest = np.frombuffer(hashlib.sha256(np.ascontiguousarray(vectors).tobytes()).digest(), dtype=np.uint8)
        save_file({"sha256": digest.copy()}, str(folder / "model.safetensors"))
        self.source = folder

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        return self.vectors[[int(t[1:]) for t in texts]]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, centres: np.ndarray, seed: int) -> np.ndarray:
    """``n`` unit vectors scattered around random ``centres`` (cosine to their centre about 0.75)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, centres.shape[1])).astype(np.float32) * (0.9 / np.sqrt(centres.shape[1]))
    return unit(centres[rng.integers(0, len(centres), n)] + noise)


def ground_truth(corpus: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-K row ids per query (cosine of unit vectors = dot)."""
    out = np.empty((len(queries), K), dtype=np.int64)
    for start in range(0, len(queries), 100):
        scores = queries[start : start + 100] @ corpus.T
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out[start : start + 100] = np.take_along_axis(top, order, axis=1)
    return out


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))


def run(precision: str, folder: Path, corpus: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    model = LookupEncoder(corpus, folder.parent / "lookup-model")
    docs = ({"id": str(i), "text": f"v{i}"} for i in range(len(corpus)))
    start = time.perf_counter()
    calibration = corpus[:10000] if precision == "int8" else None
    with Index.create(folder, model, precision=precision, calibration=calibration) as index:
        index.add(docs, batch_size=5000)
    build_s = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in folder.glob("ann-*.usearch")) / 2**20
    with Index.open(folder, read_only=True) as index:
        assert index._ann is not None
        codes = index.codec.encode(queries)
        graph = [[int(k) - 1 for k in keys[:K]] for keys in index._ann.search(codes, K)]  # keys are rows + 1
        for q in queries[:20]:  # warm-up
            index.search(q[None], k=K)
        latencies, found = [], []
        for q in queries:
            t = time.perf_counter()
            hits = index.search(q[None], k=K)
            latencies.append(time.perf_counter() - t)
            found.append([int(h.id) for h in hits])
    lat = np.asarray(latencies) * 1000
    return {
        "precision": precision + (" + rescoring" if precision != "float32" else ""),
        "build_s": build_s,
        "graph_recall": recall(graph, truth),
        "recall": recall(found, truth),
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "qps": len(lat) / (lat.sum() / 1000),
        "size_mb": size_mb,
    }


def exact_row(folder: Path, queries: np.ndarray, truth: np.ndarray, n: int) -> dict[str, Any]:
    with Index.open(folder, read_only=True) as index:
        latencies, found = [], []
        for q in queries[:n]:
            t = time.perf_counter()
            found.append([int(h.id) for h in index.search(q[None], k=K, exact=True)])
            latencies.append(time.perf_counter() - t)
    lat = np.asarray(latencies) * 1000
    return {
        "precision": f"exact ({n} queries)",
        "build_s": float("nan"),
        "graph_recall": float("nan"),
        "recall": recall(found, truth[:n]),
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "qps": len(lat) / (lat.sum() / 1000),
        "size_mb": float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="corpus vectors (default 100000)")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--exact-queries", type=int, default=20, help="queries timed with exact=True")
    args = parser.parse_args()

    centres = unit(np.random.default_rng(0).standard_normal((args.clusters, args.dim)))
    corpus = clustered(args.n, centres, seed=1)
    queries = clustered(args.queries, centres, seed=2)
    truth = ground_truth(corpus, queries)
    print(
        f"{args.n} x {args.dim} clustered unit vectors ({args.clusters} clusters), {args.queries} queries, k={K}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    rows = []
    root = Path(tempfile.mkdtemp(prefix="sentvec-index-bench-"))
    try:
        for precision in ("float32", "int8", "binary"):
            rows.append(run(precision, root / precision, corpus, queries, truth))
        rows.append(exact_row(root / "float32", queries, truth, args.exact_queries))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    header = (
        f"{'search':<24}{'build s':>9}{'graph R@10':>12}{'R@10':>8}{'p50 ms':>9}{'p99 ms':>9}{'QPS':>9}{'ANN MB':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['precision']:<24}{r['build_s']:>9.1f}{r['graph_recall']:>12.3f}{r['recall']:>8.3f}"
            f"{r['p50']:>9.2f}{r['p99']:>9.2f}{r['qps']:>9.0f}{r['size_mb']:>9.1f}"
        )


if __name__ == "__main__":
    main()

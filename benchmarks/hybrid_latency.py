"""Hybrid search latency (p50/p99, ms) of sentvec.search.index on a 100k-document index: HNSW dense + FTS5 BM25 fused
by RRF, one query at a time, without and with a metadata filter.

    .venv/bin/python benchmarks/hybrid_latency.py [--docs 100000] [--queries 300] [--rerank DIR [--rerank-quantized]]

The index (built once, kept in ``benchmarks/.cache/hybrid-latency/``): NFCorpus's 3,633 documents
(``../shared/data/nfcorpus``; title and text) with their all-MiniLM-L6-v2 vectors, plus synthetic variants up to
``--docs``: a variant takes a real document's title, a contiguous run of its sentences and one sentence of another
document (so its terms, lengths and BM25 statistics are NFCorpus's), and as vector the normalized mix
``0.8 v_a + 0.2 v_b`` plus Gaussian noise (cosine to ``v_a`` about 0.9; so the graph holds 3,633 real clusters, not
uniform noise). Encoding 100k real documents with the model on this 2-core machine would take hours; the index is
built through the public API (``Index.create`` / ``add``) by a stand-in for the model that looks the vectors up
(the index records all-MiniLM-L6-v2 and opens with it), with the default lexical index (``mixed`` tokenizer) and a
float32 HNSW graph. Every document has metadata ``{"bucket": i % 10, "source": ...}``; the filter ``{"bucket": 3}``
keeps 10%.

Queries: the first ``--queries`` NFCorpus test queries, encoded once with all-MiniLM-L6-v2 (its single-query encode
latency is reported apart). Each row runs every query once after a warm-up, ``Index.search(vector, k=10,
text=query, mode=..., filter=...)`` on an index opened read-only (as ``sentvec serve`` opens it): the time of one
call, which is what the index adds to a query's encoding. Hybrid search fuses each retriever's 100 best (the
default ``candidates``): the ``k=100`` rows time each retriever at that depth. ``--rerank DIR``: also hybrid + a
cross-encoder reranking the 100 fused candidates (timed on the first ``--rerank-queries`` queries after a warm-up on
them; the cross-encoder's forward pass dominates).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.search.index import Index

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "nfcorpus"
CACHE = REPO / "benchmarks" / ".cache" / "hybrid-latency"
MODEL = "all-MiniLM-L6-v2"
K = 10
DEPTH = 100  # hybrid search's candidates from each retriever (its default)
WARMUP = 20
SENTENCE = re.compile(r"(?<=[.!?])\s+")


class TableEncoder:
    """The model as the index sees it (name, folder, fingerprint, dimension, prompts: all-MiniLM-L6-v2's), except that
    a text encodes as the vector the table holds for it: the index is built through the public API without
    running the model on 100k documents, and opens with the real model afterwards."""

    def __init__(self, model: Any, texts: list[str], vectors: np.ndarray) -> None:
        self.model = model
        self.rows = {text: i for i, text in enumerate(texts)}
        self.vectors = vectors

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        return self.vectors[[self.rows[t] for t in texts]]


def nfcorpus() -> list[dict[str, str]]:
    with open(DATA / "corpus.jsonl", encoding="utf-8") as f:
        return [
            {"id": r["_id"], "title": r.get("title") or "", "text": r["text"]} for r in (json.loads(line) for line in f)
        ]


def embedded(doc: dict[str, str]) -> str:
    return f"{doc['title']} {doc['text']}".strip() if doc["title"] else doc["text"]


def real_vectors(docs: list[dict[str, str]], model: Any) -> np.ndarray:
    """all-MiniLM-L6-v2 vectors of the NFCorpus documents (title + " " + text), cached."""
    path = CACHE / f"nfcorpus-{MODEL}.npy"
    if path.is_file():
        return np.load(path)
    start = time.perf_counter()
    vectors = np.asarray(model.encode([embedded(d) for d in docs], batch_size=32, show_progress_bar=True), np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    print(f"encoded {len(docs)} NFCorpus documents in {time.perf_counter() - start:.0f}s")
    return vectors


def synthetic(docs: list[dict[str, str]], vectors: np.ndarray, n: int, seed: int) -> tuple[list[dict], np.ndarray]:
    """The real documents plus variants up to ``n`` (see the module docstring), and all their vectors."""
    rng = np.random.default_rng(seed)
    sentences = [SENTENCE.split(d["text"]) for d in docs]
    out: list[dict[str, Any]] = [
        {**d, "metadata": {"bucket": i % 10, "source": "nfcorpus"}} for i, d in enumerate(docs)
    ]
    extra = n - len(docs)
    a, b = rng.integers(0, len(docs), extra), rng.integers(0, len(docs), extra)
    noise = rng.normal(0.0, 0.35 / np.sqrt(vectors.shape[1]), (extra, vectors.shape[1])).astype(np.float32)
    mixed = 0.8 * vectors[a] + 0.2 * vectors[b] + noise
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    for j in range(extra):
        own, other = sentences[a[j]], sentences[b[j]]
        start = int(rng.integers(0, len(own)))
        run = own[start : start + max(1, int(rng.integers(len(own) // 2, len(own) + 1)))]
        text = " ".join([*run, other[int(rng.integers(0, len(other)))]])
        i = len(docs) + j
        out.append(
            {"id": f"v{i}", "title": docs[a[j]]["title"], "text": text, "metadata": {"bucket": i % 10, "source": "v"}}
        )
    return out, np.concatenate([vectors, mixed]).astype(np.float32)


def build(folder: Path, n: int, seed: int, model: Any) -> None:
    docs = nfcorpus()
    all_docs, vectors = synthetic(docs, real_vectors(docs, model), n, seed)
    texts = [embedded(d) for d in all_docs]
    encoder = TableEncoder(model, texts, vectors)
    start = time.perf_counter()
    with Index.create(folder, encoder) as index:
        index.add(({**d, "title": d["title"] or None} for d in all_docs), batch_size=1000)
    took = time.perf_counter() - start
    words = sum(len(t.split()) for t in texts)
    print(f"built {folder}: {len(all_docs)} documents ({words / len(texts):.0f} words each on average) in {took:.0f}s")


def queries(limit: int) -> list[str]:
    from sentvec.evaluation.retrieval import load_qrels, load_queries, relevant_queries

    texts = load_queries(DATA / "queries.jsonl")
    ids, _ = relevant_queries(texts, load_qrels(DATA / "qrels" / "test.tsv"))
    return [texts[q] for q in ids[:limit]]


def measure(
    index: Index, texts: list[str], vectors: np.ndarray, k: int = K, **options: Any
) -> tuple[np.ndarray, float]:
    """Milliseconds of each query's search (after a warm-up on the first WARMUP), and the mean hits returned."""
    for i in range(min(WARMUP, len(texts))):
        index.search(vectors[i], k=k, text=texts[i], **options)
    times, found = [], 0
    for text, vector in zip(texts, vectors, strict=True):
        start = time.perf_counter()
        hits = index.search(vector, k=k, text=text, **options)
        times.append((time.perf_counter() - start) * 1000)
        found += len(hits)
    return np.asarray(times), found / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rerank", type=Path, help="a reranker folder: also time hybrid + reranking 100 candidates")
    parser.add_argument("--rerank-queries", type=int, default=20)
    parser.add_argument("--rerank-quantized", action="store_true", help="the reranker's int8 ONNX graph")
    args = parser.parse_args()
    logging.getLogger("sentvec").setLevel(logging.ERROR)  # no truncation notice per batch of long abstracts

    import sentvec

    model = sentvec.load(MODEL, device="cpu")
    folder = CACHE / f"index-{args.docs}-seed{args.seed}"
    if not Index.exists(folder):
        build(folder, args.docs, args.seed, model)
    texts = queries(args.queries)
    encode_ms = []
    for text in texts[:50]:
        start = time.perf_counter()
        model.encode(text)
        encode_ms.append((time.perf_counter() - start) * 1000)
    vectors = np.asarray(model.encode(texts, batch_size=64), dtype=np.float32)

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    with Index.open(folder, read_only=True) as index:  # vectors and query texts: no model needed
        info = index.info()
        print(
            f"\n{info.documents} documents ({info.precision.value} HNSW, {info.dimension} dims, lexical "
            f"{info.lexical.tokenizer.value if info.lexical else None}), {len(texts)} NFCorpus test queries one at a "
            f"time, k={K}; {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, load average "
            f"{os.getloadavg()[0]:.1f} at the start"
        )
        print(f"query encoding with {MODEL} (not included below): p50 {np.percentile(encode_ms, 50):.1f} ms")
        print(f"{'search':<34}{'filter':<14}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'QPS':>8}{'hits':>6}")
        rows: list[tuple[str, dict[str, Any]]] = [
            ("hybrid RRF (HNSW + BM25)", {"mode": "hybrid"}),
            ("dense (HNSW)", {"mode": "dense"}),
            ("lexical (BM25)", {"mode": "lexical"}),
            # what hybrid search asks of each retriever: its 100 best
            ("dense (HNSW), k=100", {"mode": "dense", "k": DEPTH}),
            ("lexical (BM25), k=100", {"mode": "lexical", "k": DEPTH}),
        ]
        for label, options in rows:
            for name, where in (("none", None), ("bucket=3 10%", {"bucket": 3})):
                ms, found = measure(index, texts, vectors, filter=where, **options)
                print(
                    f"{label:<34}{name:<14}{np.percentile(ms, 50):>9.2f}{np.percentile(ms, 99):>9.2f}"
                    f"{ms.mean():>9.2f}{1000 / ms.mean():>8.1f}{found:>6.1f}"
                )
        if args.rerank is not None:
            from sentvec.rerank import load_reranker

            reranker = load_reranker(args.rerank, quantized=args.rerank_quantized)
            few = args.rerank_queries
            for name, where in (("none", None), ("bucket=3 10%", {"bucket": 3})):
                ms, found = measure(
                    index,
                    texts[:few],
                    vectors[:few],
                    filter=where,
                    mode="hybrid",
                    rerank=reranker,
                    rerank_candidates=100,
                )
                label = f"hybrid + rerank 100 ({reranker.backend.name}{' int8' if args.rerank_quantized else ''})"
                print(
                    f"{label:<34}{name:<14}{np.percentile(ms, 50):>9.2f}{np.percentile(ms, 99):>9.2f}"
                    f"{ms.mean():>9.2f}{1000 / ms.mean():>8.1f}{found:>6.1f}"
                )


if __name__ == "__main__":
    main()

"""Lexical and hybrid search of sentvec.search.index on NFCorpus, and lexical search on a Chinese paraphrase task.

    .venv/bin/python benchmarks/hybrid.py [--split test] [--index DIR] [--data ../shared/data] [--device cpu]
                                          [--zh-model all-MiniLM-L6-v2 out/zh] [--zh-only]

NFCorpus (``<data>/nfcorpus``, BEIR layout): an index of its 3,633 documents (title and text as separate fields;
the model embeds ``title + " " + text``, as BEIR does) with all-MiniLM-L6-v2 and the default lexical index (the
``mixed`` tokenizer, title and text weighted 1 and 1: chosen on dev). Every query of the split that has a relevant
document searches it 100 deep in each mode: dense (exact and HNSW), lexical (BM25 over FTS5), hybrid RRF (k = 60)
and hybrid convex (alpha = 0.5), 100 candidates from each retriever; the rankings are scored by the IR evaluator
(:func:`sentvec.evaluation.retrieval.score_rankings`) with binary relevance (as the reference library's evaluator
and the issue's figures; the qrels' grades 1 and 2 in the ``graded`` column). Tune on ``--split dev``; report
test.
``--index DIR`` keeps the index there (built on the first run, reused after).

Chinese (``<data>/stsb/stsb-zh-test.csv``): queries are ``sentence1`` of the pairs scored >= 4, the corpus the
distinct ``sentence2``, the pair's own ``sentence2`` its relevant document. BM25 (:class:`sentvec.search.BM25`,
the index's scoring) recall@10 and MRR@10 with each tokenizer (``cjk`` and ``mixed`` index CJK text as characters
and bigrams; ``english`` takes a CJK run as one word, as FTS5's unicode61 does). Each ``--zh-model`` (e.g. the
distilled model of ``examples/distill_zh.py``) then runs the task through an index: dense, lexical and hybrid.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

import sentvec
from sentvec.evaluation.retrieval import DEFAULT_KS, load_qrels, load_queries, relevant_queries, score_rankings
from sentvec.search import BM25
from sentvec.search.index import Index

DEPTH = 100
KS = {**DEFAULT_KS, "precision": (1, 3, 5, 10, 100)}  # recall@100 too
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODES = [
    ("dense (exact)", {"mode": "dense", "exact": True}),
    ("dense (HNSW)", {"mode": "dense"}),
    ("lexical (BM25)", {"mode": "lexical"}),
    ("hybrid RRF k=60", {"mode": "hybrid", "fusion": "rrf", "rrf_k": 60}),
    ("hybrid convex a=0.5", {"mode": "hybrid", "fusion": "convex", "alpha": 0.5}),
]


def nfcorpus_docs(folder: Path) -> list[dict[str, object]]:
    docs = []
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            docs.append({"id": record["_id"], "text": record["text"], "title": record.get("title") or None})
    return docs


def open_index(folder: Path, data: Path, device: str) -> Index:
    model = sentvec.load("all-MiniLM-L6-v2", device=device)
    if Index.exists(folder):
        return Index.open(folder, model, read_only=True)
    start = time.perf_counter()
    with Index.create(folder, model) as index:
        index.add(nfcorpus_docs(data / "nfcorpus"), batch_size=256)
    print(f"built {folder} in {time.perf_counter() - start:.0f}s")
    return Index.open(folder, model, read_only=True)


def nfcorpus(index: Index, data: Path, split: str, extra: list[tuple[str, dict[str, object]]]) -> None:
    queries = load_queries(data / "nfcorpus" / "queries.jsonl")
    qrels = load_qrels(data / "nfcorpus" / "qrels" / f"{split}.tsv")
    query_ids, graded = relevant_queries(queries, qrels)
    _, relevant = relevant_queries(queries, {q: set(docs) for q, docs in qrels.items()})  # binary relevance
    texts = [queries[q] for q in query_ids]
    print(f"\nNFCorpus {split}: {len(query_ids)} queries, {len(index)} documents, all-MiniLM-L6-v2, depth {DEPTH}")
    print(f"{'mode':<26}{'NDCG@10':>9}{'graded':>8}{'MRR@10':>9}{'R@100':>8}{'ms/query':>10}")
    for label, options in MODES + extra:
        start = time.perf_counter()
        hits = index.search_many(texts, k=DEPTH, **options)  # type: ignore[arg-type]
        elapsed = (time.perf_counter() - start) * 1000 / len(texts)
        rankings = {index.similarity: [[h.id for h in row] for row in hits]}
        metrics = score_rankings(rankings, relevant, index.similarity, label, KS).metrics
        ndcg = score_rankings(rankings, graded, index.similarity, label, KS).metrics
        fn = index.similarity.value
        print(
            f"{label:<26}{100 * metrics[f'{fn}_ndcg@10']:>9.2f}{100 * ndcg[f'{fn}_ndcg@10']:>8.2f}"
            f"{100 * metrics[f'{fn}_mrr@10']:>9.2f}{100 * metrics[f'{fn}_recall@100']:>8.2f}{elapsed:>10.1f}"
        )


def chinese_task(path: Path) -> tuple[list[str], list[str], list[int]]:
    """(queries, corpus, the relevant corpus row of each query) of the STSb-zh paraphrase-retrieval task."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [(a, b, float(score)) for a, b, score in csv.reader(f)]
    corpus = list(dict.fromkeys(b for _, b, _ in rows))
    row_of = {text: i for i, text in enumerate(corpus)}
    pairs = [(a, row_of[b]) for a, b, score in rows if score >= 4]
    return [a for a, _ in pairs], corpus, [r for _, r in pairs]


def zh(data: Path, split: str, models: list[str], device: str) -> None:
    queries, corpus, relevant = chinese_task(data / "stsb" / f"stsb-zh-{split}.csv")
    print(f"\nSTSb-zh {split} paraphrase retrieval: {len(queries)} queries, {len(corpus)} documents (BM25)")
    print(f"{'tokenizer':<12}{'R@10':>8}{'MRR@10':>9}")
    for tokenizer in ("mixed", "cjk", "english"):
        found = BM25(corpus, tokenizer=tokenizer).search_arrays(queries, 10)
        recall, mrr = recall_mrr([list(ids) for ids, _ in found], relevant)
        print(f"{tokenizer:<12}{recall:>8.1f}{mrr:>9.1f}")
    for name in models:
        zh_index(name, queries, corpus, relevant, device)


def recall_mrr(rankings: list[list[int]], relevant: list[int]) -> tuple[float, float]:
    """Recall@10 and MRR@10 (in %) of one relevant row per query."""
    ranks = [ids[:10].index(rel) + 1 if rel in ids[:10] else 0 for ids, rel in zip(rankings, relevant, strict=True)]
    return 100 * float(np.mean([r > 0 for r in ranks])), 100 * float(np.mean([1 / r if r else 0.0 for r in ranks]))


def zh_index(name: str, queries: list[str], corpus: list[str], relevant: list[int], device: str) -> None:
    """The zh task through a persistent index (default ``mixed`` lexical tokenizer) with model ``name``."""
    model = sentvec.load(name, device=device)
    print(f"\n{name}: dense, lexical and hybrid through sentvec.search.index ({len(corpus)} documents)")
    print(f"{'mode':<26}{'R@10':>8}{'MRR@10':>9}")
    with tempfile.TemporaryDirectory() as tmp, Index.create(Path(tmp) / "zh", model) as index:
        index.add([{"id": str(i), "text": text} for i, text in enumerate(corpus)], batch_size=256)
        for label, options in MODES:
            hits = index.search_many(queries, k=10, **options)  # type: ignore[arg-type]
            recall, mrr = recall_mrr([[int(h.id) for h in row] for row in hits], relevant)
            print(f"{label:<26}{recall:>8.1f}{mrr:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding nfcorpus/ and stsb/")
    parser.add_argument("--index", type=Path, help="keep the NFCorpus index here (reused when it exists)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--alpha", type=float, nargs="*", default=[], help="more convex weights to measure")
    parser.add_argument("--rrf-k", type=float, nargs="*", default=[], help="more RRF constants to measure")
    parser.add_argument(
        "--zh-model",
        nargs="*",
        default=[],
        help="models to run the Chinese task with through an index (dense, lexical, hybrid), e.g. out/zh",
    )
    parser.add_argument("--zh-only", action="store_true", help="skip NFCorpus")
    args = parser.parse_args()
    logging.getLogger("sentvec").setLevel(logging.ERROR)  # not a line per batch of long (truncated) abstracts
    extra: list[tuple[str, dict[str, object]]] = [
        (f"hybrid convex a={a}", {"mode": "hybrid", "fusion": "convex", "alpha": a}) for a in args.alpha
    ]
    extra += [(f"hybrid RRF k={k:g}", {"mode": "hybrid", "fusion": "rrf", "rrf_k": k}) for k in args.rrf_k]
    if not args.zh_only:
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.index or Path(tmp) / "nfcorpus-index"
            with open_index(folder, args.data, args.device) as index:
                nfcorpus(index, args.data, args.split, extra)
    zh(args.data, args.split, args.zh_model, args.device)


if __name__ == "__main__":
    main()

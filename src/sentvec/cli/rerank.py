"""``sentvec rerank``: score the texts of a file against a query with a cross-encoder and print them best first."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sentvec.cli.common import RERANK_BACKEND_CHOICES, Subparsers, quantized


def add_parser(sub: Subparsers) -> None:
    """Register ``rerank``."""
    p = sub.add_parser(
        "rerank",
        help="rank the texts of a file by relevance to a query with a cross-encoder (reranker)",
        description="Score (query, text) for every text of --input with a cross-encoder and print the texts best "
        "first: rank, score (after the model's activation) and text.",
    )
    p.add_argument("--model", "-m", required=True, help="reranker (cross-encoder) name or folder")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    p.add_argument("--query", "-q", required=True, help="the query text")
    p.add_argument("--input", required=True, type=Path, help=".txt (one text per line), .jsonl or .csv/.tsv")
    p.add_argument("--field", help="text field of a .jsonl input")
    p.add_argument("--column", help="text column of a .csv/.tsv input: header name or 0-based index")
    p.add_argument("--top-k", type=int, help="print only the best N (default: every text)")
    p.add_argument("--batch-size", type=int, default=32, help="pairs per forward pass (default 32)")
    p.add_argument("--backend", default="auto", choices=RERANK_BACKEND_CHOICES)
    p.add_argument(
        "--quantized",
        action="store_true",
        help="run the reranker's int8 ONNX graph (onnx/model_qint8.onnx, or the reference's export for this CPU)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of {rank, index, score, text}")
    p.set_defaults(func=cmd_rerank)


def cmd_rerank(args: argparse.Namespace) -> int:
    """``sentvec rerank``: every text of the file scored against the query, best first."""
    from sentvec.cli.textio import read_texts

    if args.top_k is not None and args.top_k < 1:
        raise ValueError(f"--top-k must be a positive integer, got {args.top_k}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    use_int8 = quantized(args)
    texts = list(read_texts(args.input, field=args.field, column=args.column))  # read whole before the model loads
    if not texts:
        raise ValueError(f"{args.input}: no texts")
    for i, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{args.input}: text {i} is not valid Unicode (a lone surrogate at {e.start})") from None

    from sentvec.rerank import load_reranker

    reranker = load_reranker(args.model, device=args.device, backend=args.backend, quantized=use_int8)
    if reranker.num_labels != 1:
        raise ValueError(
            f"{args.model}: ranking needs a one-label model (a relevance score per pair); it has "
            f"{reranker.num_labels} labels"
        )
    ranked = reranker.rank(args.query, texts, top_k=args.top_k, batch_size=args.batch_size)
    if args.json:
        rows = [
            {"rank": rank, "index": hit.corpus_id, "score": hit.score, "text": texts[hit.corpus_id]}
            for rank, hit in enumerate(ranked, start=1)
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for rank, hit in enumerate(ranked, start=1):
        text = texts[hit.corpus_id]
        text = text if len(text) <= 100 else text[:97] + "..."
        print(f"{rank:>4}  {hit.score:10.4f}  {text}")
    return 0

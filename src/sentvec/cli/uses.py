"""``sentvec cluster`` and ``sentvec mine-paraphrases``: uses of embeddings on a file of texts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from sentvec.cli.common import Subparsers, check_output_file, load_model, model_arg, overwrite_arg


def add_parsers(sub: Subparsers) -> None:
    """Register ``cluster`` and ``mine-paraphrases``."""
    p = sub.add_parser(
        "cluster",
        help="cluster the texts of a file (k-means or agglomerative, k by silhouette)",
        description="Cluster the texts of a file by the cosine of their embeddings; k is chosen by silhouette "
        "unless given. Writes one JSON line per text and prints each cluster's size and representative texts.",
    )
    _common(p)
    p.add_argument("--k", type=int, help="number of clusters (default: best silhouette over --k-range)")
    p.add_argument("--k-range", default="2,10", help="smallest,largest k tried when --k is not given (default 2,10)")
    p.add_argument("--method", default="kmeans", choices=["kmeans", "agglomerative"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", type=Path, help="also draw the clusters in 2-D to this .png")
    p.add_argument("--projection", default="pca", choices=["pca", "tsne"], help="2-D projection of --plot")
    p.add_argument("--output", required=True, type=Path, help=".jsonl: {index, text, cluster} per text")
    overwrite_arg(p, "an existing --output or --plot file")
    p.set_defaults(func=_cmd_cluster)

    p = sub.add_parser(
        "mine-paraphrases",
        help="find the most similar pairs of texts in a file",
        description="Pair each text with its --top-k most similar other texts; write the pairs scoring at least "
        "--threshold, most similar first.",
    )
    _common(p)
    p.add_argument("--top-k", type=int, default=5, help="neighbours considered per text (default 5)")
    p.add_argument("--threshold", type=float, default=0.0, help="smallest score kept (default 0.0)")
    p.add_argument("--output", required=True, type=Path, help=".jsonl: {score, i, j, text_i, text_j} per pair")
    overwrite_arg(p, "an existing --output file")
    p.set_defaults(func=_cmd_mine_paraphrases)


def _common(p: argparse.ArgumentParser) -> None:
    model_arg(p)
    p.add_argument("--input", required=True, type=Path, help=".txt (one text per line), .jsonl or .csv/.tsv")
    p.add_argument("--field", help="text field of a .jsonl input")
    p.add_argument("--column", help="text column of a .csv/.tsv input: header name or 0-based index")
    p.add_argument("--batch-size", type=int, default=32)


def _texts(args: argparse.Namespace) -> list[str]:
    from sentvec.cli.textio import read_texts

    texts = list(read_texts(args.input, field=args.field, column=args.column))
    if not texts:
        raise ValueError(f"{args.input}: no texts")
    return texts


def _check_output(args: argparse.Namespace, path: Path | None, suffix: str, flag: str) -> None:
    """Before the model loads: the type of an output file, and that it can be written (:func:`check_output_file`)."""
    if path is None:
        return
    if path.suffix.lower() != suffix:
        raise ValueError(f"{path}: {flag} must be a {suffix} file")
    check_output_file(path, overwrite=args.overwrite, flag=flag, inputs=[args.input])


def _k_range(text: str) -> tuple[int, int]:
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--k-range must be two integers 'smallest,largest', got {text!r}")
    return int(parts[0]), int(parts[1])


def _cmd_cluster(args: argparse.Namespace) -> int:
    from sentvec.cluster import _check_k, cluster, plot_clusters, representatives

    _check_output(args, args.output, ".jsonl", "--output")
    _check_output(args, args.plot, ".png", "--plot")
    k_range = _k_range(args.k_range)
    texts = _texts(args)
    if len(texts) < 3:
        raise ValueError(f"{args.input}: clustering needs at least 3 texts, got {len(texts)}")
    if args.k is not None:  # before the model loads
        _check_k(args.k, len(texts), "--k")
    emb = load_model(args).encode(texts, batch_size=args.batch_size)
    result = cluster(emb, k=args.k, method=args.method, k_range=k_range, seed=args.seed)
    _write_jsonl(
        args.output,
        (
            {"index": i, "text": t, "cluster": c}
            for i, (t, c) in enumerate(zip(texts, result.labels.tolist(), strict=True))
        ),
    )
    how = "given" if args.k is not None else f"best silhouette over {k_range[0]}..{min(k_range[1], len(texts) - 1)}"
    print(f"{len(texts)} texts, {result.method}: k = {result.k} ({how}), silhouette {result.silhouette:.4f}")
    for c, (size, reps) in enumerate(zip(result.sizes(), representatives(emb, result, texts, n=3), strict=True)):
        print(f"cluster {c}: {size} text{'s' if size != 1 else ''}")
        for text in reps:
            print(f"  - {_short(text)}")
    print(f"wrote {len(texts)} lines to {args.output}")
    if args.plot is not None:
        from sentvec.cli.textio import replacing

        with replacing(args.plot) as partial:
            labels = texts if len(texts) <= 50 else None
            plot_clusters(emb, result.labels, partial, method=args.projection, texts=labels)
        print(f"wrote the plot to {args.plot}")
    return 0


def _cmd_mine_paraphrases(args: argparse.Namespace) -> int:
    from sentvec.search.mining import paraphrase_mining

    _check_output(args, args.output, ".jsonl", "--output")
    if args.top_k < 1:  # before the model loads
        raise ValueError(f"--top-k must be >= 1, got {args.top_k}")
    texts = _texts(args)
    model = load_model(args)
    pairs = paraphrase_mining(model, texts, top_k=args.top_k, threshold=args.threshold, batch_size=args.batch_size)
    _write_jsonl(
        args.output,
        (
            {"score": p.score, "i": p.i, "j": p.j, "text_i": texts[p.i], "text_j": texts[p.j]}
            for p in pairs  # score as float: JSON keeps the full precision
        ),
    )
    print(
        f"{len(pairs)} pairs among {len(texts)} texts ({model.similarity_fn.value} >= {args.threshold}, "
        f"top {args.top_k} per text); wrote them to {args.output}"
    )
    for p in pairs[:5]:
        print(f"  {p.score:.4f}  {_short(texts[p.i], 35)}  |  {_short(texts[p.j], 35)}")
    return 0


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    from sentvec.cli.textio import replacing

    with replacing(path) as partial, open(partial, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"

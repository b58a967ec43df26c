"""``sentvec`` console entry point: subcommands, and user errors as one line with exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentvec.cli import evaluate
from sentvec.cli.common import load_model, model_arg
from sentvec.errors import SentvecError

USER_ERRORS = (SentvecError, ValueError, TypeError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="sentvec", description="Sentence embeddings: encode, compare, evaluate.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "encode",
        help="embed the texts of a file (in this process, or on Ray with --engine ray)",
        description="Embed the texts of a file. --engine ray reads JSONL/Parquet/CSV files or folders (local or "
        "URLs), embeds on a Ray actor pool and writes Parquet files with columns id and embedding to --output.",
    )
    model_arg(p)
    p.add_argument(
        "--input",
        required=True,
        help=".txt (one text per line), .jsonl or .csv/.tsv (ray: also .parquet, folders and URLs)",
    )
    p.add_argument("--field", help="text field of a .jsonl input (ray: of any input; default text)")
    p.add_argument("--column", help="text column of a .csv/.tsv input: header name or 0-based index")
    p.add_argument("--output", required=True, help=".npy, .parquet or .jsonl (ray: an output folder)")
    p.add_argument("--normalize", action="store_true", help="L2-normalize the vectors")
    p.add_argument("--batch-size", type=int, default=32, help="texts per forward pass")
    p.add_argument("--chunk-size", type=int, default=4096, help="texts read and written at a time (bounds memory)")
    p.add_argument("--precision", default="float32", choices=["float32", "int8", "uint8", "binary", "ubinary"])
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    ray_opts = p.add_argument_group("--engine ray")
    ray_opts.add_argument("--engine", default="local", choices=["local", "ray"])
    ray_opts.add_argument("--id-field", default="id", help="document id field, written to the id column")
    ray_opts.add_argument("--format", choices=["jsonl", "parquet", "csv"], help="input format (default: by extension)")
    ray_opts.add_argument("--actors", type=int, help="embedding actors (default: one per CPU of the cluster)")
    ray_opts.add_argument("--rows-per-call", type=int, default=1024, help="rows handed to an actor at a time")
    ray_opts.add_argument("--cpus-per-actor", type=float, help="default: the cluster's CPUs shared among actors")
    ray_opts.add_argument("--gpus-per-actor", type=float, default=0.0)
    ray_opts.add_argument("--address", help="join a running cluster: auto or ray://host:port (default: start one)")
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser("similarity", help="print the similarity matrix of texts")
    model_arg(p)
    p.add_argument("texts", nargs="+", help="two or more texts")
    p.set_defaults(func=_cmd_similarity)

    p = sub.add_parser("eval", help="evaluate a model")
    eval_sub = p.add_subparsers(dest="task", required=True, metavar="TASK")
    sts = eval_sub.add_parser("sts", help="semantic textual similarity (Spearman/Pearson ×100)")
    model_arg(sts)
    sts.add_argument("--data", required=True, type=Path, help="CSV/TSV/JSONL of sentence1, sentence2, score")
    sts.add_argument("--columns", help="comma-separated column names for files with a header")
    sts.add_argument("--batch-size", type=int, default=32)
    sts.add_argument("--json", type=Path, dest="json_out", help="also write the result as JSON here")
    sts.set_defaults(func=_cmd_eval_sts)
    evaluate.add_parsers(eval_sub)

    p = sub.add_parser("export", help="export the whole pipeline to one ONNX graph, checked against torch")
    p.add_argument("model", help="model name or folder")
    p.add_argument("--format", default="onnx", choices=["onnx"])
    p.add_argument("--quantize", choices=["int8"], help="also write onnx/model_qint8.onnx (dynamic int8 weights)")
    p.add_argument("--output", type=Path, help="write a complete copy of the model folder here (default: in place)")
    p.add_argument("--calibration", type=Path, help="texts (.txt, one per line) to check the graph on")
    p.add_argument("--sts", type=Path, help="an STS file: report each graph's Spearman on it")
    p.set_defaults(func=_cmd_export)

    from sentvec.cli import serve, train

    train.add_parser(sub)
    from sentvec.cli import index

    index.add_parser(sub)
    serve.add_parser(sub)
    from sentvec.cli import uses

    uses.add_parsers(sub)

    p = sub.add_parser("info", help="describe a model: modules, dimension, max length, files")
    p.add_argument("model", help="model name or folder")
    p.set_defaults(func=_cmd_info)
    return parser


def _cmd_encode(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        return _cmd_encode_ray(args)
    from tqdm.auto import tqdm

    from sentvec.cli.textio import OUTPUT_TYPES, EmbeddingWriter, read_texts

    args.input, args.output = Path(args.input), Path(args.output)
    if args.output.suffix.lower() not in OUTPUT_TYPES:
        raise ValueError(f"{args.output}: unsupported output type; use one of {', '.join(OUTPUT_TYPES)}")

    def texts() -> Any:
        return read_texts(args.input, field=args.field, column=args.column)

    total = sum(1 for _ in texts())  # one cheap pass: validates every row and sizes the output
    if total == 0:
        raise ValueError(f"{args.input}: no texts")
    model = load_model(args)
    n_tokens = n_truncated = 0
    chunks = model.encode_stream(
        texts(),
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        normalize_embeddings=args.normalize,
        precision=args.precision,
        return_info=True,
    )
    progress = tqdm(total=total, desc="Encoding", unit="text", disable=total < 1000)
    with progress, EmbeddingWriter(args.output, total=total) as writer:
        for emb, info in chunks:
            writer.write(emb)
            n_tokens += info.total_tokens
            n_truncated += info.n_truncated
            progress.update(len(emb))
    print(
        f"wrote {writer.rows} embeddings to {args.output} "
        f"({n_tokens} tokens, {n_truncated} truncated at {model.max_seq_length})"
    )
    return 0


def _cmd_encode_ray(args: argparse.Namespace) -> int:
    from sentvec.distributed.ray import encode_dataset

    if args.column is not None:
        raise ValueError("--column is for local CSV input; with --engine ray name the text field with --field")
    report = encode_dataset(
        args.model,
        args.input,
        args.output,
        field=args.field or "text",
        id_field=args.id_field,
        format=args.format,
        actors=args.actors,
        cpus_per_actor=args.cpus_per_actor,
        gpus_per_actor=args.gpus_per_actor,
        batch_size=args.rows_per_call,
        encode_batch_size=args.batch_size,
        backend=args.backend,
        normalize=args.normalize,
        precision=args.precision,
        address=args.address,
    )
    print(
        f"wrote {report.rows} embeddings ({report.dimension} dims) to {report.output} in {report.files} file(s) "
        f"({report.tokens} tokens, {report.truncated} truncated at {report.max_seq_length})"
    )
    return 0


def _cmd_similarity(args: argparse.Namespace) -> int:
    model = load_model(args)
    emb = model.encode(args.texts)
    sim = model.similarity(emb, emb)
    labels = [t if len(t) <= 40 else t[:37] + "..." for t in args.texts]
    width = min(max(len(t) for t in labels), 40)
    print(f"{model.similarity_fn.value} similarity")
    print(" " * (width + 2) + "".join(f"{i:>8d}" for i in range(len(labels))))
    for i, label in enumerate(labels):
        print(f"{label:<{width}}{i:>2d}" + "".join(f"{float(v):8.4f}" for v in sim[i]))
    return 0


def _cmd_eval_sts(args: argparse.Namespace) -> int:
    from sentvec.evaluation import SimilarityEvaluator

    columns = args.columns.split(",") if args.columns else None
    evaluator = SimilarityEvaluator.from_file(args.data, columns=columns, batch_size=args.batch_size)
    model = load_model(args)
    result = evaluator(model)
    print(f"STS evaluation of {args.model} on {args.data} ({len(evaluator.scores)} pairs)")
    print(f"{'similarity':<12}{'Pearson':>10}{'Spearman':>10}")
    for fn in ("cosine", "dot", "euclidean", "manhattan"):
        print(f"{fn:<12}{result.metrics['pearson_' + fn]:>10.2f}{result.metrics['spearman_' + fn]:>10.2f}")
    print(f"primary: {result.primary_metric} = {result.primary_value:.2f}")
    if args.json_out:
        args.json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    import sentvec
    from sentvec.cli.textio import read_texts
    from sentvec.export import export_onnx

    texts = list(read_texts(args.calibration)) if args.calibration else None
    model = sentvec.load(args.model, backend="torch", device="cpu")
    report = export_onnx(model, args.output, quantize=args.quantize, calibration_texts=texts, sts_file=args.sts)
    print(f"exported to {report.folder}/onnx ({report.calibration_texts} calibration texts)")
    for check in report.checks:
        line = f"  {check.file}: max abs diff {check.max_abs_diff:.2e}, mean cosine {check.mean_cosine:.6f}"
        if check.sts_spearman is not None:
            line += f", STS Spearman {check.sts_spearman:.2f} (torch {check.sts_spearman_torch:.2f})"
        print(line)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import sentvec

    model = sentvec.load(args.model)
    facts = model.info()
    for key in ("name", "source", "backend", "device", "modules", "dimension", "max_seq_length", "similarity_fn"):
        print(f"{key + ':':<16}{facts.get(key)}")
    print(f"{'prompts:':<16}{facts['prompts'] or '-'}")
    print(f"{'parameters:':<16}{facts.get('parameters', '-')}")
    if model.source is not None:
        files = sorted(str(p.relative_to(model.source)) for p in model.source.rglob("*") if p.is_file())
        print(f"{'files:':<16}{', '.join(files)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors print one line on stderr and exit with code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return int(args.func(args))
    except USER_ERRORS as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"sentvec: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sentvec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``sentvec encode`` (a file of texts to a file of embeddings, here or on Ray) and ``sentvec similarity``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from sentvec.cli.common import (
    PRECISION_CHOICES,
    Subparsers,
    check_output_file,
    check_output_folder,
    check_prompt_name,
    encoding_args,
    load_model,
    model_arg,
    overwrite_arg,
    quantized,
)


def add_parsers(sub: Subparsers) -> None:
    """Register ``encode`` and ``similarity``."""
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
    overwrite_arg(p, "an existing --output (ray: write into a folder that holds files)")
    p.add_argument("--normalize", action="store_true", help="L2-normalize the vectors")
    p.add_argument("--batch-size", type=int, default=32, help="texts per forward pass")
    p.add_argument("--chunk-size", type=int, default=4096, help="texts read and written at a time (bounds memory)")
    p.add_argument("--precision", default="float32", choices=PRECISION_CHOICES)
    encoding_args(p, "put the model's prompt of this name before each text (e.g. query, document)")
    ray_opts = p.add_argument_group("--engine ray")
    ray_opts.add_argument("--engine", default="local", choices=["local", "ray"])
    ray_opts.add_argument("--id-field", default="id", help="document id field, written to the id column")
    ray_opts.add_argument("--format", choices=["jsonl", "parquet", "csv"], help="input format (default: by extension)")
    ray_opts.add_argument("--actors", type=int, help="embedding actors (default: one per CPU of the cluster)")
    ray_opts.add_argument("--rows-per-call", type=int, default=1024, help="rows handed to an actor at a time")
    ray_opts.add_argument("--cpus-per-actor", type=float, help="default: the cluster's CPUs shared among actors")
    ray_opts.add_argument("--gpus-per-actor", type=float, default=0.0)
    ray_opts.add_argument("--address", help="join a running cluster: auto or ray://host:port (default: start one)")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("similarity", help="print the similarity matrix of texts")
    model_arg(p)
    p.add_argument("texts", nargs="+", help="two or more texts")
    p.set_defaults(func=cmd_similarity)


def cmd_encode(args: argparse.Namespace) -> int:
    """``sentvec encode``: stream the texts through the model, ``--chunk-size`` at a time, into the output."""
    if args.engine == "ray":
        return cmd_encode_ray(args)
    from tqdm.auto import tqdm

    from sentvec.cli.textio import OUTPUT_TYPES, EmbeddingWriter, read_texts

    source, output = Path(args.input), Path(args.output)
    if output.suffix.lower() not in OUTPUT_TYPES:
        raise ValueError(f"{output}: unsupported output type; use one of {', '.join(OUTPUT_TYPES)}")
    check_output_file(output, overwrite=args.overwrite, inputs=[source])  # before minutes of loading and encoding

    def texts() -> Iterator[str]:
        return read_texts(source, field=args.field, column=args.column)

    total = sum(1 for _ in texts())  # one cheap pass: validates every row and sizes the output
    if total == 0:
        raise ValueError(f"{source}: no texts")
    model = load_model(args)
    check_prompt_name(model, args.prompt_name)
    n_tokens = n_truncated = 0
    chunks = model.encode_stream(
        texts(),
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        prompt_name=args.prompt_name,
        normalize_embeddings=args.normalize,
        precision=args.precision,
    )
    progress = tqdm(total=total, desc="Encoding", unit="text", disable=total < 1000)
    with progress, EmbeddingWriter(output, total=total) as writer:
        for emb, info in chunks:
            writer.write(emb)
            n_tokens += info.total_tokens
            n_truncated += info.n_truncated
            progress.update(len(emb))
    print(
        f"wrote {writer.rows} embeddings to {output} "
        f"({n_tokens} tokens, {n_truncated} truncated at {model.max_seq_length})"
    )
    return 0


def cmd_encode_ray(args: argparse.Namespace) -> int:
    """``sentvec encode --engine ray``: :func:`sentvec.distributed.ray.encode_dataset` on a Ray actor pool."""
    from sentvec.distributed.ray import encode_dataset

    if args.column is not None:
        raise ValueError("--column is for local CSV input; with --engine ray name the text field with --field")
    if args.prompt_name is not None:
        raise ValueError("--prompt-name is not supported with --engine ray yet; use --engine local")
    if "://" not in args.output:
        check_output_folder(Path(args.output), overwrite=args.overwrite)
    # this process is the command's own: Ray Data's notices stay quiet, and a failed job's traceback, which Ray
    # logs as well as raising it, is left to the one-line error the command prints
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data.exceptions").setLevel(logging.CRITICAL)
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
        quantized=quantized(args),
        dtype=args.dtype,
        normalize=args.normalize,
        precision=args.precision,
        address=args.address,
    )
    print(
        f"encoded {report.rows} rows in {report.seconds:.1f} s ({report.rows_per_second:.1f} rows/s; "
        f"{report.steady_rows_per_second:.1f} rows/s after {report.startup_seconds:.1f} s of start-up) with "
        f"{report.actors} actor(s) x {report.cpus_per_actor:g} CPU; {report.files} Parquet file(s) in {report.output}",
        file=sys.stderr,
    )
    print(
        f"wrote {report.rows} embeddings ({report.dimension} dims) to {report.output} in {report.files} file(s) "
        f"({report.tokens} tokens, {report.truncated} truncated at {report.max_seq_length})"
    )
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    """``sentvec similarity``: the matrix of the texts' pairwise similarities."""
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

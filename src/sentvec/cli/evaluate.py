"""``sentvec eval sts|ir|binary|triplet``: semantic similarity, retrieval over a BEIR folder (or an index), pair
classification, triplet ordering."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from sentvec.cli.common import Subparsers, engine_args, load_model, model_arg
from sentvec.cli.index import rerank_args, search_mode_args
from sentvec.cli.output import check_json_out, finish, json_out_arg, print_ir_table
from sentvec.errors import DataFormatError

BINARY_COLUMNS = ("sentence1", "sentence2", "label")
TRIPLET_COLUMNS = ("anchor", "positive", "negative")


def add_parser(sub: Subparsers) -> None:
    """Register ``eval`` and its tasks: ``sts``, ``ir``, ``binary`` and ``triplet``."""
    p = sub.add_parser("eval", help="evaluate a model")
    eval_sub = p.add_subparsers(dest="task", required=True, metavar="TASK")
    sts = eval_sub.add_parser("sts", help="semantic textual similarity (Spearman/Pearson ×100)")
    model_arg(sts)
    engine_args(sts)
    sts.add_argument("--data", required=True, type=Path, help="CSV/TSV/JSONL of sentence1, sentence2, score")
    sts.add_argument("--columns", help="comma-separated column names for files with a header")
    sts.add_argument("--batch-size", type=int, default=32)
    json_out_arg(sts)
    sts.set_defaults(func=cmd_eval_sts)
    ir = eval_sub.add_parser(
        "ir",
        help="information retrieval on a BEIR folder (NDCG@10, MRR@10, MAP@100, Recall@k, ...)",
        description="Rank the corpus for each query by exact search; score the rankings against the qrels.",
    )
    model_arg(ir, required=False, default="with --index, the index's model; needed with --data")
    engine_args(ir)
    ir.add_argument("--data", type=Path, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    ir.add_argument("--split", default="test", help="qrels file to use: qrels/<split>.tsv (default: test)")
    ir.add_argument("--index", type=Path, help="rank with a sentvec index instead (with --queries and --qrels)")
    ir.add_argument("--queries", type=Path, help="BEIR queries.jsonl (with --index)")
    ir.add_argument("--qrels", type=Path, help="BEIR qrels .tsv (with --index)")
    ir.add_argument("--exact", action="store_true", help="with --index: exact search instead of the HNSW graph")
    search_mode_args(ir)  # with --index: how it searches, as `sentvec index search`
    rerank_args(ir)
    binary = eval_sub.add_parser(
        "binary",
        help="binary classification of pairs by similarity threshold (accuracy, F1, AP)",
        description="Pairs labelled 1 (similar) or 0 (not): how well a similarity threshold separates them.",
    )
    model_arg(binary)
    engine_args(binary)
    binary.add_argument("--data", required=True, type=Path, help="CSV/TSV/JSONL of sentence1, sentence2, label")
    binary.add_argument("--columns", help="comma-separated names of the text, text and 0/1 label columns or fields")
    triplet = eval_sub.add_parser(
        "triplet",
        help="triplets: is the anchor closer to its positive than to its negative (accuracy)",
        description="Fraction of triplets whose anchor is more similar to the positive than to the negative.",
    )
    model_arg(triplet)
    engine_args(triplet)
    triplet.add_argument("--data", required=True, type=Path, help="CSV/TSV with a header, or JSONL")
    triplet.add_argument("--columns", help="comma-separated names of the anchor, positive and negative columns")
    for p, func in ((ir, cmd_eval_ir), (binary, cmd_eval_binary), (triplet, cmd_eval_triplet)):
        p.add_argument("--batch-size", type=int, default=32)
        json_out_arg(p)
        p.set_defaults(func=func)


def _functions() -> list[str]:
    """The similarity functions, in the order the tables list them (imported when a command runs: numpy)."""
    from sentvec.enums import choices
    from sentvec.similarity import SimilarityFunction

    return choices(SimilarityFunction)


def _columns(raw: str | None, default: Sequence[str]) -> tuple[str, ...]:
    if not raw:
        return tuple(default)
    names = tuple(name.strip() for name in raw.split(","))
    if len(names) != 3 or not all(names):
        raise ValueError(f"--columns must name 3 fields ({', '.join(default)}), got {raw!r}")
    return names


def cmd_eval_sts(args: argparse.Namespace) -> int:
    """``sentvec eval sts``."""
    from sentvec.evaluation import SimilarityEvaluator

    check_json_out(args)
    columns = args.columns.split(",") if args.columns else None
    evaluator = SimilarityEvaluator.from_file(args.data, columns=columns, batch_size=args.batch_size)
    result = evaluator(load_model(args))
    print(f"STS evaluation of {args.model} on {args.data} ({len(evaluator.scores)} pairs)")
    print(f"{'similarity':<12}{'Pearson':>10}{'Spearman':>10}")
    for fn in _functions():
        print(f"{fn:<12}{result.metrics['pearson_' + fn]:>10.2f}{result.metrics['spearman_' + fn]:>10.2f}")
    return finish(result, args.json_out, digits=2)


def cmd_eval_ir(args: argparse.Namespace) -> int:
    """``sentvec eval ir``: a BEIR folder with a model, or an index with queries and qrels."""
    from sentvec.evaluation import InformationRetrievalEvaluator

    check_json_out(args)
    if args.index is not None:
        if args.queries is None or args.qrels is None:
            raise ValueError("--index needs --queries and --qrels")
        from sentvec.cli.index import eval_index

        return eval_index(args.index, args)
    if args.data is None or args.model is None:
        raise ValueError("eval ir needs --model and --data (a BEIR folder), or --index with --queries and --qrels")
    if args.mode != "dense" or args.rerank is not None:
        raise ValueError("--mode lexical/hybrid and --rerank search an index: use them with --index")

    evaluator = InformationRetrievalEvaluator.from_beir(args.data, split=args.split, batch_size=args.batch_size)
    result = evaluator(load_model(args))
    fn = result.primary_metric.partition("_")[0]
    print(
        f"IR evaluation of {args.model} on {args.data} (split {args.split}: {len(evaluator.queries)} queries, "
        f"{len(evaluator.corpus)} documents), score function {fn}"
    )
    print_ir_table(result)
    return finish(result, args.json_out)


def cmd_eval_binary(args: argparse.Namespace) -> int:
    """``sentvec eval binary``."""
    from sentvec.evaluation import BinaryClassificationEvaluator

    check_json_out(args)
    columns = _columns(args.columns, BINARY_COLUMNS)
    s1, s2, labels = load_labelled_pairs(args.data, columns)
    evaluator = BinaryClassificationEvaluator(s1, s2, labels, batch_size=args.batch_size)
    result = evaluator(load_model(args))
    print(f"Binary classification of {args.model} on {args.data} ({len(labels)} pairs, {sum(labels)} positive)")
    keys = ("accuracy", "f1", "precision", "recall", "ap")
    print(f"{'similarity':<12}" + "".join(f"{key.capitalize() if key != 'ap' else 'AP':>11}" for key in keys))
    for fn in _functions():
        print(f"{fn:<12}" + "".join(f"{result.metrics[f'{fn}_{key}']:>11.4f}" for key in keys))
    return finish(result, args.json_out)


def cmd_eval_triplet(args: argparse.Namespace) -> int:
    """``sentvec eval triplet``."""
    from sentvec.evaluation import TripletEvaluator

    check_json_out(args)
    anchors, positives, negatives = load_triplets(args.data, _columns(args.columns, TRIPLET_COLUMNS))
    evaluator = TripletEvaluator(anchors, positives, negatives, batch_size=args.batch_size)
    result = evaluator(load_model(args))
    print(f"Triplet evaluation of {args.model} on {args.data} ({len(anchors)} triplets)")
    print(f"{'similarity':<12}{'Accuracy':>10}")
    for fn in _functions():
        print(f"{fn:<12}{result.metrics[f'{fn}_accuracy']:>10.4f}")
    return finish(result, args.json_out)


# --- data ---------------------------------------------------------------------------------------------------------


def load_labelled_pairs(path: Path, columns: Sequence[str]) -> tuple[list[str], list[str], list[int]]:
    """Pairs with a 0/1 label, read by :func:`load_scored_pairs`; another label names its file and line."""
    from sentvec.evaluation import load_scored_pairs

    pairs = load_scored_pairs(path, columns=columns, binary=True)
    labels = [int(score) for score in pairs.scores]
    if 1 not in labels:
        raise DataFormatError(path, None, "no positive pair (label 1)")
    return pairs.sentences1, pairs.sentences2, labels


def load_triplets(path: Path, columns: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """``(anchors, positives, negatives)`` from a CSV/TSV with a header row or a JSONL file; a bad row names its
    file, line and field."""
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_triplets(path, columns)
    elif suffix in (".csv", ".tsv"):
        rows = _delimited_triplets(path, columns, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataFormatError(path, None, f"unsupported file type {suffix!r}; use .csv, .tsv or .jsonl")
    triplets: tuple[list[str], list[str], list[str]] = ([], [], [])
    for line, values in rows:
        for texts, name, value in zip(triplets, columns, values, strict=True):
            if not isinstance(value, str):
                raise DataFormatError(path, line, f"expected text, got {type(value).__name__}", name)
            texts.append(value)
    if not triplets[0]:
        raise DataFormatError(path, None, "no rows")
    return triplets


def _jsonl_triplets(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, list[object]]]:
    from sentvec.evaluation.data import utf8_errors
    from sentvec.jsonl import iter_objects

    with utf8_errors(path):
        for line, obj in iter_objects(path):
            for name in columns:
                if name not in obj:
                    raise DataFormatError(path, line, "missing field", name)
            yield line, [obj[name] for name in columns]


def _delimited_triplets(path: Path, columns: Sequence[str], delimiter: str) -> Iterator[tuple[int, list[object]]]:
    from sentvec.evaluation.data import utf8_errors

    with utf8_errors(path), open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header: list[str] | None = None
        for row in reader:
            if not row:
                continue
            if header is None:
                header = row
                missing = [name for name in columns if name not in header]
                if missing:
                    raise DataFormatError(path, reader.line_num, f"missing column; the header has {row}", missing[0])
                positions = [header.index(name) for name in columns]
                continue
            if len(row) != len(header):
                raise DataFormatError(path, reader.line_num, f"expected {len(header)} fields, got {len(row)}")
            yield reader.line_num, [row[i] for i in positions]

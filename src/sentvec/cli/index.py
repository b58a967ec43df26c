"""``sentvec index build|add|search|info|eval``: a persistent semantic index on disk (:mod:`sentvec.search.index`)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sentvec.cli.common import INDEX_PRECISION_CHOICES, Subparsers, load_model, model_arg
from sentvec.cli.output import finish, print_ir_table
from sentvec.errors import DataFormatError

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.search.index import Index

JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


def add_parser(sub: Subparsers) -> None:
    """Register ``index`` and its subcommands."""
    p = sub.add_parser(
        "index",
        help="build, extend, search and evaluate a persistent semantic index (SQLite + HNSW)",
        description="A persistent semantic index: documents in SQLite, an HNSW graph (usearch) to search them.",
    )
    isub = p.add_subparsers(dest="index_command", required=True, metavar="COMMAND")

    build = isub.add_parser("build", help="index a corpus (.jsonl, BEIR corpus.jsonl as is, or .txt) into a folder")
    model_arg(build)
    build.add_argument("--out", required=True, type=Path, help="the index folder to create")
    build.add_argument(
        "--precision", default="float32", choices=INDEX_PRECISION_CHOICES, help="vectors the HNSW graph holds"
    )
    build.set_defaults(func=cmd_build)

    add = isub.add_parser("add", help="add the documents of a file to an index (ids already present are skipped)")
    add.add_argument("dir", type=Path, help="index folder")
    model_arg(add, required=False, default="the index's model")
    add.set_defaults(func=cmd_add)
    for q in (build, add):
        q.add_argument("--input", required=True, type=Path, help=".jsonl (one document per line) or .txt")
        q.add_argument("--id-field", default="_id", help="id field of a .jsonl input (default: _id)")
        q.add_argument("--text-field", default="text", help="text field of a .jsonl input (default: text)")
        q.add_argument("--title-field", default="title", help="title field, prepended to the text (default: title)")
        q.add_argument("--batch-size", type=int, default=256, help="documents encoded and committed at a time")

    search = isub.add_parser("search", help="search an index with a text query")
    search.add_argument("dir", type=Path, help="index folder")
    search.add_argument("query", help="the query text")
    search.add_argument("-k", type=int, default=10, help="number of results (default: 10)")
    search.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE", help="metadata equality")
    search.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    search.add_argument("--exact", action="store_true", help="exact search instead of the HNSW graph")
    search.set_defaults(func=cmd_search)

    info = isub.add_parser("info", help="describe an index: model, fingerprint, precision, counts")
    info.add_argument("dir", type=Path, help="index folder")
    info.set_defaults(func=cmd_info)

    ev = isub.add_parser(
        "eval",
        help="IR metrics of an index on BEIR queries and qrels (NDCG@10, MRR@10, MAP@100, Recall@k, ...)",
        description="Search the index for each query; score the rankings against the qrels as `sentvec eval ir`.",
    )
    ev.add_argument("dir", type=Path, help="index folder")
    ev.add_argument("--queries", required=True, type=Path, help="BEIR queries.jsonl (_id, text)")
    ev.add_argument("--qrels", required=True, type=Path, help="BEIR qrels .tsv (query-id, corpus-id, score)")
    ev.add_argument("--exact", action="store_true", help="exact search (equals `sentvec eval ir` on the same data)")
    ev.add_argument("--json", type=Path, dest="json_out", help="also write the result as JSON here")
    ev.set_defaults(func=cmd_eval)
    for q in (search, ev):
        model_arg(q, required=False, default="the index's model")


# --- input --------------------------------------------------------------------------------------------------------


def read_documents(
    path: Path, id_field: str, text_field: str, title_field: str | None
) -> Iterator[str | dict[str, JSONValue]]:
    """Documents of a file, lazily: ``.txt`` lines as strings; ``.jsonl`` objects as ``{"id", "text",
    "metadata"}`` with text ``(title + " " + text).strip()`` (as :func:`~sentvec.evaluation.load_beir`) and
    metadata the record's ``metadata`` object plus its other fields."""
    from sentvec.jsonl import iter_objects

    if path.suffix.lower() == ".txt":
        from sentvec.cli.textio import read_texts

        yield from (line for line in read_texts(path) if line.strip())
        return
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    if path.suffix.lower() != ".jsonl":
        raise DataFormatError(path, None, "unsupported input type; use .jsonl or .txt")
    for line, obj in iter_objects(path):
        yield _document(path, line, obj, id_field, text_field, title_field)


def _document(
    path: Path, line: int, obj: Mapping[str, JSONValue], id_field: str, text_field: str, title_field: str | None
) -> dict[str, JSONValue]:
    for required in (id_field, text_field):
        if required not in obj:
            raise DataFormatError(path, line, "missing field", required)
    raw = obj[id_field]
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise DataFormatError(path, line, f"expected a string id, got {type(raw).__name__}", id_field)
    text = obj[text_field]
    if not isinstance(text, str):
        raise DataFormatError(path, line, f"expected text, got {type(text).__name__}", text_field)
    title = (obj.get(title_field) or "") if title_field else ""
    if not isinstance(title, str):
        raise DataFormatError(path, line, f"expected text, got {type(title).__name__}", title_field)
    nested = obj.get("metadata")
    metadata = dict(nested) if isinstance(nested, dict) else {}
    skip = {id_field, text_field, title_field, "metadata" if isinstance(nested, dict) else None}
    metadata.update({key: value for key, value in obj.items() if key not in skip})
    return {"id": str(raw), "text": (title + " " + text).strip(), "metadata": metadata}


def _load_model(args: argparse.Namespace, folder: Path | None = None) -> SentenceEncoder:
    """The model of ``--model``, or else the one the index in ``folder`` was built with."""
    if args.model is None and folder is not None:
        from sentvec.search.index import Index

        args.model = Index.read_config(folder).model_reference()
    if args.model is None:
        raise ValueError("--model is required")
    return load_model(args)


# --- commands -----------------------------------------------------------------------------------------------------


def _fill(index: Index, args: argparse.Namespace) -> int:
    docs = read_documents(args.input, args.id_field, args.text_field, args.title_field)
    start = time.perf_counter()
    report = index.add(docs, batch_size=args.batch_size)
    print(
        f"indexed {report.added} documents into {index.folder} ({report.skipped} skipped as already present, "
        f"{len(index)} in all) in {time.perf_counter() - start:.1f}s"
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """``sentvec index build``."""
    from sentvec.search.index import Index

    if not args.input.is_file():
        raise DataFormatError(args.input, None, "file not found")
    if Index.exists(args.out):
        raise FileExistsError(f"{args.out}: already holds an index; add to it with `sentvec index add`")
    model = _load_model(args)
    with Index.create(args.out, model, precision=args.precision) as index:
        return _fill(index, args)


def cmd_add(args: argparse.Namespace) -> int:
    """``sentvec index add``."""
    from sentvec.search.index import Index

    model = _load_model(args, args.dir)
    with Index.open(args.dir, model) as index:
        return _fill(index, args)


def _parse_filter(items: list[str]) -> dict[str, JSONValue]:
    where: dict[str, JSONValue] = {}
    for item in items:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise ValueError(f"--filter takes FIELD=VALUE, got {item!r}")
        try:
            where[field] = json.loads(raw)  # numbers, true/false, null, "quoted"; else the text as is
        except json.JSONDecodeError:
            where[field] = raw
    return where


def cmd_search(args: argparse.Namespace) -> int:
    """``sentvec index search``."""
    from sentvec.search.index import Index

    model = _load_model(args, args.dir)
    with Index.open(args.dir, model, read_only=True) as index:
        hits = index.search(args.query, k=args.k, filter=_parse_filter(args.filter), exact=args.exact)
    if args.json:
        print(json.dumps([{"id": h.id, "score": h.score, "text": h.text, "metadata": dict(h.metadata)} for h in hits]))
        return 0
    for rank, hit in enumerate(hits, start=1):
        text = hit.text if len(hit.text) <= 80 else hit.text[:77] + "..."
        print(f"{rank:>3}  {hit.score:8.4f}  {hit.id}  {text}")
    if not hits:
        print("no results")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """``sentvec index info``."""
    from sentvec.search.index import Index

    with Index.open(args.dir, read_only=True) as index:
        facts = index.info()
    for key, value in facts.as_dict().items():
        print(f"{key + ':':<18}{value}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``sentvec index eval``."""
    return eval_index(args.dir, args)


def eval_index(folder: Path, args: argparse.Namespace) -> int:
    """The metrics of ``sentvec eval ir`` from the rankings of the index in ``folder`` for ``--queries`` and
    ``--qrels`` (``sentvec index eval``, ``sentvec eval ir --index``)."""
    from sentvec.evaluation import evaluate_index, load_qrels, load_queries, relevant_queries
    from sentvec.search.index import Index

    queries, qrels = load_queries(args.queries), load_qrels(args.qrels)
    query_ids, _ = relevant_queries(queries, qrels)
    if not query_ids:  # before the model loads
        raise ValueError(f"{args.qrels}: no query of {args.queries} has a relevant document")
    model = _load_model(args, folder)
    with Index.open(folder, model, read_only=True) as index:
        result = evaluate_index(index, queries, qrels, exact=args.exact, name=f"{folder.name}-index")
        fn, n_docs = index.similarity, len(index)
    mode = "exact search" if args.exact else "HNSW search"
    print(f"IR evaluation of index {folder} ({len(query_ids)} queries, {n_docs} documents, {mode}), {fn.value}")
    print_ir_table(result)
    return finish(result, args.json_out)

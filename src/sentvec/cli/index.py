"""``sentvec index build|add|search|info|eval|rebuild-lexical``: a persistent index on disk
(:mod:`sentvec.search.index`), searched by embeddings, by BM25 or both (``--mode dense|lexical|hybrid``), and
reranked by a cross-encoder (``--rerank MODEL``)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from sentvec.cli.common import (
    INDEX_PRECISION_CHOICES,
    Subparsers,
    check_prompt_name,
    encoding_args,
    load_model,
    model_arg,
    quantized,
)
from sentvec.cli.output import check_json_out, finish, json_out_arg, print_ir_table
from sentvec.errors import DataFormatError

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.rerank import CrossEncoder
    from sentvec.search.index import Index, SearchHit

JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]
# The values of sentvec.search's SearchMode, FusionMethod and LexicalTokenizer (spelled out: importing them loads
# numpy, and building the parser stays light; tests/unit/test_index_lexical.py checks they agree).
MODE_CHOICES = ("dense", "lexical", "hybrid")
FUSION_CHOICES = ("rrf", "convex")
TOKENIZER_CHOICES = ("mixed", "english", "cjk")


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
    build.add_argument("--no-lexical", action="store_true", help="no lexical (BM25) index: dense search only")
    _tokenizer_arg(build, "mixed")
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
        encoding_args(
            q,
            "the prompt the documents are encoded with; it must be the index's document prompt (the model's "
            "'document', 'passage' or 'corpus' prompt, else its default): checked before anything is added",
        )

    search = isub.add_parser("search", help="search an index with a text query")
    search.add_argument("dir", type=Path, help="index folder")
    search.add_argument("query", help="the query text")
    search.add_argument("-k", type=int, default=10, help="number of results (default: 10)")
    search.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE", help="metadata equality")
    search.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    search.add_argument("--exact", action="store_true", help="exact dense search instead of the HNSW graph")
    encoding_args(search, "encode the query with this prompt of the model (default: the index's query prompt)")
    search.set_defaults(func=cmd_search)

    rebuild = isub.add_parser(
        "rebuild-lexical",
        help="give an index a lexical (BM25) index, or rebuild its own (another tokenizer); needs no model",
        description="Tokenize every document again and rebuild the index's FTS5 table, in one transaction.",
    )
    rebuild.add_argument("dir", type=Path, help="index folder")
    _tokenizer_arg(rebuild, None)
    rebuild.set_defaults(func=cmd_rebuild_lexical)

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
    json_out_arg(ev)
    ev.set_defaults(func=cmd_eval)
    for q in (search, ev):
        model_arg(q, required=False, default="the index's model")
        search_mode_args(q)
        rerank_args(q)


def _tokenizer_arg(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--tokenizer",
        default=default,
        choices=TOKENIZER_CHOICES,
        help="how the lexical index cuts texts into terms: mixed (English words stemmed, CJK as characters and "
        "bigrams), english, cjk (default: " + (default or "the index's, else mixed") + ")",
    )


def search_mode_args(parser: argparse.ArgumentParser) -> None:
    """``--mode``, ``--fusion``, ``--rrf-k``, ``--alpha``, ``--candidates`` (also for ``sentvec eval ir --index``)."""
    parser.add_argument(
        "--mode", default="dense", choices=MODE_CHOICES, help="embeddings, BM25 or both fused (default: dense)"
    )
    parser.add_argument("--fusion", default="rrf", choices=FUSION_CHOICES, help="hybrid fusion (default: rrf)")
    parser.add_argument("--rrf-k", type=float, default=60.0, help="RRF's constant: 1 / (k + rank) (default: 60)")
    parser.add_argument("--alpha", type=float, default=0.5, help="convex fusion's dense weight (default: 0.5)")
    parser.add_argument(
        "--candidates", type=int, default=None, help="hybrid: each retriever's candidates (default: max(k, 100))"
    )


RERANK_CANDIDATES = 100  # sentvec.search.rerank.DEFAULT_RERANK_CANDIDATES (spelled out: that module loads numpy)


def rerank_args(parser: argparse.ArgumentParser) -> None:
    """``--rerank MODEL`` and ``--rerank-candidates N`` (also for ``sentvec eval ir --index``)."""
    parser.add_argument(
        "--rerank",
        metavar="MODEL",
        help="rerank the search's best --rerank-candidates with this cross-encoder (name or folder; on --device, "
        "and its int8 ONNX graph with --quantized)",
    )
    parser.add_argument(
        "--rerank-candidates",
        type=int,
        default=RERANK_CANDIDATES,
        metavar="N",
        help=f"with --rerank: how many of the search's best are reranked (default: {RERANK_CANDIDATES}, at least -k)",
    )


def load_rerank_model(args: argparse.Namespace) -> CrossEncoder | None:
    """The cross-encoder of ``--rerank`` (on ``--device``; ``--quantized``: its int8 ONNX graph), or None."""
    if getattr(args, "rerank", None) is None:
        return None
    if args.rerank_candidates < 1:  # before the model loads
        raise ValueError(f"--rerank-candidates must be a positive integer, got {args.rerank_candidates}")
    from sentvec.rerank import load_reranker

    reranker = load_reranker(args.rerank, device=getattr(args, "device", None), quantized=quantized(args))
    if reranker.num_labels != 1:
        raise ValueError(
            f"--rerank {args.rerank}: reranking needs a one-label model (a relevance score per pair); "
            f"it has {reranker.num_labels} labels"
        )
    return reranker


class SearchOptions(TypedDict):
    """The keywords ``Index.search`` takes from the ``--mode`` arguments."""

    mode: str
    fusion: str
    rrf_k: float
    alpha: float
    candidates: int | None


def search_options(args: argparse.Namespace) -> SearchOptions:
    """The search keywords of the ``--mode`` arguments (defaults where a parser lacks them)."""
    return SearchOptions(
        mode=getattr(args, "mode", "dense"),
        fusion=getattr(args, "fusion", "rrf"),
        rrf_k=getattr(args, "rrf_k", 60.0),
        alpha=getattr(args, "alpha", 0.5),
        candidates=getattr(args, "candidates", None),
    )


# --- input --------------------------------------------------------------------------------------------------------


def read_documents(
    path: Path, id_field: str, text_field: str, title_field: str | None
) -> Iterator[str | dict[str, JSONValue]]:
    """Documents of a file, lazily: ``.txt`` lines as strings; ``.jsonl`` objects as ``{"id", "text",
    "metadata"}`` with text ``(title + " " + text).strip()`` (as :func:`~sentvec.evaluation.load_beir`) and
    metadata the record's ``metadata`` object plus its other fields."""
    from sentvec.evaluation.data import utf8_errors
    from sentvec.jsonl import iter_objects

    if path.suffix.lower() == ".txt":
        from sentvec.cli.textio import read_texts

        yield from (line for line in read_texts(path) if line.strip())
        return
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    if path.suffix.lower() != ".jsonl":
        raise DataFormatError(path, None, "unsupported input type; use .jsonl or .txt")
    with utf8_errors(path):
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


def _check_documents(args: argparse.Namespace) -> None:
    """Read the whole input once before the model loads: a malformed line (bad JSON, a missing field, bytes that
    are not UTF-8) is reported before anything is encoded or written."""
    for _ in read_documents(args.input, args.id_field, args.text_field, args.title_field):
        pass


def _fill(index: Index, args: argparse.Namespace) -> int:
    docs = read_documents(args.input, args.id_field, args.text_field, args.title_field)
    start = time.perf_counter()
    report = index.add(docs, batch_size=args.batch_size)
    print(
        f"indexed {report.added} documents into {index.folder} ({report.skipped} skipped as already present, "
        f"{len(index)} in all) in {time.perf_counter() - start:.1f}s"
    )
    return 0


def _check_document_prompt(model: SentenceEncoder, name: str | None, index_choice: str | None) -> None:
    """``--prompt-name`` on build/add: it must be the prompt the index encodes documents with (``index_choice``,
    the name the index records, when the model has it; else the model's default prompt, as the index does)."""
    if name is None:
        return
    check_prompt_name(model, name)
    used = index_choice if index_choice is not None and index_choice in model.prompts else None
    used = used or model.config.default_prompt_name
    if name != used:
        uses = f"the model's {used!r} prompt" if used else "no prompt"
        raise ValueError(
            f"--prompt-name {name!r}: the index encodes its documents with {uses} (its document prompt, chosen "
            "from the model's 'document', 'passage' or 'corpus' prompt when it has one, else its default); "
            "documents encoded otherwise would not match its queries"
        )


def cmd_build(args: argparse.Namespace) -> int:
    """``sentvec index build``."""
    from sentvec.prompts import Role, role_prompt_name
    from sentvec.search.index import Index

    if not args.input.is_file():
        raise DataFormatError(args.input, None, "file not found")
    if Index.exists(args.out):
        raise FileExistsError(f"{args.out}: already holds an index; add to it with `sentvec index add`")
    _check_documents(args)
    model = _load_model(args)
    _check_document_prompt(model, args.prompt_name, role_prompt_name(model.prompts, Role.DOCUMENT))
    lexical = False if args.no_lexical else args.tokenizer
    with Index.create(args.out, model, precision=args.precision, lexical=lexical) as index:
        return _fill(index, args)


def cmd_add(args: argparse.Namespace) -> int:
    """``sentvec index add``."""
    from sentvec.prompts import Role
    from sentvec.search.index import Index

    _check_documents(args)
    model = _load_model(args, args.dir)
    with Index.open(args.dir, model) as index:
        _check_document_prompt(model, args.prompt_name, index.config.prompt_name(Role.DOCUMENT))
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

    options = search_options(args)
    where = _parse_filter(args.filter)
    reranker = load_rerank_model(args)
    model = None if args.mode == "lexical" and args.prompt_name is None else _load_model(args, args.dir)
    if model is not None:
        check_prompt_name(model, args.prompt_name)
    reranking = {"rerank": reranker, "rerank_candidates": args.rerank_candidates}
    with Index.open(args.dir, model, read_only=True) as index:
        if model is not None and args.prompt_name is not None and args.mode != "lexical":
            # a chosen prompt: the query is encoded here, and searched by its vector (its text for BM25)
            vector = model.encode(args.query, prompt_name=args.prompt_name)
            hits = index.search(
                vector, k=args.k, filter=where, exact=args.exact, text=args.query, **options, **reranking
            )
        else:
            hits = index.search(args.query, k=args.k, filter=where, exact=args.exact, **options, **reranking)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits]))
        return 0
    for rank, hit in enumerate(hits, start=1):
        text = hit.text if len(hit.text) <= 80 else hit.text[:77] + "..."
        found = [*hit.retrievers] if args.mode == "hybrid" else []
        if hit.retrieval_rank is not None:
            found.append(f"{args.mode} #{hit.retrieval_rank}")
        print(f"{rank:>3}  {hit.score:8.4f}  {hit.id}  {text}" + (f"  [{'+'.join(found)}]" if found else ""))
    if not hits:
        print("no results")
    return 0


def _hit_json(hit: SearchHit) -> dict[str, JSONValue]:
    return {
        "id": hit.id,
        "score": hit.score,
        "text": hit.text,
        "metadata": dict(hit.metadata),
        "title": hit.title,
        "dense_rank": hit.dense_rank,
        "dense_score": hit.dense_score,
        "lexical_rank": hit.lexical_rank,
        "lexical_score": hit.lexical_score,
        "rerank_score": hit.rerank_score,
        "retrieval_rank": hit.retrieval_rank,
        "retrieval_score": hit.retrieval_score,
    }


def cmd_rebuild_lexical(args: argparse.Namespace) -> int:
    """``sentvec index rebuild-lexical``."""
    from sentvec.search.index import Index

    start = time.perf_counter()
    with Index.open(args.dir) as index:
        lexical = index.rebuild_lexical(tokenizer=args.tokenizer)
        count = len(index)
    print(
        f"rebuilt the lexical index of {args.dir}: {count} documents, tokenizer {lexical.tokenizer.value} "
        f"(title weight {lexical.title_weight:g}, text weight {lexical.text_weight:g}) in "
        f"{time.perf_counter() - start:.1f}s"
    )
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

    check_json_out(args)
    queries, qrels = load_queries(args.queries), load_qrels(args.qrels)
    query_ids, _ = relevant_queries(queries, qrels)
    if not query_ids:  # before the model loads
        raise ValueError(f"{args.qrels}: no query of {args.queries} has a relevant document")
    options = search_options(args)
    reranker = load_rerank_model(args)
    model = None if options["mode"] == "lexical" else _load_model(args, folder)
    name = f"{folder.name}-index" if options["mode"] == "dense" else f"{folder.name}-{options['mode']}"
    name += "-rerank" if reranker is not None else ""
    with Index.open(folder, model, read_only=True) as index:
        result = evaluate_index(
            index,
            queries,
            qrels,
            exact=args.exact,
            name=name,
            rerank=reranker,
            rerank_candidates=args.rerank_candidates,
            **options,
        )
        fn, n_docs = index.similarity, len(index)
    dense = "exact search" if args.exact else "HNSW search"
    mode = {
        "dense": dense,
        "lexical": "lexical search (BM25)",
        "hybrid": f"hybrid search ({options['fusion']}, dense by {dense})",
    }[str(options["mode"])]
    if reranker is not None:
        mode += f", its best {args.rerank_candidates} reranked by {reranker.name}"
    print(f"IR evaluation of index {folder} ({len(query_ids)} queries, {n_docs} documents, {mode}), {fn.value}")
    print_ir_table(result)
    return finish(result, args.json_out)

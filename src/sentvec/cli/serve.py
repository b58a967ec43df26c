"""``sentvec serve``: the HTTP service (OpenAI-compatible embeddings, similarity, search, reranking) with uvicorn."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sentvec.cli.common import Subparsers, encoding_args, load_model, model_arg, quantized

if TYPE_CHECKING:
    from fastapi import FastAPI

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_parser(sub: Subparsers) -> None:
    """Register ``serve``."""
    from sentvec.server.limits import API_KEY_ENV, BatcherConfig, ConnectionLimits, Limits

    limits = Limits()
    batching = BatcherConfig()
    connections = ConnectionLimits()
    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP (OpenAI-compatible /v1/embeddings, /similarity, /search, /v1/rerank, /metrics)",
        description="Serve a model over HTTP with dynamic micro-batching of concurrent requests.",
    )
    model_arg(p)
    encoding_args(p, "the model's prompt used when a request names none (default: the model's default prompt)")
    p.add_argument("--index", type=Path, help="a sentvec index folder to serve /search from (opened read-only)")
    p.add_argument(
        "--reranker",
        metavar="MODEL",
        help="a cross-encoder (name or folder) to serve /v1/rerank (Cohere/Jina), /rerank (TEI) and /search's "
        "rerank with (on --device; its int8 ONNX graph with --quantized)",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to bind (default {DEFAULT_PORT})")
    p.add_argument(
        "--max-batch-tokens",
        type=_positive_int,
        default=batching.max_batch_tokens,
        help="tokens per model micro-batch (default %(default)s)",
    )
    p.add_argument(
        "--max-wait-ms",
        type=_non_negative_float,
        default=batching.max_wait_ms,
        help="how long a batch waits for more requests after its oldest one arrived or the previous batch ended, "
        "whichever is later (default %(default)s)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=32, help="rows per forward pass (default 32)")
    p.add_argument("--max-inputs", type=_positive_int, default=limits.max_inputs, help="texts per request")
    p.add_argument("--max-chars", type=_positive_int, default=limits.max_chars, help="characters per text")
    p.add_argument("--max-body-bytes", type=_positive_int, default=limits.max_body_bytes, help="request body size")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    security = p.add_argument_group(
        "security", "API keys and connection limits (see the README's Security section to expose the service)"
    )
    keys = security.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key",
        help="require 'Authorization: Bearer KEY' on every route but /health (visible in the process list: "
        f"prefer --api-key-file or the {API_KEY_ENV} environment variable, read when neither option is given)",
    )
    keys.add_argument(
        "--api-key-file", type=Path, help="a file of accepted API keys, one a line ('#' starts a comment line)"
    )
    security.add_argument(
        "--header-timeout",
        type=_positive_float,
        default=connections.header_timeout,
        help="seconds a connection has to send a request's headers before it is closed (default %(default)s)",
    )
    security.add_argument(
        "--body-timeout",
        type=_positive_float,
        default=limits.body_timeout,
        help="seconds a request has to send its body; then 408 (default %(default)s)",
    )
    security.add_argument(
        "--keep-alive-timeout",
        type=_positive_float,
        default=connections.keep_alive_timeout,
        help="seconds an idle connection is kept open between requests (default %(default)s)",
    )
    security.add_argument(
        "--max-connections",
        type=_positive_int,
        default=connections.max_connections,
        help="open connections beyond which requests are answered 503 (default %(default)s)",
    )
    security.add_argument(
        "--max-header-bytes",
        type=_positive_int,
        default=connections.max_header_bytes,
        help="size of a request's line and headers (default %(default)s)",
    )
    p.set_defaults(func=_cmd_serve)


def build_app(args: argparse.Namespace) -> FastAPI:
    """Load the model (and the index, when ``--index`` is given) and build the app from parsed arguments."""
    from sentvec._extras import require

    require("fastapi", "sentvec serve")
    from sentvec.server.app import create_app
    from sentvec.server.auth import read_api_keys
    from sentvec.server.limits import BatcherConfig, Limits

    api_keys = read_api_keys(args.api_key, args.api_key_file)  # before the model: a bad key file fails at once
    limits = Limits(
        max_inputs=args.max_inputs,
        max_chars=args.max_chars,
        max_body_bytes=args.max_body_bytes,
        body_timeout=args.body_timeout,
    )
    batching = BatcherConfig(max_batch_tokens=args.max_batch_tokens, max_wait_ms=args.max_wait_ms)
    model = load_model(args, default_prompt_name=args.prompt_name)
    reranker = None
    if args.reranker is not None:
        from sentvec.rerank import load_reranker

        reranker = load_reranker(args.reranker, device=args.device, quantized=quantized(args))
        if reranker.num_labels != 1:
            raise ValueError(
                f"--reranker {args.reranker}: serving needs a one-label model (a relevance score per pair); it has "
                f"{reranker.num_labels} labels"
            )
    index = None
    if args.index is not None:
        from sentvec.search.index import Index  # only --index needs the index package

        index = Index.open(args.index, model=model, read_only=True)
    return create_app(
        model,
        index,
        limits=limits,
        batching=batching,
        batch_size=args.batch_size,
        api_keys=api_keys,
        reranker=reranker,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    from sentvec._extras import require

    uvicorn = require("uvicorn", "sentvec serve")
    from sentvec.server.connections import uvicorn_options
    from sentvec.server.limits import ConnectionLimits

    connections = ConnectionLimits(
        header_timeout=args.header_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        max_connections=args.max_connections,
        max_header_bytes=args.max_header_bytes,
    )
    app = build_app(args)
    if not app.state.requires_api_key and args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger(__name__).warning(
            "serving on %s without an API key: anyone who can reach it can use it (see --api-key-file)", args.host
        )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        **uvicorn_options(connections),
    )
    return 0

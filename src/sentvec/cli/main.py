"""``sentvec`` console entry point: parses the arguments, runs the chosen command, and reports user errors as one
line with exit code 2. Each command group lives in its own module; this one only wires them."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from sentvec.cli import encode, evaluate, index, model, rerank, serve, train, uses
from sentvec.errors import SentvecError

USER_ERRORS = (SentvecError, ValueError, TypeError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="sentvec", description="Sentence embeddings: encode, compare, evaluate.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    encode.add_parsers(sub)  # encode, similarity
    evaluate.add_parser(sub)  # eval sts|ir|binary|triplet
    model.add_export_parser(sub)
    train.add_parser(sub)
    index.add_parser(sub)
    rerank.add_parser(sub)
    serve.add_parser(sub)
    uses.add_parsers(sub)  # cluster, mine-paraphrases
    model.add_info_parser(sub)
    return parser


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

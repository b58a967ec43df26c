"""What several subcommands share: the ``--model``/``--device`` options, loading the model they name, and the
``choices`` of options that name an enum member."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder

# The values of the enums behind the CLI's options. Those enums live in modules that import numpy
# (sentvec.quantization.Precision, sentvec.backends.base.BackendKind), which building the parser must not
# (``sentvec --help`` and argument errors stay fast); tests/cli/test_cli_choices.py checks that they agree.
PRECISION_CHOICES = ("float32", "int8", "uint8", "binary", "ubinary")  # Precision
INDEX_PRECISION_CHOICES = ("float32", "int8", "binary")  # sentvec.search.index.ann.PRECISIONS
BACKEND_CHOICES = ("auto", "torch", "onnx")  # BackendKind


class Subparsers(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as the command modules use it."""

    def add_parser(
        self, name: str, *, help: str | None = ..., description: str | None = ...
    ) -> argparse.ArgumentParser:
        """A new subcommand parser."""


def model_arg(p: argparse.ArgumentParser, required: bool = True, default: str | None = None) -> None:
    """Add ``--model`` and ``--device``; an optional ``--model`` says what stands in for it (``default``)."""
    help_text = "model name (e.g. all-MiniLM-L6-v2) or folder" + (f" (default: {default})" if default else "")
    p.add_argument("--model", "-m", required=required, help=help_text)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")


def load_model(args: argparse.Namespace) -> SentenceEncoder:
    """The model of ``--model`` on ``--device`` (and ``--backend`` where the command has it)."""
    import sentvec

    return sentvec.load(args.model, device=getattr(args, "device", None), backend=getattr(args, "backend", "auto"))

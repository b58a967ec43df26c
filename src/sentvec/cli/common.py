"""What several subcommands share: the ``--model``/``--device`` options, loading the model they name, and the
``choices`` of options that name an enum member."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Protocol

from sentvec.enums import BackendKind, Precision, choices

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder

# The CLI's choices come from the enums (numpy-free, so building the parser stays light).
PRECISION_CHOICES = tuple(choices(Precision))
INDEX_PRECISION_CHOICES = tuple(p.value for p in (Precision.FLOAT32, Precision.INT8, Precision.BINARY))
BACKEND_CHOICES = tuple(choices(BackendKind))


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

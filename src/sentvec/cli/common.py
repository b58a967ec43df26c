"""What several subcommands share: the ``--model``/``--device`` options and loading the model they name."""

from __future__ import annotations

import argparse
from typing import Any


def model_arg(p: argparse.ArgumentParser, required: bool = True, default: str | None = None) -> None:
    """Add ``--model`` and ``--device``; an optional ``--model`` says what stands in for it (``default``)."""
    help_text = "model name (e.g. all-MiniLM-L6-v2) or folder" + (f" (default: {default})" if default else "")
    p.add_argument("--model", "-m", required=required, help=help_text)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")


def load_model(args: argparse.Namespace) -> Any:
    """The model of ``--model`` on ``--device`` (and ``--backend`` where the command has it)."""
    import sentvec

    return sentvec.load(args.model, device=getattr(args, "device", None), backend=getattr(args, "backend", "auto"))

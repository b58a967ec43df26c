"""What several subcommands share: the ``--model``/``--device`` options and loading the model they name."""

from __future__ import annotations

import argparse
from typing import Any


def model_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--model`` (required) and ``--device``."""
    p.add_argument("--model", "-m", required=True, help="model name (e.g. all-MiniLM-L6-v2) or folder")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")


def load_model(args: argparse.Namespace) -> Any:
    """The model of ``--model`` on ``--device`` (and ``--backend`` where the command has it)."""
    import sentvec

    return sentvec.load(args.model, device=getattr(args, "device", None), backend=getattr(args, "backend", "auto"))

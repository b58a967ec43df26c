"""What several subcommands share: the ``--model``/``--device`` options (and ``--prompt-name``/``--quantized``),
loading the model they name, the ``choices`` of options that name an enum member, and the checks on an output
path made before any model loads (``--overwrite``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sentvec.enums import BackendKind, Precision, choices

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.protocols import Embedder

# The CLI's choices come from the enums (numpy-free, so building the parser stays light).
PRECISION_CHOICES = tuple(choices(Precision))
INDEX_PRECISION_CHOICES = tuple(p.value for p in (Precision.FLOAT32, Precision.INT8, Precision.BINARY))
BACKEND_CHOICES = tuple(choices(BackendKind))
RERANK_BACKEND_CHOICES = tuple(b for b in BACKEND_CHOICES if b != BackendKind.OPENVINO.value)
DTYPE_CHOICES = ("float32", "bfloat16")


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


def encoding_args(p: argparse.ArgumentParser, prompt_help: str) -> None:
    """Add ``--prompt-name`` (``prompt_help`` says what it applies to) and the engine options (:func:`engine_args`)."""
    p.add_argument("--prompt-name", metavar="NAME", help=prompt_help)
    engine_args(p)


def engine_args(p: argparse.ArgumentParser) -> None:
    """Add ``--backend``, ``--dtype`` and ``--quantized``: how the model runs (the fast paths of the README)."""
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    p.add_argument(
        "--dtype",
        default="float32",
        choices=DTYPE_CHOICES,
        help="compute type of --backend torch or openvino (bfloat16: fastest on CPUs with AVX512-BF16/AMX)",
    )
    p.add_argument(
        "--quantized",
        action="store_true",
        help="run the model's int8 ONNX graph (onnx/model_qint8.onnx, or the reference's export for this CPU)",
    )


def load_model(args: argparse.Namespace, *, default_prompt_name: str | None = None) -> SentenceEncoder:
    """The model of ``--model`` on ``--device`` (and ``--backend``, ``--quantized`` where the command has them);
    ``default_prompt_name`` replaces the model's default prompt."""
    import sentvec

    return sentvec.load(
        args.model,
        device=getattr(args, "device", None),
        backend=getattr(args, "backend", "auto"),
        quantized=quantized(args),
        dtype=getattr(args, "dtype", "float32"),
        default_prompt_name=default_prompt_name,
    )


def quantized(args: argparse.Namespace) -> bool:
    """Whether ``--quantized`` was given (where the command has it); with ``--backend torch`` it is an error."""
    chosen = bool(getattr(args, "quantized", False))
    if chosen and getattr(args, "backend", "auto") == BackendKind.TORCH.value:
        raise ValueError("--quantized runs an int8 ONNX graph: use it with --backend onnx or auto, not torch")
    return chosen


def check_prompt_name(model: Embedder, name: str | None, flag: str = "--prompt-name") -> None:
    """Raise ``ValueError`` unless ``name`` (when given) is one of ``model``'s prompts, naming them."""
    if name is None or name in model.prompts:
        return
    have = f"its prompts are {', '.join(sorted(model.prompts))}" if model.prompts else "it has no prompts"
    raise ValueError(f"{flag} {name!r} is not a prompt of the model {model.name}; {have}")


# --- output paths ---------------------------------------------------------------------------------------------------


def overwrite_arg(p: argparse.ArgumentParser, what: str = "the output file") -> None:
    """Add ``--overwrite`` (an existing output is refused without it)."""
    p.add_argument("--overwrite", action="store_true", help=f"replace {what} when it exists (default: refuse)")


def check_output_file(
    path: Path, *, overwrite: bool, flag: str = "--output", inputs: Iterable[Path | None] = ()
) -> None:
    """Before any model loads: refuse an output file the command could not write, or would replace unasked.

    ``path`` must not be a folder, nor one of ``inputs``; an existing file needs ``overwrite``; the folder it goes
    in must be writable (folders that do not exist yet are created by the writer: their nearest existing parent
    must be a writable folder).
    """
    if path.is_dir():
        raise IsADirectoryError(f"{path}: {flag} is a folder; give the name of a file to write")
    for source in inputs:
        if source is not None and path.exists() and source.exists() and path.samefile(source):
            raise ValueError(f"{path}: {flag} is an input of the command; write to another file")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass --overwrite to replace it")
    _check_writable_parent(path)


def check_output_folder(path: Path, *, overwrite: bool, flag: str = "--output") -> None:
    """Before any model loads: refuse an output folder that is a file, or that already holds files (unless
    ``overwrite``: they may be replaced or removed), or whose parent cannot be written."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path}: {flag} is a file; give a folder")
    if path.is_dir() and not overwrite and any(path.iterdir()):
        raise FileExistsError(f"{path}: the folder is not empty; pass --overwrite to write into it")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"{path}: cannot write in this folder (permission denied)")
        return
    _check_writable_parent(path)


def _check_writable_parent(path: Path) -> None:
    parent = path.absolute().parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: cannot write in {parent} (permission denied)")

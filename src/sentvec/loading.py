"""``sentvec.load``: resolve a model, read its folder, pick a backend once."""

from __future__ import annotations

import os
from pathlib import Path

from sentvec._extras import available
from sentvec.backends.base import Backend, BackendKind
from sentvec.batching import TextTokenizer
from sentvec.encoder import SentenceEncoder
from sentvec.enums import parse_enum
from sentvec.errors import MissingExtraError
from sentvec.formats import ModelLayout, onnx_graph_path, read_layout, read_transformer_config
from sentvec.hub import resolve_model_path
from sentvec.modules.configs import PoolingMode


def load(
    name_or_path: str | os.PathLike[str],
    *,
    device: str | None = None,
    backend: BackendKind | str = BackendKind.AUTO,
    max_seq_length: int | None = None,
    pooling: PoolingMode | str | None = None,
    dtype: str = "float32",
    truncate_dim: int | None = None,
    quantized: bool = False,
    threads: int | None = None,
) -> SentenceEncoder:
    """Load a sentence-transformers model folder, a plain Hugging Face encoder folder, or a model name.

    Backends: ``"torch"`` runs the module pipeline; ``"onnx"`` runs the exported graph ``onnx/model.onnx``
    (``quantized=True``: ``onnx/model_qint8.onnx``) with onnxruntime alone. ``"auto"`` picks torch when
    torch and transformers are installed and ``quantized`` is false; otherwise onnx when the folder has the
    graph. ``pooling`` sets the pooling mode of a plain Hugging Face encoder (mean by default); ``dtype``
    ("float32" | "bfloat16") sets the torch compute type; ``threads`` the onnxruntime thread count.
    """
    kind = parse_enum(BackendKind, backend, "backend")
    pooling_mode = None if pooling is None else PoolingMode.parse(pooling)
    root = resolve_model_path(name_or_path)
    layout = read_layout(root)
    if pooling is not None and layout.layout != "huggingface":
        raise ValueError("pooling= applies to plain Hugging Face folders; this folder configures its own Pooling")
    transformer_dir = layout.module_dir(layout.modules[0])
    tconfig = read_transformer_config(transformer_dir, max_seq_length)
    tokenizer = TextTokenizer.from_folder(transformer_dir, tconfig.max_seq_length, tconfig.do_lower_case)
    if _pick_backend(kind, root, quantized) is BackendKind.ONNX:
        from sentvec.backends.onnx import OnnxBackend

        engine: Backend = OnnxBackend(onnx_graph_path(root, quantized), device=device, threads=threads)
    else:
        engine = _torch_backend(layout, device, max_seq_length, pooling_mode, dtype)
    return SentenceEncoder(
        tokenizer,
        engine,
        layout.config,
        source=Path(root),
        name=str(name_or_path),
        truncate_dim=truncate_dim,
    )


def _pick_backend(backend: BackendKind, root: Path, quantized: bool) -> BackendKind:
    """The documented ``auto`` rule."""
    if backend is BackendKind.TORCH:
        if quantized:
            raise ValueError("quantized=True runs the int8 ONNX graph: use backend='onnx' or 'auto'")
        return BackendKind.TORCH
    if backend is BackendKind.ONNX or quantized:
        return BackendKind.ONNX
    if available("torch") and available("transformers"):  # auto
        return BackendKind.TORCH
    if onnx_graph_path(root, quantized=False).is_file():
        return BackendKind.ONNX
    raise MissingExtraError("torch", "torch", f"{root} has no ONNX graph, so loading it")


def _torch_backend(
    layout: ModelLayout, device: str | None, max_seq_length: int | None, pooling: PoolingMode | None, dtype: str
) -> Backend:
    if not (available("torch") and available("transformers")):
        raise MissingExtraError("torch", "torch", "The torch backend")
    from sentvec.backends.torch import TorchBackend

    return TorchBackend.from_layout(layout, device=device, max_seq_length=max_seq_length, pooling=pooling, dtype=dtype)

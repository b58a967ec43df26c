"""``sentvec.load``: resolve a model, read its folder, pick a backend once."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sentvec._extras import available
from sentvec.backends.base import Backend, BackendKind
from sentvec.batching import TextTokenizer
from sentvec.encoder import SentenceEncoder
from sentvec.enums import parse_enum
from sentvec.errors import MissingExtraError, ModelFormatError
from sentvec.formats import (
    ONNX_DIR,
    OPENVINO_DIR,
    ST_CONFIG_FILE,
    EncoderConfig,
    ModelLayout,
    is_reranker_folder,
    onnx_graph_candidates,
    onnx_graph_path,
    onnx_named_graph,
    openvino_graph_candidates,
    read_layout,
    read_transformer_config,
)
from sentvec.hub import HubOptions, resolve_model_path
from sentvec.modules.configs import PoolingMode
from sentvec.similarity import SimilarityFunction


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
    file_name: str | None = None,
    threads: int | None = None,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: SimilarityFunction | str | None = None,
    revision: str | None = None,
    cache_folder: str | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    trust_remote_code: bool = False,
) -> SentenceEncoder:
    """Load a sentence-transformers model folder, a plain Hugging Face encoder folder, or a model name.

    Backends: ``"torch"`` runs the module pipeline; ``"openvino"`` runs the same graphs as ``"onnx"`` with OpenVINO
    (``dtype="bfloat16"``: bf16 matrix products on CPUs with AVX512-BF16/AMX, the fastest exact-quality path there);
    ``"onnx"`` runs a graph from ``onnx/`` with onnxruntime alone:
    sentvec's export (``model.onnx``, or ``model_qint8.onnx`` with ``quantized=True``) or a transformer-only graph as
    the reference exports it (then Pooling/Dense/Normalize run in numpy from the folder's configs; with
    ``quantized=True`` the int8 file matching this CPU, ``model_qint8_avx512_vnni`` → ``_avx512`` → ``_avx2`` →
    ``_arm64``); ``file_name`` picks a graph by name (``"model_O3.onnx"``). ``"auto"`` picks torch when torch and
    transformers are installed and neither ``quantized`` nor ``file_name`` is given; otherwise onnx.

    ``pooling`` sets the pooling mode of a plain Hugging Face encoder (mean by default); ``dtype`` ("float32" |
    "bfloat16") the torch or OpenVINO compute type; ``threads`` the onnxruntime or OpenVINO thread count. ``prompts``,
    ``default_prompt_name`` and ``similarity_fn_name`` override the folder's; ``revision``, ``cache_folder``,
    ``local_files_only`` and ``token`` are for names fetched from the Hugging Face Hub; ``trust_remote_code`` lets
    transformers run a model's own code (off unless asked; ``info()`` says when it is on).
    """
    kind = parse_enum(BackendKind, backend, "backend")
    pooling_mode = None if pooling is None else PoolingMode.parse(pooling)
    hub = HubOptions(revision=revision, cache_folder=cache_folder, local_files_only=local_files_only, token=token)
    root = resolve_model_path(name_or_path, hub)
    if is_reranker_folder(root):
        raise ModelFormatError(
            root / ST_CONFIG_FILE, "this folder is a cross-encoder (reranker): load it with sentvec.load_reranker"
        )
    layout = read_layout(root)
    if pooling is not None and layout.layout != "huggingface":
        raise ValueError("pooling= applies to plain Hugging Face folders; this folder configures its own Pooling")
    transformer_dir = layout.module_dir(layout.modules[0])
    tconfig = read_transformer_config(transformer_dir, max_seq_length)
    tokenizer = TextTokenizer.from_folder(transformer_dir, tconfig.max_seq_length, tconfig.do_lower_case)
    engine: Backend
    picked = _pick_backend(kind, root, quantized, file_name)
    if picked in (BackendKind.ONNX, BackendKind.OPENVINO):
        engine = _onnx_backend(layout, quantized, file_name, pooling_mode, device, threads, picked, dtype)
    else:
        engine = _torch_backend(layout, device, max_seq_length, pooling_mode, dtype, trust_remote_code)
    config = _override(layout.config, prompts, default_prompt_name, similarity_fn_name)
    return SentenceEncoder(
        tokenizer,
        engine,
        config,
        source=Path(root),
        name=str(name_or_path),
        truncate_dim=truncate_dim,
    )


def _override(
    config: EncoderConfig,
    prompts: dict[str, str] | None,
    default_prompt_name: str | None,
    similarity: SimilarityFunction | str | None,
) -> EncoderConfig:
    """The folder's config with the caller's prompts / default prompt / similarity function."""
    if prompts is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
            raise TypeError("prompts must map names to prompt strings")
        config = dataclasses.replace(config, prompts=dict(prompts))
    if default_prompt_name is not None:
        if default_prompt_name not in config.prompts:
            raise ValueError(
                f"default_prompt_name {default_prompt_name!r} is not one of the prompts {sorted(config.prompts)}"
            )
        config = dataclasses.replace(config, default_prompt_name=default_prompt_name)
    if similarity is not None:
        config = dataclasses.replace(config, similarity_fn=SimilarityFunction.parse(similarity))
    return config


def _pick_backend(backend: BackendKind, root: Path, quantized: bool, file_name: str | None) -> BackendKind:
    """The documented ``auto`` rule."""
    if backend is BackendKind.TORCH:
        if quantized or file_name:
            raise ValueError("quantized= and file_name= choose an ONNX graph: use backend='onnx' or 'auto'")
        return BackendKind.TORCH
    if backend in (BackendKind.ONNX, BackendKind.OPENVINO):
        return backend
    if quantized or file_name:
        return BackendKind.ONNX
    if available("torch") and available("transformers"):  # auto
        return BackendKind.TORCH
    if onnx_graph_path(root, quantized=False).is_file():
        return BackendKind.ONNX
    raise MissingExtraError("torch", "torch", f"{root} has no ONNX graph, so loading it")


def _onnx_backend(
    layout: ModelLayout,
    quantized: bool,
    file_name: str | None,
    pooling: PoolingMode | None,
    device: str | None,
    threads: int | None,
    kind: BackendKind = BackendKind.ONNX,
    dtype: str = "float32",
) -> Backend:
    """An ONNX graph of the folder, run by onnxruntime or (``kind`` openvino, at ``dtype``) by OpenVINO."""
    from sentvec.backends.numpy_head import NumpyHead
    from sentvec.backends.onnx import OnnxBackend, cpu_isa

    root = layout.root
    openvino = kind is BackendKind.OPENVINO
    if file_name is not None:
        path = onnx_named_graph(root, file_name, OPENVINO_DIR if openvino else ONNX_DIR)
        if not openvino and path.suffix == ".xml":
            raise ValueError(f"{file_name!r} is an OpenVINO model: load it with backend='openvino'")
    else:
        candidates = (openvino_graph_candidates if openvino else onnx_graph_candidates)(root, quantized, cpu_isa())
        path = next((p for p in candidates if p.is_file()), candidates[1 if openvino else 0])
        if not path.is_file():
            tried = ", ".join(str(p.relative_to(root)) for p in candidates)
            raise ModelFormatError(path, f"missing ONNX graph (looked for {tried}); create one with `sentvec export`")

    def head() -> NumpyHead:  # only read when the graph turns out to be transformer-only
        return NumpyHead.from_layout(layout, _hidden_size(layout), pooling)

    if openvino:
        from sentvec.backends.openvino import OpenVinoBackend

        return OpenVinoBackend(path, root=root, head=head, device=device, threads=threads, dtype=dtype)
    if dtype != "float32":
        raise ValueError(
            f"dtype {dtype!r} needs backend='torch' or 'openvino' (onnxruntime runs the graph in its own precision)"
        )
    return OnnxBackend(path, root=root, head=head, device=device, threads=threads)


def _hidden_size(layout: ModelLayout) -> int:
    """The transformer's width, from ``config.json`` (``hidden_size``, ``dim`` or ``d_model`` by architecture)."""
    from sentvec.formats import HF_CONFIG_FILE, read_json

    path = layout.module_dir(layout.modules[0]) / HF_CONFIG_FILE
    raw = read_json(path) if path.is_file() else {}
    for key in ("hidden_size", "dim", "d_model"):
        if isinstance(raw, dict) and isinstance(raw.get(key), int):
            return int(raw[key])
    raise ModelFormatError(path, "no hidden_size: cannot size the pooling of a transformer-only graph")


def _torch_backend(
    layout: ModelLayout,
    device: str | None,
    max_seq_length: int | None,
    pooling: PoolingMode | None,
    dtype: str,
    trust_remote_code: bool,
) -> Backend:
    if not (available("torch") and available("transformers")):
        raise MissingExtraError("torch", "torch", "The torch backend")
    from sentvec.backends.torch import TorchBackend

    return TorchBackend.from_layout(
        layout,
        device=device,
        max_seq_length=max_seq_length,
        pooling=pooling,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
    )

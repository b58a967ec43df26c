"""What ``load_reranker`` / ``CrossEncoder(path)`` do: resolve a reranker folder, read its config (either layout),
pick a backend once, resolve the activation."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sentvec._extras import available
from sentvec.backends.base import BackendKind
from sentvec.backends.rerank_base import RerankBackend
from sentvec.batching import PairTokenizer
from sentvec.enums import parse_enum
from sentvec.errors import MissingExtraError, ModelFormatError
from sentvec.formats import RerankerConfig, onnx_graph_candidates, onnx_named_graph, read_reranker_config
from sentvec.hub import HubOptions, resolve_model_path
from sentvec.loading import _pick_backend
from sentvec.rerank.activation import ActivationFn, activation_from_config


@dataclasses.dataclass(frozen=True)
class RerankerParts:
    """A loaded reranker before it is a :class:`~sentvec.CrossEncoder`: tokenizer, backend, config, activation."""

    tokenizer: PairTokenizer
    backend: RerankBackend
    config: RerankerConfig
    activation_fn: ActivationFn
    name: str


def read_reranker(
    name_or_path: str | os.PathLike[str],
    *,
    device: str | None = None,
    backend: BackendKind | str = BackendKind.AUTO,
    max_length: int | None = None,
    quantized: bool = False,
    file_name: str | None = None,
    threads: int | None = None,
    activation_fn: ActivationFn | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    cache_folder: str | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> RerankerParts:
    """Read everything :func:`sentvec.load_reranker` needs (its keywords are documented there)."""
    kind = parse_enum(BackendKind, backend, "backend")
    hub = HubOptions(revision=revision, cache_folder=cache_folder, local_files_only=local_files_only, token=token)
    root = resolve_model_path(name_or_path, hub)
    config = read_reranker_config(Path(root), max_length)
    tokenizer = PairTokenizer.from_folder(root, config.max_length, config.do_lower_case, config.segment_ids)
    engine: RerankBackend
    if _pick_backend(kind, root, quantized, file_name) is BackendKind.ONNX:
        engine = _onnx_backend(config, quantized, file_name, device, threads)
    else:
        engine = _torch_backend(config, device, trust_remote_code)
    if activation_fn is None:
        activation_fn = activation_from_config(
            config.activation_fn, config.activation_source, root, engine.num_labels, trust_remote_code
        )
    return RerankerParts(tokenizer, engine, config, activation_fn, str(name_or_path))


def _onnx_backend(
    config: RerankerConfig, quantized: bool, file_name: str | None, device: str | None, threads: int | None
) -> RerankBackend:
    from sentvec.backends.onnx import cpu_isa
    from sentvec.backends.rerank_onnx import OnnxRerankBackend

    root = config.root
    if file_name is not None:
        path = onnx_named_graph(root, file_name)
    else:
        candidates = onnx_graph_candidates(root, quantized, cpu_isa())
        path = next((p for p in candidates if p.is_file()), candidates[0])
        if not path.is_file():
            tried = ", ".join(str(p.relative_to(root)) for p in candidates)
            raise ModelFormatError(
                path, f"missing ONNX graph (looked for {tried}); create one with sentvec.export.export_reranker_onnx"
            )
    return OnnxRerankBackend(path, root=root, num_labels=config.num_labels, device=device, threads=threads)


def _torch_backend(config: RerankerConfig, device: str | None, trust_remote_code: bool) -> RerankBackend:
    if not (available("torch") and available("transformers")):
        raise MissingExtraError("torch", "torch", "The torch reranker backend")
    from sentvec.backends.rerank_torch import TorchRerankBackend

    return TorchRerankBackend.from_folder(config.root, device=device, trust_remote_code=trust_remote_code)

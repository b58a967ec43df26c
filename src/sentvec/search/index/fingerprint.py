"""The fingerprint of a model that an index records, so it is only ever opened with a model that embeds the same.

Version 2 (:func:`model_fingerprint`) covers everything that changes the vectors an index holds: the weights, the
module pipeline (``modules.json`` order; Pooling modes and ``include_prompt``; Dense shapes, activation and
weights; Normalize), lowercasing, ``max_seq_length``, the output dimension (``truncate_dim``) and the prompt texts
the index puts before queries and documents. Version 1 (:func:`fingerprint_v1`, indexes written before) covered
the weights and the dimension only; such an index still opens with a model whose version-1 fingerprint matches.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sentvec.errors import ModelFormatError
from sentvec.formats import (
    MODULE_CONFIG_FILE,
    MODULE_WEIGHT_FILES,
    OPENVINO_DIR,
    OPENVINO_WEIGHTS_FILE,
    SBERT_CONFIG_FILE,
    ST_CONFIG_FILE,
    WEIGHT_FILES,
    ModelLayout,
    ModuleKind,
    onnx_graph_path,
    read_encoder_config,
    read_json,
    read_layout,
)
from sentvec.modules.configs import DenseConfig, PoolingConfig, PoolingMode
from sentvec.prompts import Role, role_prompt_name
from sentvec.search.index.store import IndexFormatError, JSONValue

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

FINGERPRINT_VERSION = 2  # what new indexes record; version 1 is still accepted (see config.IndexConfig.check_model)
FINGERPRINT_BYTES = 64  # of each safetensors tensor: the first and last this many bytes
HEAD_TAIL_BYTES = 1 << 20  # of another weight file: the first and last MiB
_MODULE_DIR = re.compile(r"^\d+_")  # module folders of a model folder (``2_Dense``)
# The single-file weights of formats.WEIGHT_FILES (a sharded checkpoint's index JSON holds no weights).
_SAFETENSORS = tuple(name for name in WEIGHT_FILES if name.endswith(".safetensors"))
_TORCH_PICKLES = tuple(name for name in WEIGHT_FILES if name.endswith(".bin"))

PromptNames = tuple[str | None, str | None]  # the prompt names an index uses for (queries, documents)


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...


# --- version 2 ---------------------------------------------------------------------------------------------------


def model_fingerprint(model: Embedder, prompt_names: PromptNames | None = None) -> str:
    """A 32-hex-digit fingerprint of everything that makes ``model``'s vectors, independent of the backend.

    sha256 over a canonical description of the model: its ``dimension`` (after ``truncate_dim``),
    ``max_seq_length``, the prompt texts it puts before queries and documents (``prompt_names``: the names an
    index uses, ``(query, document)``; default: those :mod:`sentvec.prompts` picks for a new index; a name the
    model lacks means its default prompt, as in ``encode``), and its module pipeline in ``modules.json`` order
    (Transformer with ``do_lower_case``; Pooling modes, dimension and ``include_prompt``; Dense shapes, bias and
    activation; Normalize), then the weights: for each module folder, each safetensors file's header (tensor
    names, dtypes, shapes) and the first and last 64 bytes of each tensor's data (any fine-tuning changes those
    bytes; reading them costs a few hundred small reads whatever the model's size); other weight files
    (``pytorch_model.bin``, shards, ``onnx/model.onnx``) by size and first/last MiB.

    Without a folder, a torch-backed :class:`~sentvec.SentenceEncoder` is described by its live pipeline and
    parameters (first/last 16 values of each tensor), which does not match the folder-based fingerprint of the
    same model. Any other model needs a folder (:class:`IndexFormatError` otherwise); a folder that is not a model
    folder is a :class:`~sentvec.errors.ModelFormatError` naming the file.
    """
    source = Path(model.source) if model.source is not None else None
    layout = read_layout(source) if source is not None and source.is_dir() else None
    files = _module_weight_files(layout) if layout is not None else []
    if not files:
        _require_live(model)
    prompts = model.prompts
    names = prompt_names or (role_prompt_name(prompts, Role.QUERY), role_prompt_name(prompts, Role.DOCUMENT))
    spec: dict[str, JSONValue] = {
        "dimension": int(model.dimension),
        "max_seq_length": int(model.max_seq_length),
        "prompts": {role.value: _effective_prompt(model, name) for role, name in zip(Role, names, strict=True)},
        "pipeline": _folder_pipeline(layout, model) if files and layout is not None else _live_pipeline(model),
    }
    h = hashlib.sha256(f"sentvec-fingerprint-v{FINGERPRINT_VERSION}|".encode())
    h.update(json.dumps(spec, sort_keys=True, ensure_ascii=True).encode())
    if files:
        _hash_files(h, files)
    else:
        _hash_live(h, model)
    return h.hexdigest()[:32]


def _effective_prompt(model: Embedder, name: str | None) -> str | None:
    """The prompt text ``encode(prompt_name=name if name in prompts else None)`` puts first (what the index does)."""
    prompts = model.prompts
    if name is not None and name in prompts:
        return prompts[name]
    default = _default_prompt_name(model)
    return prompts.get(default) if default is not None else None


def _default_prompt_name(model: Embedder) -> str | None:
    """A :class:`~sentvec.SentenceEncoder`'s default prompt (set at load); another model's, from its folder."""
    from sentvec.encoder import SentenceEncoder

    if isinstance(model, SentenceEncoder):
        return model.config.default_prompt_name
    source = model.source
    if source is not None and (Path(source) / ST_CONFIG_FILE).is_file():
        return read_encoder_config(Path(source)).default_prompt_name
    return None


def _folder_pipeline(layout: ModelLayout, model: Embedder) -> list[JSONValue]:
    """The modules of a model folder, in order, each with what it does to the vectors (read from its config)."""
    pipeline: list[JSONValue] = []
    for entry in layout.modules:
        folder = layout.module_dir(entry)
        if entry.kind is ModuleKind.TRANSFORMER:
            raw = read_json(folder / SBERT_CONFIG_FILE) if (folder / SBERT_CONFIG_FILE).is_file() else {}
            lower = bool(raw.get("do_lower_case", False)) if isinstance(raw, dict) else False
            pipeline.append({"module": entry.kind.value, "do_lower_case": lower})
        elif entry.kind is ModuleKind.POOLING:
            if layout.layout == "huggingface":  # no config in the folder: the mode load() was given (mean default)
                pooling = _live_pooling(model) or PoolingConfig(dimension=0, modes=(PoolingMode.MEAN,))
            else:
                path = folder / MODULE_CONFIG_FILE
                pooling = PoolingConfig.from_json(_json_object(path), path)
            pipeline.append(_pooling_spec(pooling))
        elif entry.kind is ModuleKind.DENSE:
            path = folder / MODULE_CONFIG_FILE
            pipeline.append(_dense_spec(DenseConfig.from_json(read_json(path), path)))
        else:
            pipeline.append({"module": entry.kind.value})
    return pipeline


def _live_pipeline(model: Embedder) -> list[JSONValue]:
    """The modules of a torch-backed encoder's live pipeline (a model without a folder)."""
    from sentvec.encoder import SentenceEncoder
    from sentvec.modules.dense import Dense
    from sentvec.modules.pooling import Pooling

    assert isinstance(model, SentenceEncoder)  # _require_live checked
    pipeline: list[JSONValue] = []
    for module in model.torch.modules:
        if isinstance(module, Pooling):
            pipeline.append(_pooling_spec(module.config))
        elif isinstance(module, Dense):
            pipeline.append(_dense_spec(module.config))
        elif module.kind is ModuleKind.TRANSFORMER:
            pipeline.append({"module": module.kind.value, "do_lower_case": bool(model.tokenizer.do_lower_case)})
        else:
            pipeline.append({"module": module.kind.value})
    return pipeline


def _live_pooling(model: Embedder) -> PoolingConfig | None:
    """The pooling a :class:`~sentvec.SentenceEncoder` runs (torch pipeline or numpy head), if it says."""
    from sentvec.backends.base import BackendKind
    from sentvec.backends.numpy_head import NumpyHead
    from sentvec.encoder import SentenceEncoder

    if not isinstance(model, SentenceEncoder):
        return None
    if model.backend.kind is BackendKind.TORCH:  # checked first: model.torch imports torch
        from sentvec.modules.pooling import Pooling

        return next((m.config for m in model.torch.modules if isinstance(m, Pooling)), None)
    from sentvec.backends.onnx import OnnxBackend

    backend = model.backend
    return backend.head.pooling if isinstance(backend, OnnxBackend) and isinstance(backend.head, NumpyHead) else None


def _pooling_spec(config: PoolingConfig) -> JSONValue:
    modes: list[JSONValue] = [mode.value for mode in config.modes]
    return {"module": "Pooling", "modes": modes, "include_prompt": config.include_prompt}


def _dense_spec(config: DenseConfig) -> JSONValue:
    return {
        "module": "Dense",
        "in_features": config.in_features,
        "out_features": config.out_features,
        "bias": config.bias,
        "activation": config.activation,
    }


def _json_object(path: Path) -> dict[str, object]:
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise ModelFormatError(path, "expected a JSON object")
    return raw


def _module_weight_files(layout: ModelLayout) -> list[tuple[str, Path]]:
    """The weight files of the pipeline's modules, by module order (relative path, path)."""
    root = layout.root
    found: list[Path] = []
    for entry in layout.modules:
        folder = layout.module_dir(entry)
        if entry.kind is ModuleKind.TRANSFORMER:
            found.extend(_transformer_weights(folder, root))
        elif entry.kind is ModuleKind.DENSE:  # the file the Dense loader reads: safetensors, else the pickle
            found.extend([p for p in (folder / name for name in MODULE_WEIGHT_FILES) if p.is_file()][:1])
    unique = list(dict.fromkeys(found))
    return [(p.relative_to(root).as_posix(), p) for p in unique]


def _transformer_weights(folder: Path, root: Path) -> list[Path]:
    """The encoder's weights, in ``WEIGHT_FILES`` order: a single file, else the shards an index JSON names; with
    no torch weights at all, the exported ONNX graph."""
    for name in WEIGHT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if not name.endswith(".index.json"):
            return [path]
        weight_map = _json_object(path).get("weight_map")
        if not isinstance(weight_map, dict):
            raise ModelFormatError(path, "expected an object with a 'weight_map'")
        shards = [folder / str(shard) for shard in sorted({str(v) for v in weight_map.values()})]
        base = root.resolve()
        for shard in shards:
            if base not in shard.resolve().parents:
                raise ModelFormatError(path, f"shard {shard.name!r} lies outside the model folder")
        return [shard for shard in shards if shard.is_file()]
    graphs = [onnx_graph_path(folder, quantized=False), folder / OPENVINO_DIR / OPENVINO_WEIGHTS_FILE]
    return [graph for graph in graphs if graph.is_file()][:1]


def _hash_files(h: _Hash, files: list[tuple[str, Path]]) -> None:
    for rel, path in files:
        h.update(f"|{rel}|".encode())
        if path.suffix == ".safetensors":
            _hash_safetensors(h, path)
        else:
            _hash_head_tail(h, path, HEAD_TAIL_BYTES)


def _require_live(model: Embedder) -> None:
    """A model without weight files must be a torch-backed encoder, whose live parameters are hashed."""
    from sentvec.backends.base import BackendKind
    from sentvec.encoder import SentenceEncoder

    # the backend's kind first: model.torch would import torch, which an ONNX-only install lacks
    if not isinstance(model, SentenceEncoder) or model.backend.kind is not BackendKind.TORCH:
        raise IndexFormatError(f"cannot fingerprint model {model.name!r}: no weights folder")


# --- version 1 ---------------------------------------------------------------------------------------------------


def fingerprint_v1(model: Embedder) -> str:
    """The fingerprint indexes recorded before version 2: the weights and ``dimension`` only (kept unchanged, so
    those indexes still open with their model).

    sha256 over ``dimension`` and, for every ``*.safetensors`` weight file of the model folder (``model.source``:
    ``model.safetensors`` at the root and those of module folders such as ``2_Dense``, by relative path), the
    file's header and the first and last 64 bytes of each tensor's data. Without a safetensors file, other weight
    files (``pytorch_model.bin``, ``onnx/model.onnx``) are hashed by size and first/last MiB; a torch-backed
    :class:`~sentvec.SentenceEncoder` without a folder is hashed from its live parameters.
    """
    h = hashlib.sha256(f"sentvec-fingerprint-v1|dimension={int(model.dimension)}|".encode())
    files = _weight_files_v1(model.source) if model.source is not None else []
    if files:
        _hash_files(h, files)
    else:
        _require_live(model)
        _hash_live(h, model)
    return h.hexdigest()[:32]


def _weight_files_v1(root: Path) -> list[tuple[str, Path]]:
    root = Path(root)
    if not root.is_dir():
        return []
    found = [root / name for name in _SAFETENSORS if (root / name).is_file()]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and _MODULE_DIR.match(p.name)):
        found.extend(sorted(sub.glob("*.safetensors")))
    if not found:
        others = [root / name for name in _TORCH_PICKLES] + [onnx_graph_path(root, quantized=False)]
        found = [p for p in others if p.is_file()]
    return [(p.relative_to(root).as_posix(), p) for p in found]


# --- hashing -----------------------------------------------------------------------------------------------------


def _hash_safetensors(h: _Hash, path: Path) -> None:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header: Mapping[str, dict[str, object]] = json.loads(f.read(n))
        for name in sorted(k for k in header if k != "__metadata__"):
            entry = header[name]
            offsets = entry["data_offsets"]
            assert isinstance(offsets, list)
            begin, end = (8 + n + int(x) for x in offsets)
            h.update(f"{name}|{entry['dtype']}|{entry['shape']}|".encode())
            f.seek(begin)
            h.update(f.read(min(FINGERPRINT_BYTES, end - begin)))
            f.seek(max(begin, end - FINGERPRINT_BYTES))
            h.update(f.read(end - max(begin, end - FINGERPRINT_BYTES)))


def _hash_head_tail(h: _Hash, path: Path, size: int) -> None:
    total = path.stat().st_size
    h.update(str(total).encode())
    with open(path, "rb") as f:
        h.update(f.read(size))
        f.seek(max(0, total - size))
        h.update(f.read(size))


def _hash_live(h: _Hash, model: Embedder) -> None:
    """The live parameters of a torch-backed :class:`~sentvec.SentenceEncoder` (through its torch seam)."""
    from sentvec.encoder import SentenceEncoder

    assert isinstance(model, SentenceEncoder)  # _require_live checked
    for name, tensor in sorted(model.torch.pipeline.state_dict().items()):
        flat = tensor.detach().to("cpu").float().reshape(-1).numpy()
        h.update(f"{name}|{tuple(tensor.shape)}|".encode())
        h.update(np.ascontiguousarray(flat[:16]).tobytes() + np.ascontiguousarray(flat[-16:]).tobytes())

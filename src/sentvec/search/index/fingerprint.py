"""The fingerprint of a model's weights that an index records, so it is only ever opened with the same model."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sentvec.formats import WEIGHT_FILES, onnx_graph_path
from sentvec.search.index.store import IndexFormatError

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

FINGERPRINT_BYTES = 64  # of each safetensors tensor: the first and last this many bytes
HEAD_TAIL_BYTES = 1 << 20  # of another weight file: the first and last MiB
_MODULE_DIR = re.compile(r"^\d+_")  # module folders of a model folder (``2_Dense``)
# The single-file weights of formats.WEIGHT_FILES (a sharded checkpoint's index JSON holds no weights).
_SAFETENSORS = tuple(name for name in WEIGHT_FILES if name.endswith(".safetensors"))
_TORCH_PICKLES = tuple(name for name in WEIGHT_FILES if name.endswith(".bin"))


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...


def model_fingerprint(model: Embedder) -> str:
    """A 32-hex-digit fingerprint of a model's weights, independent of the backend that runs them.

    sha256 over ``dimension`` and, for every ``*.safetensors`` weight file of the model folder (``model.source``:
    ``model.safetensors`` at the root and those of module folders such as ``2_Dense``, by relative path), the
    file's header (tensor names, dtypes, shapes) and the first and last 64 bytes of each tensor's data. Any
    fine-tuning changes those bytes; reading them costs a few hundred small reads whatever the model's size.
    Without a safetensors file, other weight files (``pytorch_model.bin``, ``onnx/model.onnx``) are hashed by size
    and first/last MiB; a :class:`~sentvec.SentenceEncoder` without a folder is hashed from its live torch
    parameters (first/last 16 values of each tensor), which does not match the folder-based fingerprint of the
    same weights. Any other model needs a folder (:class:`IndexFormatError` otherwise).
    """
    h = hashlib.sha256(f"sentvec-fingerprint-v1|dimension={int(model.dimension)}|".encode())
    files = _weight_files(model.source) if model.source is not None else []
    if files:
        for rel, path in files:
            h.update(f"|{rel}|".encode())
            if path.suffix == ".safetensors":
                _hash_safetensors(h, path)
            else:
                _hash_head_tail(h, path, HEAD_TAIL_BYTES)
    else:
        _hash_live(h, model)
    return h.hexdigest()[:32]


def _weight_files(root: Path) -> list[tuple[str, Path]]:
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


def _hash_safetensors(h: _Hash, path: Path) -> None:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        for name in sorted(k for k in header if k != "__metadata__"):
            entry = header[name]
            begin, end = (8 + n + int(x) for x in entry["data_offsets"])
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
    from sentvec.backends.base import BackendKind
    from sentvec.encoder import SentenceEncoder

    # the backend's kind first: model.torch would import torch, which an ONNX-only install lacks
    if not isinstance(model, SentenceEncoder) or model.backend.kind is not BackendKind.TORCH:
        raise IndexFormatError(f"cannot fingerprint model {model.name!r}: no weights folder")
    for name, tensor in sorted(model.torch.pipeline.state_dict().items()):
        flat = tensor.detach().to("cpu").float().reshape(-1).numpy()
        h.update(f"{name}|{tuple(tensor.shape)}|".encode())
        h.update(np.ascontiguousarray(flat[:16]).tobytes() + np.ascontiguousarray(flat[-16:]).tobytes())

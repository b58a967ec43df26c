"""The trainer's resume state, written without pickle: tensors in a safetensors file, everything else (positions,
hyper-parameters, Python and numpy RNG states, the nesting of the optimizer and scheduler state dicts) in JSON.

Loading a checkpoint therefore never runs code from it: a shared or downloaded checkpoint can at worst be
unreadable, which is a :class:`CheckpointError` naming the file. The pickled ``trainer_state.pt`` of older
versions is refused (unpickling it could run anything it holds).

The JSON encoding is strict JSON with tagged objects: ``{"__tensor__": name}`` (a tensor in the safetensors file),
``{"__ndarray__": name, "dtype": ...}`` (a numpy array stored as a tensor), ``{"__tuple__": [...]}``,
``{"__items__": [[key, value], ...]}`` (a dict whose keys are not all strings, such as an optimizer's
per-parameter state) and ``{"__float__": "nan"}`` (a non-finite float).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from sentvec.errors import SentvecError

STATE_JSON = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
LEGACY_STATE = "trainer_state.pt"
FORMAT = "sentvec-trainer-state"
VERSION = 1

_TENSOR, _NDARRAY, _TUPLE, _ITEMS, _FLOAT = "__tensor__", "__ndarray__", "__tuple__", "__items__", "__float__"
_TAGS = (_TENSOR, _NDARRAY, _TUPLE, _ITEMS, _FLOAT)
_ARRAY_KINDS = "biuf"  # numpy arrays of booleans, integers and floats (what RNG states hold)


class CheckpointError(SentvecError, ValueError):
    """A trainer checkpoint cannot be resumed from (missing, truncated, malformed, or in the old pickled format);
    the message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def save_state(state: Mapping[str, object], folder: Path) -> None:
    """Write ``state`` (tensors, numpy arrays, and JSON's plain types in dicts, lists and tuples) into ``folder``."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    encoded = _encode(dict(state), tensors, "state")
    save_file(tensors, str(folder / STATE_TENSORS))
    document = {"format": FORMAT, "version": VERSION, "state": encoded}
    (folder / STATE_JSON).write_text(json.dumps(document, allow_nan=False), encoding="utf-8")


def load_state(folder: Path) -> dict[str, object]:
    """The state :func:`save_state` wrote into ``folder``; a :class:`CheckpointError` naming the file otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    json_path, tensor_path = folder / STATE_JSON, folder / STATE_TENSORS
    if not json_path.is_file():
        if (folder / LEGACY_STATE).is_file():
            raise CheckpointError(
                folder / LEGACY_STATE,
                "a checkpoint in the pickled format of older sentvec versions, which is not loaded because "
                "unpickling can run code; resume from a checkpoint written by this version, or start a new run "
                f"from its weights (--model {folder})",
            )
        if not folder.is_dir():
            raise CheckpointError(folder, "no such checkpoint folder")
        raise CheckpointError(folder, f"not a trainer checkpoint (no {STATE_JSON})")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(json_path, f"unreadable trainer state ({first_line(e)})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or "state" not in document:
        raise CheckpointError(json_path, f"not a sentvec trainer state (expected format {FORMAT!r})")
    if document.get("version") != VERSION:
        raise CheckpointError(json_path, f"trainer state version {document.get('version')!r}; expected {VERSION}")
    if not tensor_path.is_file():
        raise CheckpointError(tensor_path, "missing (the trainer state's tensors)")
    try:
        tensors = load_file(str(tensor_path), device="cpu")
    except (OSError, SafetensorError, ValueError) as e:
        raise CheckpointError(tensor_path, f"unreadable trainer state tensors ({first_line(e)})") from None
    state = _decode(document["state"], tensors, json_path)
    if not isinstance(state, dict):
        raise CheckpointError(json_path, "the trainer state is not a mapping")
    return state


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _encode(value: object, tensors: dict[str, torch.Tensor], where: str) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT: repr(value)}  # strict JSON has no NaN
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().cpu().contiguous().clone()  # a copy: safetensors refuses shared storage
        return {_TENSOR: name}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"{where}: cannot checkpoint a numpy array of dtype {value.dtype}")
        # torch has no unsigned types wider than 8 bits that safetensors round-trips everywhere: widen them
        stored = value.astype(np.int64) if value.dtype.kind == "u" and value.dtype.itemsize > 1 else value
        name = f"t{len(tensors)}"
        tensors[name] = torch.from_numpy(np.ascontiguousarray(stored)).clone()
        return {_NDARRAY: name, "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return _encode(value.item(), tensors, where)
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and k not in _TAGS for k in value):
            return {k: _encode(v, tensors, f"{where}.{k}") for k, v in value.items()}
        items = [[_encode(k, tensors, where), _encode(v, tensors, f"{where}[{k!r}]")] for k, v in value.items()]
        return {_ITEMS: items}
    raise TypeError(f"{where}: cannot checkpoint a {type(value).__name__} (tensors and plain types only)")


def _decode(value: object, tensors: Mapping[str, torch.Tensor], path: Path) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_decode(v, tensors, path) for v in value]
    if not isinstance(value, dict):
        raise CheckpointError(path, f"unexpected value {value!r}")
    if any(tag in value for tag in _TAGS):
        return _decode_tagged(value, tensors, path)
    return {k: _decode(v, tensors, path) for k, v in value.items()}


def _decode_tagged(value: dict[str, object], tensors: Mapping[str, torch.Tensor], path: Path) -> object:
    if _TENSOR in value:
        return _tensor(value[_TENSOR], tensors, path)
    if _NDARRAY in value:
        dtype = _dtype(value.get("dtype"), path)
        return _tensor(value[_NDARRAY], tensors, path).numpy().astype(dtype)
    if _FLOAT in value:
        return _special_float(value[_FLOAT], path)
    if _TUPLE in value:
        items = value[_TUPLE]
        if not isinstance(items, list):
            raise CheckpointError(path, f"malformed tuple {items!r}")
        return tuple(_decode(v, tensors, path) for v in items)
    if _ITEMS in value:
        pairs = value[_ITEMS]
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise CheckpointError(path, "malformed mapping items")
        out: dict[object, object] = {}
        for key, item in pairs:
            decoded_key = _decode(key, tensors, path)
            if not isinstance(decoded_key, str | int | float | bool) and decoded_key is not None:
                raise CheckpointError(path, f"unhashable mapping key {key!r}")
            out[decoded_key] = _decode(item, tensors, path)
        return out
    raise CheckpointError(path, f"unexpected value {value!r}")


def _tensor(name: object, tensors: Mapping[str, torch.Tensor], path: Path) -> torch.Tensor:
    if not isinstance(name, str) or name not in tensors:
        raise CheckpointError(path, f"refers to tensor {name!r}, which {STATE_TENSORS} does not hold")
    return tensors[name]


def _dtype(name: object, path: Path) -> np.dtype[np.generic]:
    try:
        dtype = np.dtype(str(name))
    except TypeError:
        dtype = np.dtype("O")
    if dtype.kind not in _ARRAY_KINDS:
        raise CheckpointError(path, f"unsupported array dtype {name!r}")
    return dtype


def _special_float(text: object, path: Path) -> float:
    if text not in ("nan", "inf", "-inf"):
        raise CheckpointError(path, f"malformed number {text!r}")
    return float(str(text))

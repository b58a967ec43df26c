"""What a reranker applies to its logits: a closed registry of activations, run in numpy (float32).

A model folder names its activation by a dotted torch path (``torch.nn.modules.activation.Sigmoid``); the path is
matched against the registry, never imported. The reference's default: sigmoid for one label, identity otherwise.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sentvec.enums import parse_enum
from sentvec.errors import ModelFormatError

logger = logging.getLogger(__name__)

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: the result is then 0
        return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Activation(str, enum.Enum):
    """The activations sentvec applies to a reranker's logits (the torch classes the reference writes)."""

    SIGMOID = "sigmoid"
    IDENTITY = "identity"
    TANH = "tanh"
    RELU = "relu"
    GELU = "gelu"
    SILU = "silu"
    SOFTMAX = "softmax"  # over the labels (the last axis)

    @classmethod
    def parse(cls, value: str | Activation) -> Activation:
        """A member, its value (``"sigmoid"``), or a torch name (``"torch.nn.Sigmoid"``, ``"Sigmoid"``)."""
        if isinstance(value, str) and value in TORCH_NAMES:
            return TORCH_NAMES[value]
        if isinstance(value, str) and value.lower() in _CLASS_NAMES:
            return _CLASS_NAMES[value.lower()]
        return parse_enum(cls, value, "activation")

    @property
    def torch_name(self) -> str:
        """The dotted name the reference writes for it (``torch.nn.modules.activation.Sigmoid``)."""
        return WRITE_NAMES[self]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Apply to float32 logits ``(N, C)``; float32 out, same shape."""
        return np.asarray(_FUNCTIONS[self](x), dtype=np.float32)


_FUNCTIONS: dict[Activation, Callable[[np.ndarray], np.ndarray]] = {
    Activation.SIGMOID: _sigmoid,
    Activation.IDENTITY: lambda x: x,
    Activation.TANH: np.tanh,
    Activation.RELU: lambda x: np.maximum(x, np.float32(0.0)),
    Activation.GELU: lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    Activation.SILU: lambda x: x * _sigmoid(x),
    Activation.SOFTMAX: _softmax,
}
_CLASSES = {
    Activation.SIGMOID: ("activation", "Sigmoid"),
    Activation.IDENTITY: ("linear", "Identity"),
    Activation.TANH: ("activation", "Tanh"),
    Activation.RELU: ("activation", "ReLU"),
    Activation.GELU: ("activation", "GELU"),
    Activation.SILU: ("activation", "SiLU"),
    Activation.SOFTMAX: ("activation", "Softmax"),
}
# What sentvec writes: the full module path, as the reference's ``fullname`` gives it (and vLLM requires).
WRITE_NAMES = {act: f"torch.nn.modules.{module}.{cls}" for act, (module, cls) in _CLASSES.items()}
# The closed registry: every dotted name the reference has written or users pass -> activation.
TORCH_NAMES: dict[str, Activation] = {
    name: act
    for act, (module, cls) in _CLASSES.items()
    for name in (f"torch.nn.modules.{module}.{cls}", f"torch.nn.{cls}")
}
_CLASS_NAMES = {cls.lower(): act for act, (_, cls) in _CLASSES.items()}

# What ``activation_fn=`` accepts: a registry member or name, or any callable on float32 numpy logits (N, C) -> (N, C)
# (a torch module of a registered class runs as its numpy twin; another torch module gets a torch tensor).
ActivationFn = Activation | str | Callable[[np.ndarray], np.ndarray]
# What an ``activation_fn=`` resolves to: a registry member, or a callable on numpy logits.
ActivationCallable = Activation | Callable[[np.ndarray], np.ndarray]


def default_activation(num_labels: int) -> Activation:
    """The reference's default: sigmoid for one label, identity otherwise."""
    return Activation.SIGMOID if num_labels == 1 else Activation.IDENTITY


def _torch_module_name(value: object) -> str | None:
    """``torch.nn.modules.activation.Sigmoid`` for a torch module instance, else None (torch is never imported)."""
    cls = type(value)
    if not any(c.__module__.startswith("torch.nn") for c in cls.__mro__):
        return None
    return f"{cls.__module__}.{cls.__qualname__}"


def _softmax_dim_ok(value: object) -> bool:
    return getattr(value, "dim", None) in (None, -1, 1)


def resolve_activation(value: ActivationFn) -> ActivationCallable:
    """An ``activation_fn=`` argument as something to apply to numpy logits."""
    if isinstance(value, (Activation, str)):
        return Activation.parse(value)
    name = _torch_module_name(value)
    if name is not None:
        act = TORCH_NAMES.get(name)
        if act is not None and (act is not Activation.SOFTMAX or _softmax_dim_ok(value)):
            return act
        return _TorchCallable(value)
    if callable(value):
        return value
    raise TypeError(
        f"activation_fn must be an Activation, a name ({', '.join(a.value for a in Activation)}) or a callable, "
        f"got {type(value).__name__}"
    )


class _TorchCallable:
    """A torch module outside the registry, applied to a torch tensor of the logits (torch is already imported:
    the caller built the module)."""

    def __init__(self, module: object) -> None:
        self.module = module

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        assert callable(self.module)
        out = self.module(torch.from_numpy(np.ascontiguousarray(x)))
        return np.asarray(out.detach().float().cpu().numpy())

    def __repr__(self) -> str:
        return repr(self.module)


def activation_name(act: ActivationCallable) -> str:
    """A name for ``info()``: the registry value, or the callable's repr."""
    return act.value if isinstance(act, Activation) else getattr(act, "__qualname__", None) or repr(act)


def activation_from_config(
    name: str | None, source: str | None, root: Path, num_labels: int, trust_remote_code: bool
) -> Activation:
    """The activation a folder names (``source``: the file and key), matched against the registry.

    As the reference: no name → the default for ``num_labels``; a name outside ``torch`` → a warning and the default
    (the reference imports such paths only under ``trust_remote_code``; sentvec never imports them, so there it is
    an error). A ``torch`` name outside the registry is an error naming the file.
    """
    if name is None:
        return default_activation(num_labels)
    act = TORCH_NAMES.get(name)
    if act is not None:
        return act
    file = root / (source or "config.json").split(":")[0]
    if name.startswith("torch.") or trust_remote_code:
        raise ModelFormatError(
            file,
            f"activation {name!r} is not one sentvec knows ({', '.join(sorted(TORCH_NAMES))}); sentvec never imports "
            "a path named in a config: pass activation_fn= to load_reranker",
        )
    fallback = default_activation(num_labels)
    logger.warning(
        "%s names the activation %r, which is not trusted; using the default (%s), as sentence-transformers does "
        "without trust_remote_code. Pass activation_fn= to choose one",
        file,
        name,
        fallback.value,
    )
    return fallback


def apply_activation(logits: np.ndarray, act: ActivationCallable, apply_softmax: bool) -> np.ndarray:
    """The reference's post-processing: activation on (N, C) logits, then (N, 1) → (N,), then softmax over the labels
    when asked and there are several. float32 throughout."""
    scores = np.asarray(act(logits), dtype=np.float32)
    if scores.shape != logits.shape:
        raise ValueError(f"activation_fn returned shape {scores.shape} for logits of shape {logits.shape}")
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if apply_softmax and scores.ndim == 2:
        scores = _softmax(scores).astype(np.float32)
    return scores

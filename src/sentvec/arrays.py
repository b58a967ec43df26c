"""Input coercion shared by every use: texts as a checked list, embeddings as a checked float matrix.

Each helper names the culprit (the argument and the index of a bad item) instead of failing deep inside.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# What the helpers accept as "embeddings": numpy arrays, torch tensors, nested lists. Typed as object because
# torch is optional and nested lists have no useful static type; the helpers check what they get.
ArrayLike = object


def as_text_list(texts: Iterable[str], what: str) -> list[str]:
    """``texts`` as a list of strings; one string (which would iterate as characters) or a non-string item is a
    TypeError that names it."""
    if isinstance(texts, str):
        raise TypeError(f"{what} must be a sequence of strings, not one string")
    if not isinstance(texts, Iterable):
        raise TypeError(f"{what} must be a sequence of strings, got {type(texts).__name__}")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"{what}[{i}] is {type(t).__name__}, expected str")
    return items


def as_texts(sentences: str | Iterable[str]) -> tuple[list[str], bool]:
    """A list of texts and whether the input was a single string; non-strings are named by index."""
    if isinstance(sentences, str):
        return [sentences], True
    if not isinstance(sentences, Iterable):
        raise TypeError(f"encode() takes a str or an iterable of str, got {type(sentences).__name__}")
    texts = list(sentences)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"input at index {i} is {type(text).__name__}, expected str")
    return texts, False


def to_numpy(x: ArrayLike) -> np.ndarray:
    """A numpy array from a numpy array or a torch tensor (moved to the CPU, as float32 when it is a float)."""
    if isinstance(x, np.ndarray):
        return x
    if type(x).__module__.startswith("torch"):
        import torch

        assert isinstance(x, torch.Tensor)
        t = x.detach().to("cpu")
        return (t.float() if t.is_floating_point() else t).numpy()
    return np.asarray(x)


def as_embedding_matrix(x: ArrayLike, what: str = "embeddings") -> np.ndarray:
    """A 2-D float numpy array from a numpy array, nested list or torch tensor (a 1-D vector becomes one row)."""
    if type(x).__module__.startswith("torch"):
        import torch

        assert isinstance(x, torch.Tensor)
        t = x.detach().cpu()
        if t.dtype not in (torch.float32, torch.float64):
            t = t.float()
        x = t.numpy()
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(0, 0) if arr.size == 0 else arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a vector or a 2-D batch of vectors, got shape {arr.shape}")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return arr

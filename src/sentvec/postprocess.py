"""The steps after the forward pass, in the reference library's order: truncate_dim → normalize → precision.

One function for the encoder and the server, so an embedding means the same whichever way it was asked for.
"""

from __future__ import annotations

import numpy as np

from sentvec.arrays import to_numpy
from sentvec.quantization import Precision, quantize_embeddings
from sentvec.similarity import Array, normalize


def postprocess(
    embeddings: Array,
    *,
    truncate_dim: int | None = None,
    normalize_embeddings: bool = False,
    precision: Precision = Precision.FLOAT32,
    quantization_ranges: np.ndarray | None = None,
) -> Array:
    """Embeddings ``(N, D)`` → ``(N, truncate_dim)``, unit rows when asked, then quantized codes when asked.

    Float32 output keeps the input's type (numpy or torch); quantized output is numpy. int8/uint8 without
    ``quantization_ranges`` use fixed [-1, 1] ranges, valid for unit vectors only (checked).
    """
    emb = embeddings
    if truncate_dim:
        emb = emb[:, :truncate_dim]
    if normalize_embeddings:
        emb = normalize(emb)
    if precision is Precision.FLOAT32:
        return emb
    arr = to_numpy(emb)
    ranges = quantization_ranges
    if ranges is None and precision in (Precision.INT8, Precision.UINT8):
        ranges = unit_ranges(arr, precision, normalize_embeddings)
    return quantize_embeddings(arr, precision, ranges=ranges)


def unit_ranges(arr: np.ndarray, precision: Precision, normalized: bool) -> np.ndarray:
    """Fixed [-1, 1] ranges ``(2, D)`` for unit vectors; other vectors need calibrated ranges."""
    unit = normalized or len(arr) == 0 or bool(np.allclose(np.linalg.norm(arr, axis=1), 1, atol=1e-3))
    if not unit:
        raise ValueError(
            f"precision={precision.value!r} on unnormalized embeddings needs quantization_ranges= "
            "(shape (2, D), e.g. sentvec.quantization.calibration_ranges(calibration_embeddings))"
        )
    dim = arr.shape[1]
    return np.stack([-np.ones(dim, np.float32), np.ones(dim, np.float32)])

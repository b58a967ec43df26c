"""Embedding quantization: int8/uint8 with calibrated per-dimension ranges, and 1-bit binary.

int8/uint8 ranges come from a calibration set (or are given), never from the batch being quantized,
so a vector's code does not depend on which other vectors were quantized with it. Values outside the
range clip to the ends; they never wrap.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sentvec.enums import Precision

__all__ = ["Precision", "calibration_ranges", "quantize_embeddings"]


def calibration_ranges(calibration: np.ndarray) -> np.ndarray:
    """Per-dimension ``[min, max]`` of a calibration set: shape (2, D)."""
    calibration = np.asarray(calibration, dtype=np.float32)
    if calibration.ndim != 2 or calibration.shape[0] == 0:
        raise ValueError(f"calibration must be a non-empty (N, D) array, got shape {calibration.shape}")
    return np.stack([calibration.min(axis=0), calibration.max(axis=0)])


def quantize_embeddings(
    embeddings: np.ndarray,
    precision: str | Precision = "int8",
    ranges: np.ndarray | None = None,
    calibration: np.ndarray | None = None,
    *,
    calibration_embeddings: np.ndarray | None = None,
    rounding: Literal["nearest", "floor"] = "nearest",
) -> np.ndarray:
    """Quantize float embeddings ``(N, D)``.

    - ``int8`` / ``uint8``: 256 evenly spaced levels per dimension over ``ranges`` (shape (2, D): min row,
      max row) or over the ranges of ``calibration`` (alias ``calibration_embeddings``); one of the two is
      required. Codes round to the nearest level (``rounding="floor"``: the reference library's codes).
    - ``binary`` / ``ubinary``: one bit per dimension (``x > 0``), packed 8 per byte; ``binary`` is the
      packed byte minus 128 as int8, ``ubinary`` the packed byte as uint8 (sentence-transformers' codes).
    """
    precision = Precision.parse(precision)
    if calibration_embeddings is not None:  # sentence-transformers' name
        if calibration is not None:
            raise TypeError("pass calibration= or calibration_embeddings=, not both")
        calibration = calibration_embeddings
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim == 1:
        return quantize_embeddings(emb[None, :], precision, ranges, calibration, rounding=rounding)[0]
    if precision is Precision.FLOAT32:
        return emb
    if precision in (Precision.BINARY, Precision.UBINARY):
        packed = np.packbits(emb > 0, axis=-1)
        return packed if precision is Precision.UBINARY else (packed.astype(np.int16) - 128).astype(np.int8)
    if ranges is None:
        if calibration is None:
            raise ValueError(
                f"{precision.value} quantization needs ranges= or calibration= (per-dimension ranges from a "
                "calibration set); ranges from the batch itself would make codes depend on the batch"
            )
        ranges = calibration_ranges(calibration)
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, emb.shape[1]):
        raise ValueError(f"ranges must have shape (2, {emb.shape[1]}), got {ranges.shape}")
    low, high = ranges[0], ranges[1]
    if rounding == "floor":  # the reference's codes (sentvec.util), bit for bit
        steps = (high - low) / 255
        codes = np.clip(np.floor((emb - low) / np.where(steps == 0, 1, steps)), 0, 255)
    else:
        steps = np.maximum(high - low, 1e-12) / 255.0
        codes = np.clip(np.rint((emb - low) / steps), 0, 255)  # clip, never wrap
    if precision is Precision.UINT8:
        return codes.astype(np.uint8)
    return (codes - 128).astype(np.int8)

"""quantize_embeddings: calibrated int8/uint8 (batch-independent, clipping) and packed binary codes."""

from __future__ import annotations

import numpy as np
import pytest

from sentvec.quantization import Precision, calibration_ranges, quantize_embeddings

RNG = np.random.default_rng(0)
EMB = RNG.normal(size=(20, 16)).astype(np.float32)
RANGES = np.stack([np.full(16, -2.0, np.float32), np.full(16, 2.0, np.float32)])


def _reference_uint8(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """256 evenly spaced levels over [low, high], nearest level, clipped: written element by element."""
    out = np.empty(x.shape, dtype=np.int64)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            level = round(float((x[i, j] - low[j]) / (high[j] - low[j]) * 255))
            out[i, j] = min(max(level, 0), 255)
    return out


@pytest.mark.parametrize("precision", ["int8", "uint8", Precision.INT8])
def test_int8_needs_ranges_or_calibration(precision):
    with pytest.raises(ValueError, match="calibration"):
        quantize_embeddings(EMB, precision)


def test_codes_match_reference():
    uint8 = quantize_embeddings(EMB, "uint8", ranges=RANGES)
    assert uint8.dtype == np.uint8
    expected = _reference_uint8(EMB, RANGES[0], RANGES[1])
    # rounding exactly at .5 may go either way in float32
    assert np.abs(uint8.astype(np.int64) - expected).max() <= 1
    assert np.mean(uint8.astype(np.int64) == expected) > 0.95
    int8 = quantize_embeddings(EMB, "int8", ranges=RANGES)
    assert int8.dtype == np.int8
    np.testing.assert_array_equal(int8.astype(np.int64), uint8.astype(np.int64) - 128)


def test_ends_of_range():
    # ends map to the extreme codes; 0.5 in [-1, 1] is 191.25 steps of 2/255 from the low end
    x = np.array([[-2.0, 2.0, 0.5]], dtype=np.float32)
    ranges = np.array([[-2.0, -2.0, -1.0], [2.0, 2.0, 1.0]], dtype=np.float32)
    assert quantize_embeddings(x, "uint8", ranges=ranges).tolist() == [[0, 255, 191]]
    assert quantize_embeddings(x, "int8", ranges=ranges).tolist() == [[-128, 127, 63]]


def test_codes_do_not_depend_on_the_batch():
    calibration = RNG.normal(size=(100, 16)).astype(np.float32)
    for precision in ("int8", "uint8"):
        together = quantize_embeddings(EMB, precision, calibration=calibration)
        alone = np.stack(
            [quantize_embeddings(EMB[i : i + 1], precision, calibration=calibration)[0] for i in range(20)]
        )
        np.testing.assert_array_equal(together, alone)
        # appending an outlier to the batch changes nothing for the others
        outlier = np.full((1, 16), 50.0, np.float32)
        with_outlier = quantize_embeddings(np.concatenate([EMB, outlier]), precision, calibration=calibration)
        np.testing.assert_array_equal(with_outlier[:20], together)


def test_calibration_equals_explicit_ranges():
    calibration = RNG.normal(size=(50, 16)).astype(np.float32)
    ranges = calibration_ranges(calibration)
    np.testing.assert_array_equal(ranges, np.stack([calibration.min(0), calibration.max(0)]))
    np.testing.assert_array_equal(
        quantize_embeddings(EMB, "int8", calibration=calibration), quantize_embeddings(EMB, "int8", ranges=ranges)
    )


def test_out_of_range_values_clip_not_wrap():
    x = np.array([[-100.0, -2.5, 2.5, 100.0, 1e30, -1e30]], dtype=np.float32)
    ranges = np.stack([np.full(6, -2.0, np.float32), np.full(6, 2.0, np.float32)])
    assert quantize_embeddings(x, "uint8", ranges=ranges).tolist() == [[0, 0, 255, 255, 255, 0]]
    assert quantize_embeddings(x, "int8", ranges=ranges).tolist() == [[-128, -128, 127, 127, 127, -128]]


def test_monotonic():
    x = np.linspace(-3, 3, 101, dtype=np.float32)[:, None]
    codes = quantize_embeddings(x, "int8", ranges=np.array([[-2.0], [2.0]], np.float32))[:, 0].astype(np.int64)
    assert np.all(np.diff(codes) >= 0)


def test_constant_dimension_does_not_divide_by_zero():
    ranges = np.array([[1.0, -1.0], [1.0, 1.0]], dtype=np.float32)
    codes = quantize_embeddings(np.array([[1.0, 0.0]], np.float32), "uint8", ranges=ranges)
    assert codes.dtype == np.uint8
    assert codes[0, 0] == 0


@pytest.mark.parametrize("dim", [16, 13, 8])
def test_binary_matches_packbits(dim):
    x = RNG.normal(size=(9, dim)).astype(np.float32)
    x[0, :3] = 0.0  # zero is not positive
    expected = np.stack([np.packbits(row > 0) for row in x])
    ubinary = quantize_embeddings(x, "ubinary")
    assert ubinary.dtype == np.uint8
    assert ubinary.shape == (9, -(-dim // 8))
    np.testing.assert_array_equal(ubinary, expected)
    binary = quantize_embeddings(x, "binary")
    assert binary.dtype == np.int8
    np.testing.assert_array_equal(binary.astype(np.int64), expected.astype(np.int64) - 128)


def test_binary_needs_no_ranges_and_is_batch_independent():
    together = quantize_embeddings(EMB, "binary")
    alone = np.stack([quantize_embeddings(row, "binary") for row in EMB])
    np.testing.assert_array_equal(together, alone)


def test_1d_input():
    vec = quantize_embeddings(EMB[0], "int8", ranges=RANGES)
    assert vec.shape == (16,)
    np.testing.assert_array_equal(vec, quantize_embeddings(EMB, "int8", ranges=RANGES)[0])


def test_float32_passthrough():
    out = quantize_embeddings(EMB.astype(np.float64), "float32")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, EMB)


def test_bad_ranges_shape():
    with pytest.raises(ValueError, match=r"\(2, 16\)"):
        quantize_embeddings(EMB, "int8", ranges=RANGES[:, :8])


def test_unknown_precision():
    with pytest.raises(ValueError, match="int4") as exc:
        quantize_embeddings(EMB, "int4")
    for member in Precision:
        assert member.value in str(exc.value)


@pytest.mark.parametrize("bad", [np.zeros((0, 4)), np.zeros(4)])
def test_calibration_ranges_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="calibration"):
        calibration_ranges(bad)

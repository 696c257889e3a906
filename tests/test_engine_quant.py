"""edgert.engine.quantize / dequantize (the SDK's int8 model I/O) and the multiplier
arithmetic the plan compiler precomputes (TFLite's QuantizeMultiplier)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from edgert._ffi import lib
from edgert.engine import dequantize, quantize
from edgert.engine.quant import (activation_range_int8, calculate_input_radius, conv_output_size,
                                 conv_padding, quantize_multiplier)
from edgert.errors import InputError


def test_quantize_rounds_half_away_from_zero_and_clamps():
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49, 1000.0, -1000.0], dtype=np.float32)
    np.testing.assert_array_equal(quantize(x, 1.0, 0), [1, -1, 2, -2, 3, -3, 0, 127, -128])
    np.testing.assert_array_equal(quantize(x, 1.0, 10), [11, 9, 12, 8, 13, 7, 10, 127, -128])
    assert quantize(x, 1.0, 0).dtype == np.int8


def test_quantize_divides_in_float32():
    # 0.3 / 0.1 is 2.9999999999999996 in float64 but exactly 3 in float32: float32 like the SDK
    assert quantize(np.float32(0.3), 0.1, 0) == 3
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10000).astype(np.float32) * 20
    s = np.float32(0.0731)
    v = (x / s).astype(np.float64)
    want = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) - 7, -128, 127)
    np.testing.assert_array_equal(quantize(x, float(s), -7), want)


def test_quantize_per_channel_and_dequantize_roundtrip():
    x = np.array([[1.0, 2.0, -3.0]], dtype=np.float32)
    q = quantize(x, np.array([0.1, 0.5, 0.25]), np.array([0, 1, -2]))
    np.testing.assert_array_equal(q, [[10, 5, -14]])
    np.testing.assert_allclose(dequantize(q, [0.1, 0.5, 0.25], [0, 1, -2]), x, rtol=1e-6)
    p = dequantize(np.array([-128, 0, 127], dtype=np.int8), 1 / 256, -128)
    np.testing.assert_array_equal(p, np.array([0.0, 0.5, 255 / 256], dtype=np.float32))


def test_quantize_bad_input():
    with pytest.raises(InputError, match="NaN"):
        quantize(np.array([np.nan], np.float32), 0.1, 0)
    with pytest.raises(InputError, match="positive"):
        quantize(np.ones(3), 0.0, 0)
    with pytest.raises(InputError, match="integer"):
        dequantize(np.ones(3, np.float32), 0.1, 0)


@pytest.mark.parametrize("real", [3.7e-5, 1e-9, 0.00123, 0.5, 0.75, 1.0, 1.9999999999, 3.0, 1234.5])
def test_quantize_multiplier(real):
    m, shift = quantize_multiplier(real)
    assert (1 << 30) <= m < (1 << 31)
    assert m * 2.0 ** (shift - 31) == pytest.approx(real, rel=2**-30)
    # and the C core multiplies by it as TFLite does: x * real rounded (double rounding aside)
    for x in (1000, -1000, 123456):
        got = lib.edgert_fx_mbqm(x, m, shift)
        assert abs(got - x * real) <= 1.0


def test_quantize_multiplier_edge_cases():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)           # shift < -31 flushes to zero
    m, shift = quantize_multiplier(1.0 - 2.0 ** -40)           # rounds up to 2^31: renormalised
    assert (m, shift) == (1 << 30, 1)


def test_activation_ranges_and_padding():
    assert activation_range_int8(0, 0.1, 3) == (-128, 127)
    assert activation_range_int8(1, 0.1, -20) == (-20, 127)
    assert activation_range_int8(3, 0.1, -100) == (-100, -40)   # 6 / 0.1 = 60
    assert activation_range_int8(2, 0.02, 0) == (-50, 50)
    assert conv_output_size(0, 10, 3, 2, 1) == 5 and conv_output_size(1, 10, 3, 2, 1) == 4
    assert conv_padding(2, 1, 10, 3, 5) == 0 and conv_padding(1, 1, 10, 3, 10) == 1
    assert conv_padding(1, 2, 10, 3, 10) == 2                   # dilated 3-tap = 5 wide
    assert calculate_input_radius(5, 23) == math.floor(31 * 2**26 / 2**23)

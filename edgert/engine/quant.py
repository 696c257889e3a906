"""Quantization arithmetic of TFLite (Micro), in Python: the parameter precomputation the C
kernels rely on (QuantizeMultiplier and friends, activation ranges, padding) and the vectorised
int8 model-I/O helpers :func:`quantize` / :func:`dequantize`."""
from __future__ import annotations

import math
from typing import Union

import numpy as np

from ..errors import InputError

ArrayLike = Union[np.ndarray, float, int]

FLOAT_MAX = float(np.finfo(np.float32).max)


def round_half_away(x: float) -> int:
    """C's round(): halves go away from zero (Python's round() is banker's rounding)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = M * 2^(shift - 31), M in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m = round_half_away(q * (1 << 31))
    if m == (1 << 31):
        m //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return int(m), int(shift)


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    m, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"multiplier {real} is smaller than one")
    return m, shift


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    m, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"multiplier {real} is not smaller than one")
    return m, shift


def frexp_multiplier(real: float) -> tuple[int, int]:
    """The raw frexp-based multiplier TFLite Micro's LOGISTIC/TANH compute (no fix-ups)."""
    q, shift = math.frexp(real)
    return round_half_away(q * (1 << 31)), shift


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    max_input_rescaled = (1.0 * ((1 << integer_bits) - 1) * float(1 << (total_signed_bits - integer_bits))
                          / math.ldexp(1.0, left_shift))
    return int(math.floor(max_input_rescaled))


def quantize_scalar(f: float, scale: float, zero_point: int) -> int:
    """TFLite's activation-range quantization: zp + round(f / scale) computed in float32."""
    return int(zero_point) + round_half_away(float(np.float32(f) / np.float32(scale)))


def activation_range_int8(act: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs. act: tflite ActivationFunctionType."""
    lo, hi = -128, 127
    if act == 0:
        return lo, hi
    if act == 1:  # RELU
        return max(lo, quantize_scalar(0.0, scale, zero_point)), hi
    if act == 3:  # RELU6
        return (max(lo, quantize_scalar(0.0, scale, zero_point)),
                min(hi, quantize_scalar(6.0, scale, zero_point)))
    if act == 2:  # RELU_N1_TO_1
        return (max(lo, quantize_scalar(-1.0, scale, zero_point)),
                min(hi, quantize_scalar(1.0, scale, zero_point)))
    raise ValueError(f"fused activation {act}")


def activation_range_float(act: int) -> tuple[float, float]:
    if act == 0:
        return -FLOAT_MAX, FLOAT_MAX
    if act == 1:
        return 0.0, FLOAT_MAX
    if act == 3:
        return 0.0, 6.0
    if act == 2:
        return -1.0, 1.0
    raise ValueError(f"fused activation {act}")


def conv_output_size(padding: int, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    """ComputeOutSize. padding: 0 = SAME, 1 = VALID (tflite.Padding)."""
    eff = (filter_size - 1) * dilation + 1
    if padding == 0:
        return (in_size + stride - 1) // stride
    return (in_size + stride - eff) // stride


def conv_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    """ComputePaddingWithOffset: the padding before (total // 2)."""
    eff = (filter_size - 1) * dilation + 1
    total = max(0, (out_size - 1) * stride + eff - in_size)
    return total // 2


def _scale_zp(scale: ArrayLike, zero_point: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scale, dtype=np.float32)
    z = np.asarray(zero_point, dtype=np.int64)
    if np.any(~(s > 0)):
        raise InputError(f"quantization scale must be positive, got {scale}")
    return s, z


def quantize(x: ArrayLike, scale: ArrayLike, zero_point: ArrayLike) -> np.ndarray:
    """Float -> int8 as the Edge Impulse SDK and TFLite do it: ``x / scale`` in float32, round
    half away from zero, ``+ zero_point``, clamp to [-128, 127]. scale/zero_point broadcast
    (per-channel along the last axis when arrays)."""
    s, z = _scale_zp(scale, zero_point)
    v = np.asarray(x, dtype=np.float32) / s          # float32 division, like the C code
    if np.any(np.isnan(v)):
        raise InputError("cannot quantize NaN values")
    v64 = v.astype(np.float64)
    r = np.where(v64 >= 0, np.floor(v64 + 0.5), -np.floor(-v64 + 0.5))
    return np.clip(r + z, -128, 127).astype(np.int8)


def dequantize(q: ArrayLike, scale: ArrayLike, zero_point: ArrayLike) -> np.ndarray:
    """int8 -> float32: ``(q - zero_point) * scale`` (computed in float64, rounded to float32
    once, as TFLite's DEQUANTIZE does)."""
    s, z = _scale_zp(scale, zero_point)
    qa = np.asarray(q)
    if qa.dtype.kind not in "iu":
        raise InputError(f"dequantize expects integer values, got {qa.dtype}")
    return ((qa.astype(np.int64) - z) * s.astype(np.float64)).astype(np.float32)

"""Sliding windows over a whole recording, resampling to the impulse frequency, and the int8
quantization of model inputs/outputs (the Python side of ``csrc/window.c``).

Window rules (Studio's classify API): ``W = round(window_size_ms * f / 1000)`` and
``S = round(window_increase_ms * f / 1000)`` samples (rounding half up, like JavaScript's
``Math.round``); windows start at 0, S, 2S, ...; ``floor((N - W) / S) + 1`` of them when
``N >= W``; trailing samples that do not fill a window are not classified. A recording shorter
than one window gives one zero-padded window when the impulse has ``zero_pad`` on.

Resampling: a recording at another frequency is resampled to the impulse frequency first,
to ``ceil(f_out / f_in * L)`` samples, by polyphase filtering with the rational
approximation ``up/down`` of ``f_out/f_in`` (denominator <= 1000). The anti-aliasing filter is
the one ``scipy.signal.resample_poly`` uses by default: a Kaiser-windowed sinc (beta 5.0) of
``2 * 10 * max(up, down) + 1`` taps with cutoff ``1/max(up, down)`` of Nyquist, unit DC gain,
times ``up``; the signal is zero outside the recording. The filter is designed here in numpy
and applied by ``edgert_resample_poly`` in C.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _ffi
from .._ffi import ffi, lib
from ..errors import InputError


def round_half_up(x: float) -> int:
    """JavaScript's Math.round (Python's round() rounds half to even)."""
    return int(math.floor(x + 0.5))


#: Largest window length / increase in samples: the C kernels take them as int32.
MAX_WINDOW_SAMPLES = 2**31 - 1
#: Largest recording a resampling may produce (rows): far beyond any real recording (a day at
#: 1 kHz is 86.4 M rows), small enough that a nonsense frequency fails with a clear error
#: instead of exhausting memory.
MAX_RESAMPLED_ROWS = 200_000_000
#: Largest up/down factor of the resampling filter (its length is 20 x that + 1 taps).
MAX_RESAMPLE_FACTOR = 100_000


def window_geometry(window_size_ms: float, window_increase_ms: float,
                    frequency: float) -> tuple[int, int]:
    """(W, S): window length and increase in samples at ``frequency`` Hz."""
    w_f = window_size_ms * frequency / 1000.0
    s_f = window_increase_ms * frequency / 1000.0
    for what, ms, v in (("window", window_size_ms, w_f),
                        ("window increase", window_increase_ms, s_f)):
        if not (math.isfinite(v) and v < MAX_WINDOW_SAMPLES):
            raise InputError(f"a {what} of {ms} ms at {frequency} Hz is not a usable number "
                             f"of samples (at most {MAX_WINDOW_SAMPLES})")
    w = round_half_up(w_f)
    s = max(1, round_half_up(s_f))
    if w < 1:
        raise InputError(f"a {window_size_ms} ms window at {frequency} Hz is shorter than "
                         "one sample")
    return w, s


def window_count(n_rows: int, window: int, stride: int, zero_pad: bool) -> int:
    """Number of windows over ``n_rows`` time steps (see the module docstring)."""
    out = ffi.new("int64_t *")
    _ffi.check(lib.edgert_window_count(int(n_rows), int(window), int(stride), int(zero_pad),
                                       out), "counting windows")
    return int(out[0])


def window_starts(n_rows: int, window: int, stride: int, zero_pad: bool) -> np.ndarray:
    """int32 start rows of every window (empty when there is none)."""
    n = window_count(n_rows, window, stride, zero_pad)
    return (np.arange(n, dtype=np.int64) * stride).astype(np.int32)


def zero_pad_to(values: np.ndarray, n_rows: int) -> np.ndarray:
    """``values`` (rows, axes) with zero rows appended up to ``n_rows`` rows."""
    if values.shape[0] >= n_rows:
        return values
    out = np.zeros((n_rows, values.shape[1]), dtype=values.dtype)
    out[: values.shape[0]] = values
    return out


# ------------------------------------------------------------------------------ resampling
def resample_ratio(f_in: float, f_out: float) -> tuple[int, int]:
    """(up, down): the rational approximation of f_out/f_in used for resampling."""
    if not (f_in > 0 and f_out > 0 and math.isfinite(f_in) and math.isfinite(f_out)):
        raise InputError(f"cannot resample from {f_in} Hz to {f_out} Hz: frequencies must be "
                         "positive and finite")
    ratio = f_out / f_in
    if not math.isfinite(ratio) or ratio > MAX_RESAMPLE_FACTOR:
        raise InputError(f"cannot resample from {f_in:g} Hz to {f_out:g} Hz: that is "
                         f"{ratio:g} times as many samples; check the recording's "
                         "interval/frequency")
    from fractions import Fraction  # (imported when first resampling)
    r = Fraction(ratio).limit_denominator(1000)
    if r.numerator < 1:
        raise InputError(f"cannot resample from {f_in} Hz to {f_out} Hz (ratio too small)")
    if max(r.numerator, r.denominator) > MAX_RESAMPLE_FACTOR:
        raise InputError(f"cannot resample from {f_in:g} Hz to {f_out:g} Hz: the rational "
                         f"ratio {r.numerator}/{r.denominator} needs a filter of more than "
                         f"{20 * MAX_RESAMPLE_FACTOR} taps; check the recording's frequency")
    return r.numerator, r.denominator


def resample_filter(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR (float64, centred, odd length) for resampling by up/down."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    n_taps = 2 * half_len + 1
    cutoff = 1.0 / max_rate
    m = np.arange(n_taps, dtype=np.float64) - half_len
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(n_taps, 5.0)
    h /= h.sum()
    return h * up


def resample(values: np.ndarray, f_in: float, f_out: float) -> np.ndarray:
    """Resample (rows, axes) float32 ``values`` from ``f_in`` to ``f_out`` Hz (polyphase,
    see the module docstring); returns ``ceil(f_out/f_in * rows)`` rows (via up/down)."""
    up, down = resample_ratio(f_in, f_out)
    x = np.ascontiguousarray(values, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 1:
        raise InputError("resample: expected a non-empty (rows, axes) array")
    if up == down:
        return x.copy()
    n_out = -(-x.shape[0] * up // down)
    if n_out > MAX_RESAMPLED_ROWS:
        raise InputError(f"resampling {x.shape[0]} rows from {f_in:g} Hz to {f_out:g} Hz "
                         f"would give {n_out} rows (more than {MAX_RESAMPLED_ROWS}); check "
                         "the recording's interval/frequency")
    taps = resample_filter(up, down).astype(np.float32)
    out = np.empty((n_out, x.shape[1]), dtype=np.float32)
    _ffi.check(lib.edgert_resample_poly(_ffi.ptr("float *", taps), taps.size, up, down,
                                        _ffi.ptr("float *", x), x.shape[0], x.shape[1],
                                        _ffi.ptr("float *", out), n_out),
               f"resampling {f_in} Hz -> {f_out} Hz")
    return out


# ------------------------------------------------------------------- int8 model I/O
def quantize_int8(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """``clamp(round_half_away_from_zero(x / scale) + zero_point, -128, 127)`` as int8 (x/scale
    in float32, as TFLite and Edge Impulse's SDK compute it); same shape as ``x``."""
    src = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty(src.shape, dtype=np.int8)
    _ffi.check(lib.edgert_quantize_int8(_ffi.ptr("float *", src), src.size, float(scale),
                                        int(zero_point), _ffi.ptr("int8_t *", out)),
               "quantizing the model input")
    return out


def dequantize_int8(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """``(q - zero_point) * scale`` in float32; same shape as ``q``."""
    src = np.ascontiguousarray(q, dtype=np.int8)
    out = np.empty(src.shape, dtype=np.float32)
    _ffi.check(lib.edgert_dequantize_int8(_ffi.ptr("int8_t *", src), src.size, float(scale),
                                          int(zero_point), _ffi.ptr("float *", out)),
               "dequantizing the model output")
    return out


__all__ = ["round_half_up", "window_geometry", "window_count", "window_starts", "zero_pad_to",
           "resample_ratio", "resample_filter", "resample", "quantize_int8", "dequantize_int8"]

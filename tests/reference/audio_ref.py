"""Straightforward numpy implementation of the audio DSP blocks (MFCC, MFE, Spectrogram; versions
1-4), written from the project's audio-dsp spec (the description of Edge Impulse's training-time
Python blocks), not from edgert's C code.

Used as the oracle of the property tests (tests/test_audio_props.py: C vs this on random
configurations) and as the per-window baseline of benches/bench_audio.py. Clarity over speed:
one window at a time, dense matrices, numpy's FFT, the sliding normalisation as the literal
sequential sums the spec describes.

``features(block, version, params, sampling_freq, raw, n_axes=1)`` returns
``(features float64 array, output_config)`` or raises the reference's error: this module's
:class:`ConfigurationError`, or the built-in ``AssertionError`` / ``ValueError`` / ``Exception``,
with the reference's message.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

DEFAULTS: dict[str, dict[str, Any]] = {
    "mfcc": dict(num_cepstral=13, frame_length=0.02, frame_stride=0.02, num_filters=32,
                 fft_length=256, win_size=101, low_frequency=0, high_frequency=0, pre_cof=0.98,
                 pre_shift=1),
    "mfe": dict(frame_length=0.02, frame_stride=0.01, num_filters=40, fft_length=256,
                low_frequency=0, high_frequency=0, win_size=101, noise_floor_db=-52),
    "spectrogram": dict(frame_length=0.02, frame_stride=0.01, fft_length=128,
                        noise_floor_db=-52, show_axes=True),
}
MAX_FRAMES = 500


class ConfigurationError(Exception):
    """The reference blocks' own configuration error class."""


# ------------------------------------------------------------------------------ framing
def cnf(v: float) -> int:
    """ceil, except that a value just above an integer (< 0.001) is floored."""
    fl = math.floor(v)
    if 0 < v - fl < 0.001:
        return int(fl)
    return int(math.ceil(v))


def frame_geometry(version: int, fs: float, frame_length: float, frame_stride: float,
                   length: int) -> tuple[int, int, int]:
    """(samples per frame n, stride s, frame count F) per the spec's framing rules."""
    if version == 1:
        n = int(np.round(fs * frame_length))      # numpy rounds half to even
    else:
        n = cnf(fs * frame_length)
    s = cnf(fs * frame_stride)
    if version == 1:
        F = (length - n) // s
    else:
        F = (length - n + s) // s
    return n, s, F


def frames(x: np.ndarray, n: int, s: int, F: int) -> np.ndarray:
    return np.stack([x[k * s:k * s + n] for k in range(F)]) if F > 0 else np.zeros((0, n))


def power_spectrum(fr: np.ndarray, N: int) -> np.ndarray:
    """|rfft|^2 / N of every frame, frames truncated to N samples / zero-padded to N."""
    if fr.shape[1] > N:
        fr = fr[:, :N]
    X = np.fft.rfft(fr, n=N, axis=1)
    return np.abs(X) ** 2 / N


def preemphasis(x: np.ndarray, c: float, h: int) -> np.ndarray:
    """y[i] = x[i] - c*x[i-h], circular for the first h samples."""
    return x - c * np.roll(x, h)


# ---------------------------------------------------------------------------- mel scale
def mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def hz(m):
    return 700.0 * (np.exp(np.asarray(m, dtype=np.float64) / 1127.0) - 1.0)


def mel_edges(M: int, N: int, fs: float, low: float, high: float, new_mels: bool) -> np.ndarray:
    pts = np.linspace(mel(low), mel(high), M + 2)
    h = hz(pts)
    h[-1] -= 0.001
    K = (N + 1) if new_mels else (N // 2 + 2)
    return np.floor(K * h / fs).astype(np.int64)


def filterbank(M: int, N: int, fs: float, low: float, high: float,
               new_mels: bool) -> np.ndarray:
    """(M, N/2+1) triangular weights; raises the reference's errors."""
    if high > fs / 2:
        raise AssertionError("High frequency cannot be greater than half of the sampling "
                             "frequency!")
    if low < 0:
        raise AssertionError("low frequency cannot be less than zero!")
    if low > high:
        raise ValueError("Number of samples, -1, must be non-negative.")
    b = mel_edges(M, N, fs, low, high, new_mels)
    B = N // 2 + 1
    W = np.zeros((M, B))
    k = np.arange(B, dtype=np.float64)
    for i in range(M):
        lo, mid, hi = b[i], b[i + 1], b[i + 2]
        if mid > lo:
            sel = (k > lo) & (k <= mid)
            W[i, sel] = (k[sel] - lo) / (mid - lo)
        if hi > mid:
            sel = (k >= mid) & (k < hi)
            W[i, sel] = (hi - k[sel]) / (hi - mid)
    if np.any(~W.any(axis=1)):
        raise ConfigurationError(
            "At least one row of the mel filterbank contains all zeros. Suggest lowering "
            f"filter number to {float(math.floor(B / 4))}, or increasing the FFT length.")
    return W


def mel_energies(P: np.ndarray, W: np.ndarray) -> np.ndarray:
    E = P @ W.T
    E[E == 0] = 1e-10
    return E


# ------------------------------------------------------------------ sliding normalisation
def mirrored(R: int, j: int) -> int:
    jj = j % (2 * R)
    return 2 * R - 1 - jj if jj >= R else jj


def sliding_norm(X: np.ndarray, win: int, variance: bool) -> np.ndarray:
    """The spec's sliding normalisation: float64 sequential window mean, float32 D, and with
    variance the population std of the mirrored D (float32 result)."""
    R, C = X.shape
    p = (win - 1) // 2
    idx = [[mirrored(R, j) for j in range(i - p, i + p + 1)] for i in range(R)]
    D = np.zeros((R, C), dtype=np.float32)
    for i in range(R):
        acc = np.zeros(C)
        for j in idx[i]:
            acc = acc + X[j]
        D[i] = (X[i] - acc / win).astype(np.float32)
    if not variance:
        return D
    out = np.zeros((R, C), dtype=np.float32)
    for i in range(R):
        sd = D[idx[i]].astype(np.float64).std(axis=0)
        out[i] = (D[i] / (sd + 1e-10)).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- checks
def _common_checks(block: str, version: int, p: Mapping[str, Any], n_axes: int,
                   length: int, fs: float) -> tuple[int, int, int]:
    name = {"mfcc": "MFCC", "mfe": "MFE", "spectrogram": "Spectrogram"}[block]
    if block != "spectrogram" and p["num_filters"] < 2:
        raise ConfigurationError("Filter number should be at least 2")
    N = p["fft_length"]
    if N < 1 or N & (N - 1):
        raise ConfigurationError("FFT length must be a power of 2")
    if n_axes != 1:
        per = "spectrogram" if block == "spectrogram" else name
        raise ConfigurationError(f"{name} blocks only support a single axis, create one "
                                 f"{per} block per axis under **Create impulse**")
    if block == "spectrogram":
        if length == 0:
            raise ConfigurationError("Input data must not be empty")
        if p["frame_length"] < 4 / fs:
            raise ConfigurationError("Frame length should be at least 4 samples")
        if p["frame_stride"] < 4 / fs:
            raise ConfigurationError("Frame stride should be at least 4 samples")
    n, s, F = frame_geometry(version, fs, p["frame_length"], p["frame_stride"], length)
    if F < 1:
        raise ConfigurationError("Frame length is larger than your window size")
    if F > MAX_FRAMES:
        raise ConfigurationError(f"Number of frames is larger than {MAX_FRAMES} ({F}), increase "
                                 "your frame stride or decrease your window size.")
    return n, s, F


def _version(block: str, version: int) -> None:
    if version < 1:
        raise ValueError("Invalid value for implementation_version, should be 1, 2 or 3 but "
                         f"was {version}")
    if version > 4:
        if block == "mfcc":
            raise Exception("implementation_version should be between 1 and 4")
        if block == "mfe":
            raise ConfigurationError("implementation_version should be less than 5")
        raise ConfigurationError("implementation_version should be <= 4")


def _freqs(version: int, p: Mapping[str, Any], fs: float) -> tuple[float, float]:
    low = float(p["low_frequency"] or 0)
    if version <= 3 and low == 0:
        low = 300.0          # spec quirk 3
    high = float(p["high_frequency"] or 0) or fs / 2
    return low, high


# ------------------------------------------------------------------------------ blocks
def mfcc(version: int, p: Mapping[str, Any], fs: float, x: np.ndarray,
         n_axes: int = 1) -> np.ndarray:
    _version("mfcc", version)
    n, s, F = _common_checks("mfcc", version, p, n_axes, x.size, fs)
    if p["pre_shift"] <= 0:
        raise ValueError("Shift cannot be zero, or less than 0.  To disable pre emphasis, set "
                         "coefficient to 0")
    low, high = _freqs(version, p, fs)
    N, M, C = p["fft_length"], p["num_filters"], p["num_cepstral"]
    W = filterbank(M, N, fs, low, high, version >= 4)
    win = p["win_size"]
    if win > 0 and win % 2 == 0:
        raise AssertionError("Windows size must be odd!")
    y = preemphasis(x, p["pre_cof"], p["pre_shift"])
    P = power_spectrum(frames(y, n, s, F), N)
    e = P.sum(axis=1)
    e[e == 0] = 1e-10
    Lg = np.log(mel_energies(P, W))
    q = np.arange(min(C, M))[:, None]
    i = np.arange(M)[None, :]
    basis = np.cos(np.pi * q * (2 * i + 1) / (2 * M)) * np.where(q == 0, math.sqrt(1 / M),
                                                                 math.sqrt(2 / M))
    # frame by frame (a matrix product may round identical rows differently, which the
    # normalisation of a constant column would amplify: spec, Precision)
    cep = np.array([basis @ row for row in Lg]).reshape(F, -1)
    cep[:, 0] = np.log(e)
    if win > 0:
        cep = sliding_norm(cep, win, True).astype(np.float64)
    return cep.reshape(-1)


def mfe(version: int, p: Mapping[str, Any], fs: float, x: np.ndarray,
        n_axes: int = 1) -> np.ndarray:
    _version("mfe", version)
    n, s, F = _common_checks("mfe", version, p, n_axes, x.size, fs)
    low, high = _freqs(version, p, fs)
    N, M = p["fft_length"], p["num_filters"]
    W = filterbank(M, N, fs, low, high, version >= 4)
    if version <= 2:
        win = p["win_size"]
        if win % 2 == 0:
            raise AssertionError("Windows size must be odd!")
        E = mel_energies(power_spectrum(frames(x, n, s, F), N), W)
        D = sliding_norm(E, win, False)
        lo, hi = D.min(), D.max()
        if lo != 0 and hi != 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                D = ((D - lo) / (hi - lo)).astype(np.float32)
            D[np.isnan(D)] = 0
        return D.astype(np.float64).reshape(-1)
    x32 = (x / 32768.0).astype(np.float32)
    y = (x32 - np.float32(0.98) * np.roll(x32, 1)).astype(np.float32)
    E = mel_energies(power_spectrum(frames(y.astype(np.float64), n, s, F), N), W)
    nf = float(p["noise_floor_db"])
    d = 10 * np.log10(np.maximum(E, 1e-30))
    v = np.clip((d - nf) / (12 - nf), 0, 1)
    q = np.round(256 * v)
    q[q == 256] = 0
    return (q / 256).reshape(-1)


def spectrogram(version: int, p: Mapping[str, Any], fs: float, x: np.ndarray,
                n_axes: int = 1) -> np.ndarray:
    _version("spectrogram", version)
    n, s, F = _common_checks("spectrogram", version, p, n_axes, x.size, fs)
    N = p["fft_length"]
    if version == 3 and (np.any(x < -1) or np.any(x > 1)):
        x = (x / 32768.0).astype(np.float32).astype(np.float64)
    P = power_spectrum(frames(x, n, s, F), N)
    if version <= 2:
        lo, hi = P.min(), P.max()
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (P - lo) / (hi - lo)
        out[np.isnan(out)] = 0
        return out.reshape(-1)
    nf = float(p["noise_floor_db"])
    d = 10 * np.log10(np.maximum(P, 1e-30))
    v = (d - nf) / (12 - nf)
    v = np.clip(v, 0, 1) if version == 3 else np.maximum(v, 0)
    return v.reshape(-1)


BLOCKS = {"mfcc": mfcc, "mfe": mfe, "spectrogram": spectrogram}


def features(block: str, version: int, params: Mapping[str, Any], sampling_freq: float,
             raw: Sequence[float] | np.ndarray, n_axes: int = 1) -> tuple[np.ndarray, dict]:
    """The block's features of one window and its output_config (see the module docstring)."""
    p = dict(DEFAULTS[block])
    p.update(params)
    x = np.asarray(raw, dtype=np.float64)
    feats = BLOCKS[block](int(version), p, float(sampling_freq), x, n_axes)
    L = x.size
    n, s, F = frame_geometry(int(version), float(sampling_freq), p["frame_length"],
                             p["frame_stride"], L)
    if block == "mfcc":
        C = p["num_cepstral"]
        cfg = {"width": feats.size / C, "height": C}
    elif block == "mfe":
        cfg = {"width": F, "height": p["num_filters"]}
    else:
        cfg = {"width": F, "height": p["fft_length"] // 2 + 1}
    return feats, {"type": "spectrogram", "shape": cfg}


__all__ = ["ConfigurationError", "DEFAULTS", "features", "mfcc", "mfe", "spectrogram",
           "frame_geometry", "filterbank", "sliding_norm", "cnf"]

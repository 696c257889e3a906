"""The numpy/scipy reference of the Spectral Analysis block: what `edgert bench` times edgert's
C DSP against, and the tests' independent oracle (tests/reference/spectral_ref.py and
spectral_v1_ref.py re-export it; there is one copy). Written from the project's
spectral-analysis spec, it shares no code with the C core: straightforward numpy/scipy, one
window and one axis at a time, clarity over speed. Needs scipy (``pip install 'edgert[bench]'``).

Versions 2-4, FFT path (:func:`spectral_features`):
``precision="training"`` (default) follows the data types of the Edge Impulse training block:
the window is float32 and scaled in float32; without input decimation the Butterworth filter
(float32 coefficients) and the mean removal run in float32; decimation (float64 Chebyshev
stages) switches to float64. The spectrum is always computed in float64 here.
``precision="float64"`` runs everything in float64 (the block's mathematics without float32
rounding).

Version 1, legacy (:func:`v1_axis`, :func:`peak_indexes`): float64, the original v1 algorithm
(mean removed BEFORE the filter), per axis: RMS, spectral peaks (frequency, height) and spectral
power in frequency bands.

:func:`block_features` dispatches one window of a bundle's spectral-analysis block (either
version); :func:`supports` says whether a block is covered (the wavelet path is not: its
reference needs PyWavelets and lives with the tests).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import scipy.signal
from scipy import signal

DEFAULTS: dict[str, Any] = {
    "scale-axes": 1.0, "input-decimation-ratio": 1, "filter-type": "none",
    "filter-cutoff": 3.0, "filter-order": 6, "analysis-type": "FFT", "fft-length": 16,
    "do-log": True, "do-fft-overlap": True, "extra-low-freq": False,
}
RATIO_STAGES = {1: [], 3: [3], 10: [10], 30: [3, 10], 100: [10, 10], 1000: [10, 10, 10]}


class RefConfigError(ValueError):
    """A configuration the reference block rejects."""


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v)


def decimate_stage(x: np.ndarray, r: int) -> np.ndarray:
    """Chebyshev-I order 8, 0.05 dB, cutoff 0.8/r; steady-state start for x[0]; keep every r-th."""
    sos = signal.cheby1(8, 0.05, 0.8 / r, output="sos")
    zi = signal.sosfilt_zi(sos) * x[0]
    y, _ = signal.sosfilt(sos, x, zi=zi)
    return y[::r]


def _skew_kurt(y: np.ndarray) -> tuple[float, float]:
    y = np.asarray(y, dtype=np.float64)
    m = y.mean()
    d = y - m
    m2 = np.mean(d * d)
    eps = np.finfo(np.float64).eps
    if m2 <= (eps * m) ** 2 or m2 == 0:
        return 0.0, -3.0
    return float(np.mean(d**3) / m2**1.5), float(np.mean(d**4) / m2**2 - 3.0)


def kept_bins(filter_type: str, cutoff: float, fs: float, n_fft: int) -> list[int]:
    """Bins 1..N/2 kept by the low/high masks (cutoff clamped to Nyquist)."""
    freqs = np.fft.rfftfreq(n_fft, 1 / fs)
    spacing = freqs[1]
    fc = min(cutoff, fs / 2) if filter_type != "none" else cutoff
    out = []
    for i in range(1, len(freqs)):
        if filter_type == "low" and freqs[i] - spacing / 2 > fc:
            break
        if filter_type == "high" and freqs[i] + spacing / 2 < fc:
            continue
        out.append(i)
    return out


def _spec_block(y: np.ndarray, fs: float, cfg: dict, spec_stats: bool) -> list[float]:
    n_fft = cfg["fft-length"]
    y64 = np.asarray(y, dtype=np.float64)
    feats = [math.sqrt(np.mean(y64 * y64)), *_skew_kurt(y64)]
    step = n_fft - (n_fft // 2 if cfg["do-fft-overlap"] else 0)
    pmax = np.zeros(n_fft // 2 + 1)
    for ix in range(0, len(y64), step):
        frame = y64[ix:ix + n_fft]
        p = np.abs(np.fft.rfft(frame, n_fft)) ** 2 / n_fft
        pmax = np.maximum(pmax, p)
    if spec_stats:
        feats += list(_skew_kurt(pmax))
    bins = kept_bins(cfg["filter-type"], cfg["filter-cutoff"], fs, n_fft)
    if not bins:
        raise RefConfigError("Cutoff frequency masked all FFT bins")
    vals = pmax[bins]
    if cfg["do-log"]:
        vals = np.log10(np.where(vals == 0, 1e-10, vals))
    return feats + [float(v) for v in vals]


def spectral_features(raw: Sequence[float] | np.ndarray, n_axes: int, sampling_freq: float,
                      params: Mapping[str, Any], version: int = 4,
                      precision: str = "training") -> np.ndarray:
    """Features of one window (flat interleaved ``raw``) for versions 2-4, FFT analysis."""
    if version not in (2, 3, 4):
        raise RefConfigError("the reference implements versions 2-4 (FFT path)")
    cfg = dict(DEFAULTS)
    cfg.update({str(k).replace("_", "-"): v for k, v in params.items()})
    cfg["fft-length"] = int(cfg["fft-length"])
    cfg["filter-order"] = int(cfg["filter-order"])
    cfg["filter-cutoff"] = float(cfg["filter-cutoff"])
    cfg["input-decimation-ratio"] = int(cfg["input-decimation-ratio"])
    for k in ("do-log", "do-fft-overlap", "extra-low-freq"):
        cfg[k] = _bool(cfg[k])
    n_fft, r = cfg["fft-length"], cfg["input-decimation-ratio"]
    ftype, fc, order = cfg["filter-type"], cfg["filter-cutoff"], cfg["filter-order"]
    if n_fft < 2 or n_fft & (n_fft - 1):
        raise RefConfigError("FFT length must be a power of 2")
    if r not in RATIO_STAGES or (r > 1 and version < 4):
        raise RefConfigError("bad input decimation ratio")
    if r > 1 and ftype != "none" and fc > sampling_freq / 2 / r * 0.9:
        raise RefConfigError("decimation ratio is too high")
    fs1 = sampling_freq / r
    sos = None
    if ftype in ("low", "high") and order > 0:
        if order % 2 or order > 8:
            raise RefConfigError("filter order must be even, 2..8")
        if fc * 2 / fs1 >= 1:
            raise RefConfigError("cutoff at or above Nyquist")
        sos = signal.butter(order, fc * 2 / fs1, btype=ftype, output="sos").astype(np.float32)
    data = np.asarray(raw, dtype=np.float64)
    if data.size == 0 or data.size % n_axes:
        raise RefConfigError("empty input or length not a multiple of the axis count")
    data = data.reshape(-1, n_axes)
    training = precision == "training"
    main: list[float] = []
    low: list[float] = []
    for a in range(n_axes):
        if training:
            x: np.ndarray = data[:, a].astype(np.float32) * np.float32(cfg["scale-axes"])
        else:
            x = data[:, a].astype(np.float32).astype(np.float64) * float(cfg["scale-axes"])
        for stage in RATIO_STAGES[r]:
            x = decimate_stage(x, stage)
        if sos is not None:
            x = signal.sosfilt(sos if training else sos.astype(np.float64), x)
        x = x - np.mean(x)
        main += _spec_block(x, fs1, cfg, version >= 4)
        if version >= 4 and cfg["extra-low-freq"]:
            xl = decimate_stage(np.asarray(x), 10)
            if len(xl) < n_fft / 2:
                raise RefConfigError(
                    f"Extra low frequency requires at least {n_fft / 2 * 10} samples")
            xl = xl - np.mean(xl)
            low += _spec_block(xl, fs1 / 10, cfg, True)
    return np.array(main + low, dtype=np.float64)


def spectral_features_batch(data: np.ndarray, starts: Sequence[int], window_samples: int,
                            sampling_freq: float, params: Mapping[str, Any],
                            version: int = 4, precision: str = "training") -> np.ndarray:
    """Window after window (the benchmark baseline): data is (n_rows, n_axes)."""
    data = np.asarray(data)
    return np.stack([
        spectral_features(data[s:s + window_samples].reshape(-1), data.shape[1], sampling_freq,
                          params, version, precision)
        for s in starts
    ])


# ------------------------------------------------------------------ version 1 (legacy)
def peak_indexes(y: np.ndarray) -> np.ndarray:
    """Local maxima as peakutils.indexes(y, thres=0, min_dist=1) defines them: a strict rise
    then a fall of the first difference, runs of equal values (plateaus) resolved to their
    middle (the left of the two middles when even; a plateau touching an end takes the slope
    on its other side), values above the global minimum; ascending positions."""
    y = np.asarray(y, np.float64)
    if len(y) < 3:
        return np.array([], dtype=int)
    dy = np.sign(np.diff(y))
    if np.all(dy == 0):
        return np.array([], dtype=int)
    i = 0
    m = len(dy)
    while i < m:
        if dy[i] != 0:
            i += 1
            continue
        s = i
        while i < m and dy[i] == 0:
            i += 1
        e = i - 1
        if s == 0:
            dy[s:e + 1] = dy[e + 1]
        elif e == m - 1:
            dy[s:e + 1] = dy[s - 1]
        else:
            mid = (s + e) / 2.0
            for k in range(s, e + 1):
                dy[k] = dy[s - 1] if k < mid else dy[e + 1]
    right = np.concatenate([dy, [0.0]])
    left = np.concatenate([[0.0], dy])
    return np.nonzero((right < 0) & (left > 0) & (y > y.min()))[0]


def v1_axis(x: np.ndarray, fs: float, *, scale: float = 1.0, filter_type: str = "none",
            cutoff: float = 3.0, order: int = 0, fft_length: int = 16, peaks_count: int = 3,
            peaks_threshold: float = 0.1, edges: list[float] = (0.1, 0.5, 1.0, 2.0, 5.0)
            ) -> np.ndarray:
    """[RMS, f1, h1, ..., fK, hK, P_1/10, ..., P_(E-1)/10] of one axis."""
    x = np.asarray(x, np.float32).astype(np.float64) * scale
    x = x - np.mean(x)
    if filter_type in ("low", "high") and order > 0:
        b, a = scipy.signal.butter(order, 2.0 * cutoff / fs, btype=filter_type)
        x = scipy.signal.lfilter(b, a, x)
    n_fft = fft_length
    out = [float(np.sqrt(np.mean(x * x)))]
    # peaks of the magnitude spectrum of the first N samples (zero-padded)
    mag = 2.0 / n_fft * np.abs(np.fft.fft(x, n_fft)[: n_fft // 2])
    freq = np.linspace(0.0, fs / 2.0, n_fft // 2)
    cand = [(freq[i], mag[i]) for i in peak_indexes(mag) if mag[i] >= peaks_threshold]
    cand.sort(key=lambda t: t[1], reverse=True)  # stable: ties keep ascending frequency
    cand = (cand + [(0.0, 0.0)] * peaks_count)[:peaks_count]
    for f, h in cand:
        out += [f, h]
    # spectral power in bands: scipy periodogram defaults, nfft = N
    f, pxx = scipy.signal.periodogram(x[:n_fft], fs, nfft=n_fft)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = pxx[(f >= lo) & (f < hi)]
        out.append(float(np.mean(sel)) / 10.0 if len(sel) else 0.0)
    return np.array(out)


# ---------------------------------------------------------------------------- dispatch
def supports(block_type: str, version: int, params: Mapping[str, Any]) -> Optional[str]:
    """None when :func:`block_features` covers the block, else why not."""
    if block_type != "spectral-analysis":
        return f"no numpy reference for the {block_type!r} DSP block"
    analysis = str(dict(params).get("analysis-type", "FFT")).strip().lower()
    if version >= 2 and analysis == "wavelet":
        return "no numpy reference for the wavelet path of spectral analysis"
    if version not in (1, 2, 3, 4):
        return f"no numpy reference for spectral analysis version {version}"
    return None


def block_features(window: np.ndarray, frequency: float, params: Mapping[str, Any],
                   version: int) -> np.ndarray:
    """Features of one window ``(samples, axes)`` of a spectral-analysis block (the block's own
    axes, in its order), float64."""
    p = dict(params)
    window = np.asarray(window)
    if version == 1:
        edges = [float(e) for e in str(p.get("spectral-power-edges",
                                             "0.1, 0.5, 1.0, 2.0, 5.0")).split(",")]
        return np.concatenate([v1_axis(
            window[:, a], frequency, scale=float(p.get("scale-axes", 1.0)),
            filter_type=str(p.get("filter-type", "none")),
            cutoff=float(p.get("filter-cutoff", 3.0)), order=int(p.get("filter-order", 0)),
            fft_length=int(p.get("fft-length", 16)),
            peaks_count=int(p.get("spectral-peaks-count", 3)),
            peaks_threshold=float(p.get("spectral-peaks-threshold", 0.1)), edges=edges)
            for a in range(window.shape[1])])
    return spectral_features(window.reshape(-1), window.shape[1], frequency, p, version)

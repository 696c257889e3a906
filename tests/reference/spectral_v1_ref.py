"""Float64 numpy/scipy reference of the legacy version-1 Spectral Analysis block.

Written from the project's spectral-analysis spec ("Version 1 (legacy)"): the original v1
algorithm (mean removed BEFORE the filter), per axis:
RMS, spectral peaks (frequency, height) and spectral power in frequency bands.
"""
from __future__ import annotations

import numpy as np
import scipy.signal


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

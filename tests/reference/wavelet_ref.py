"""Float64 numpy reference of the Spectral Analysis block's wavelet path (versions 3 and 4).

Written from the project's spectral-analysis spec ("Wavelet path"): ``pywt.wavedec(y, wavelet,
level, mode='symmetric')`` and, for each coefficient array in pywt's order
``[cA_L, cD_L, ..., cD_1]``, 14 statistics. ``y`` is the axis after scale, filter and mean
removal. Zero variance gives skewness 0 and kurtosis -3 (the C++ SDK convention the reference
vectors use where scipy returns NaN).
"""
from __future__ import annotations

import numpy as np
import pywt
import scipy.stats

FEATURE_NAMES = (
    "entropy", "zcross", "mcross", "n5", "n25", "n75", "n95", "median",
    "mean", "std", "var", "rms", "skew", "kurtosis",
)

#: wavelet names the block offers, as pywt spells them
WAVELETS = tuple(
    [n for n in pywt.wavelist("bior")]
    + [f"coif{i}" for i in range(1, 4)]
    + [f"db{i}" for i in range(2, 11)]
    + ["haar"]
    + [n for n in pywt.wavelist("rbio")]
    + [f"sym{i}" for i in range(2, 11)]
)


def wavedec(y: np.ndarray, wavelet: str, level: int) -> list[np.ndarray]:
    """pywt.wavedec in float64, mode 'symmetric' (no dwt_max_level clamping: pywt only warns)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Level value of N is too high" for short inputs
        return pywt.wavedec(np.asarray(y, np.float64), wavelet, level=level, mode="symmetric")


def _percentile(sorted_c: np.ndarray, p: float) -> float:
    return float(sorted_c[int((len(sorted_c) - 1) * p + 0.5)])


def coefficient_features(c: np.ndarray) -> list[float]:
    """The 14 statistics of one coefficient array, in the block's order."""
    c = np.asarray(c, np.float64)
    n = len(c)
    hist, _ = np.histogram(c, bins=100)
    prob = hist[hist > 0] / n
    entropy = float(-np.sum(prob * np.log(prob)))
    zcross = np.count_nonzero(np.diff(c > 0)) / n
    mean = float(np.mean(c))
    mcross = np.count_nonzero(np.diff(c > mean)) / n
    s = np.sort(c)
    pct = [_percentile(s, p) for p in (0.05, 0.25, 0.75, 0.95, 0.5)]
    std = float(np.std(c))
    var = float(np.var(c, ddof=1))
    rms = float(np.sqrt(np.mean(c * c)))
    with np.errstate(all="ignore"):
        skew = float(scipy.stats.skew(c))
        kurt = float(scipy.stats.kurtosis(c))
    if not np.isfinite(skew):
        skew = 0.0
    if not np.isfinite(kurt):
        kurt = -3.0
    return [entropy, zcross, mcross, *pct, mean, std, var, rms, skew, kurt]


def wavelet_features(y: np.ndarray, wavelet: str, level: int) -> np.ndarray:
    """Features of one pre-processed axis: 14 * (level + 1) values."""
    out: list[float] = []
    for c in wavedec(y, wavelet, level):
        out.extend(coefficient_features(c))
    return np.array(out)

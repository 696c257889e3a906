"""The C core against the numpy/scipy reference implementation (tests/reference/spectral_ref.py)
on random valid configurations and signals (hypothesis): a second oracle beyond the fixed
reference vectors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edgert.dsp import SpectralAnalysis
from edgert.errors import ConfigurationError
from tests.reference import spectral_ref

TOL = 1e-4


@st.composite
def configs(draw):
    version = draw(st.sampled_from([2, 3, 4]))
    fs = draw(st.sampled_from([25.0, 50.0, 62.5, 100.0, 200.0, 1000.0]))
    ratio = draw(st.sampled_from([1, 1, 3, 10])) if version == 4 else 1
    fs1 = fs / ratio
    ftype = draw(st.sampled_from(["none", "low", "high"]))
    order = draw(st.sampled_from([0, 2, 4, 6, 8]))
    # cutoffs well inside the band: away from 0 and from the (decimated) Nyquist frequency
    cutoff = draw(st.floats(0.04, 0.4)) * fs1
    n_fft = draw(st.sampled_from([16, 32, 64, 128, 256]))
    elf = version == 4 and draw(st.booleans())
    seconds = draw(st.floats(0.5, 4.0))
    n = max(8, int(seconds * fs))
    if elf:
        n = max(n, ratio * 10 * n_fft // 2 + ratio * 10)
    params = {"filter-type": ftype, "filter-order": order, "filter-cutoff": cutoff,
              "fft-length": n_fft, "input-decimation-ratio": ratio,
              "do-log": draw(st.booleans()), "do-fft-overlap": draw(st.booleans()),
              "extra-low-freq": elf, "scale-axes": draw(st.sampled_from([1.0, 0.5, 9.81]))}
    n_axes = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    return version, fs, params, n, n_axes, seed


def _signal(n: int, n_axes: int, fs: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    cols = []
    for a in range(n_axes):
        f = rng.uniform(0.02, 0.45) * fs
        x = rng.uniform(0.2, 2) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
        x += 0.3 * rng.standard_normal(n) + rng.uniform(-2, 2)
        cols.append(x)
    return np.column_stack(cols).astype(np.float32)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_c_core_matches_reference_on_random_configs(cfg):
    version, fs, params, n, n_axes, seed = cfg
    axes = [f"a{i}" for i in range(n_axes)]
    try:
        block = SpectralAnalysis(params, fs, axes, version)
        nf = block.n_features(n)
    except ConfigurationError:
        with pytest.raises(spectral_ref.RefConfigError):
            data = _signal(n, n_axes, fs, seed)
            spectral_ref.spectral_features(data.reshape(-1), n_axes, fs, params, version)
        return
    data = _signal(n, n_axes, fs, seed)
    want = spectral_ref.spectral_features(data.reshape(-1), n_axes, fs, params, version)
    got = block.features(data).astype(np.float64)
    assert got.shape == want.shape == (nf,)
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    i = int(np.argmax(err))
    assert err[i] <= TOL, f"{block.labels(n)[i]}: got {got[i]!r}, want {want[i]!r}"


def test_reference_agrees_with_itself_in_float64_on_a_clean_signal():
    """Sanity of the oracle: on a signal without float32 trouble the 'training' dtype flow and
    plain float64 give the same features."""
    data = _signal(250, 2, 100.0, 4)
    p = {"filter-type": "low", "filter-cutoff": 20.0, "filter-order": 4, "fft-length": 64}
    a = spectral_ref.spectral_features(data.reshape(-1), 2, 100.0, p, 4, "training")
    b = spectral_ref.spectral_features(data.reshape(-1), 2, 100.0, p, 4, "float64")
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("ratio,ftype,cutoff,n_fft", [
    (1, "none", 3.0, 16), (1, "low", 30.0, 32), (1, "high", 20.0, 16), (3, "low", 4.0, 16),
    (10, "high", 1.0, 16), (1, "high", 40.0, 64),
])
def test_extra_low_freq_at_the_minimum_length(ratio, ftype, cutoff, n_fft):
    """Extra-low-freq edge cases against the reference: the shortest window whose /10 block
    has exactly N/2 samples (one sample less is an error saying how many are needed), and
    cutoffs above the low-frequency block's Nyquist (fs'/20), which the block clamps before
    masking (a high-pass then keeps only the top bin(s) of the LF spectrum)."""
    fs = 100.0 * ratio
    fs1 = fs / ratio
    n1 = 10 * (n_fft // 2 - 1) + 1          # ceil(n1 / 10) == N/2
    n = (n1 - 1) * ratio + 1                 # ceil(n / ratio) == n1
    params = {"fft-length": n_fft, "extra-low-freq": True, "input-decimation-ratio": ratio,
              "filter-type": ftype, "filter-cutoff": cutoff, "filter-order": 4}
    block = SpectralAnalysis(params, fs, ["a", "b"], 4)
    data = _signal(n, 2, fs, 7)
    want = spectral_ref.spectral_features(data.reshape(-1), 2, fs, params, 4)
    got = block.features(data).astype(np.float64)
    assert got.shape == want.shape == (block.n_features(n),)
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    i = int(np.argmax(err))
    assert err[i] <= TOL, f"{block.labels(n)[i]}: got {got[i]!r}, want {want[i]!r}"
    lf_bins = spectral_ref.kept_bins(ftype, cutoff, fs1 / 10, n_fft)
    per_axis_lf = 5 + len(lf_bins)
    labels = block.labels(n)
    df = fs1 / 10 / n_fft
    assert labels[-2 * per_axis_lf:-per_axis_lf] == (
        ["a RMS LF", "a Skewness LF", "a Kurtosis LF", "a Spectral Skewness LF",
         "a Spectral Kurtosis LF"]
        + [f"a LF Spectral Power {round((k - 0.5) * df, 2)} - {round((k + 0.5) * df, 2)} Hz"
           for k in lf_bins])
    assert labels[-per_axis_lf] == "b RMS LF"
    if ftype == "high" and cutoff > fs1 / 20:
        assert lf_bins == [n_fft // 2]
    shorter = (n1 - 2) * ratio + 1 if ratio > 1 else n1 - 1
    with pytest.raises(ConfigurationError, match=f"requires at least {n_fft / 2 * 10} samples"):
        block.n_features(shorter)

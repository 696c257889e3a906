"""Legacy v1 Spectral Analysis block and the wavelet path (v3/v4) against their oracles:
the reference block's vectors (tests/data/spectral/cases.json), pywt.wavedec, and the float64
numpy/scipy references in tests/reference/ (wavelet_ref.py, spectral_v1_ref.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pywt
from hypothesis import given, settings
from hypothesis import strategies as st

from edgert._ffi import ffi, lib
from edgert.dsp import SpectralAnalysis
from edgert.errors import ConfigurationError
from tests.reference import spectral_v1_ref, wavelet_ref

CASES_PATH = Path(__file__).parent / "data" / "spectral" / "cases.json"
TOL = 1e-4  # |a - b| <= TOL * max(1, |b|), the reference vectors' tolerance


def _legacy_cases() -> list[dict]:
    cases = json.loads(CASES_PATH.read_text())["cases"]
    return [
        c for c in cases
        if "error" not in c
        and (c["implementation_version"] == 1 or c["params"].get("analysis-type") == "Wavelet")
    ]


LEGACY_CASES = _legacy_cases()


# ------------------------------------------------------- the block, via edgert.dsp (public) --

def make_block(version: int, fs: float, params: dict, n_axes: int) -> SpectralAnalysis:
    return SpectralAnalysis(params, fs, [f"axis{i}" for i in range(n_axes)], version)


def block_features(version: int, fs: float, params: dict, windows: np.ndarray) -> np.ndarray:
    """Features of windows (n_windows x n_samples x n_axes), all in one batch call."""
    windows = np.asarray(windows, np.float32)
    n_win, n, n_axes = windows.shape
    block = make_block(version, fs, params, n_axes)
    return block.features_batch(windows.reshape(n_win * n, n_axes), np.arange(n_win) * n, n)


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: {got.shape} features, expected {want.shape}"
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    worst = int(np.argmax(err))
    assert err[worst] <= TOL, f"{what}: feature {worst} = {got[worst]!r}, expected {want[worst]!r}"


# -------------------------------------------------------------------- reference vectors ----

@pytest.mark.parametrize(
    "case", LEGACY_CASES,
    ids=[f"v{c['implementation_version']}-"
         + ("v1" if c["implementation_version"] == 1 else c["params"]["wavelet"]
            + f"-L{c['params']['wavelet-level']}")
         + f"-{i}" for i, c in enumerate(LEGACY_CASES)])
def test_reference_vectors(case):
    n_axes = len(case["axes"])
    block = SpectralAnalysis(case["params"], case["sampling_freq"], case["axes"],
                             case["implementation_version"])
    raw = np.array(case["raw"], np.float32)
    n = len(raw) // n_axes
    assert block.axis_labels(n) == case["labels"]
    assert_close(block.features(raw), case["features"], "reference case")
    batch = block.features_batch(raw.reshape(n, n_axes), [0], n)
    np.testing.assert_array_equal(batch[0], block.features(raw))


def test_reference_vectors_cover_v1_and_wavelet():
    versions = {(c["implementation_version"], c["params"].get("analysis-type")) for c in LEGACY_CASES}
    assert {(1, "FFT"), (3, "Wavelet"), (4, "Wavelet")} <= versions
    assert sum(c["implementation_version"] == 1 for c in LEGACY_CASES) >= 7


# ------------------------------------------------------------ wavedec against pywt itself --

def c_wavedec(x: np.ndarray, wavelet: str, level: int) -> list[np.ndarray]:
    x = np.ascontiguousarray(x, np.float32)
    idx = lib.edgert_wavelet_index(wavelet.encode())
    assert idx >= 0, wavelet
    total = ffi.new("int32_t *")
    size = ffi.new("size_t *")
    assert lib.edgert_wavedec_size(idx, level, len(x), total, size) == 0
    out = np.zeros(total[0], np.float32)
    lengths = np.zeros(level + 1, np.int32)
    scratch = np.zeros(max(1, size[0]), np.uint8)
    assert lib.edgert_wavedec(ffi.from_buffer("float *", x), len(x), idx, level,
                              ffi.from_buffer("float *", out), ffi.from_buffer("int32_t *", lengths),
                              ffi.from_buffer("void *", scratch), size[0]) == 0
    return np.split(out, np.cumsum(lengths)[:-1])


def test_every_offered_wavelet_has_an_index_and_others_do_not():
    assert len(wavelet_ref.WAVELETS) == 52
    indices = {lib.edgert_wavelet_index(w.encode()) for w in wavelet_ref.WAVELETS}
    assert indices == set(range(52))
    for bad in ("db1", "db11", "sym11", "coif4", "dmey", "morl", "", "DB4", "db4 "):
        assert lib.edgert_wavelet_index(bad.encode()) == lib.EDGERT_ERR_PARAM, bad


@settings(max_examples=150, deadline=None, derandomize=True)
@given(wavelet=st.sampled_from(wavelet_ref.WAVELETS), level=st.integers(1, 7),
       n=st.integers(1, 700), seed=st.integers(0, 2**32 - 1))
def test_wavedec_matches_pywt(wavelet, level, n, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3.0 + rng.uniform(-5, 5)).astype(np.float32)
    want = wavelet_ref.wavedec(x, wavelet, level)
    got = c_wavedec(x, wavelet, level)
    assert [len(c) for c in got] == [len(c) for c in want]
    scale = max(1.0, max(float(np.max(np.abs(c))) for c in want))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=2e-6 * scale)


# -------------------------------------------- wavelet features against the numpy reference --

def _signal(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    t = np.arange(n) / fs
    f1, f2 = rng.uniform(0.2, fs / 2.5, 2)
    x = (rng.uniform(0.1, 3) * np.sin(2 * np.pi * f1 * t + rng.uniform(0, 6))
         + rng.uniform(0, 1) * np.sin(2 * np.pi * f2 * t)
         + rng.uniform(0.01, 0.5) * rng.standard_normal(n)
         + rng.uniform(-10, 10))
    return x.astype(np.float32)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(wavelet=st.sampled_from(wavelet_ref.WAVELETS), level=st.integers(1, 5),
       extra=st.integers(0, 300), version=st.sampled_from([3, 4]),
       quantized=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_wavelet_features_match_reference(wavelet, level, extra, version, quantized, seed):
    rng = np.random.default_rng(seed)
    n = 32 * 2**level + extra
    x = _signal(rng, n, 100.0)
    if quantized:  # few distinct values (an ADC's counts): many ties among the coefficients
        x = np.round(x * 2.0).astype(np.float32) / np.float32(2.0)
    params = {"analysis-type": "Wavelet", "wavelet": wavelet, "wavelet-level": level,
              "filter-type": "none", "filter-order": 0}
    got = block_features(version, 100.0, params, x.reshape(1, n, 1))[0]
    y = x.astype(np.float64)
    coeffs = wavelet_ref.wavedec(y - y.mean(), wavelet, level)
    for j, c in enumerate(coeffs):
        want = wavelet_ref.coefficient_features(c)
        tol = np.maximum(1.0, np.abs(want)) * TOL
        tol[:3] = np.maximum(tol[:3], _rounding_decided(c))
        err = np.abs(got[14 * j:14 * j + 14] - want)
        bad = np.nonzero(err > tol)[0]
        assert len(bad) == 0, (
            f"{wavelet} level {level}, n={n}, array {j}: "
            + ", ".join(f"{wavelet_ref.FEATURE_NAMES[k]} {got[14 * j + k]!r} != {want[k]!r}"
                        for k in bad))


def _rounding_decided(c: np.ndarray) -> np.ndarray:
    """How far entropy, zero- and mean-crossing rate may legitimately move when coefficients
    sit on a decision boundary within rounding (float32 here, float64 in the reference): e.g.
    the first detail coefficient of a symmetric/antisymmetric (bior/rbio) filter at a
    symmetric boundary is exactly 0 in exact arithmetic, and its sign is rounding noise in
    both. Each such coefficient can move one histogram count or flip two crossings."""
    n = len(c)
    span = max(float(np.max(np.abs(c))), 1e-30)
    eps = 1e-5 * span
    edges = np.linspace(c.min(), c.max(), 101) if c.max() > c.min() else np.array([])
    near_edge = sum(int(np.any(np.abs(v - edges[1:-1]) <= eps)) for v in c) if len(edges) else 0
    near_zero = int(np.count_nonzero(np.abs(c) <= eps))
    near_mean = int(np.count_nonzero(np.abs(c - c.mean()) <= eps))
    return np.array([2.0 * near_edge * (np.log(n) + 1.0) / n, 2.0 * near_zero / n,
                     2.0 * near_mean / n])


def test_wavelet_constant_and_zero_signals_are_finite():
    for value in (0.0, 9.81, -3.5):
        x = np.full((1, 128, 1), value, np.float32)
        got = block_features(3, 50.0, {"analysis-type": "Wavelet", "wavelet": "db4",
                                       "wavelet-level": 2, "filter-type": "none"}, x)[0]
        assert np.all(np.isfinite(got))
        blocks = got.reshape(3, 14)
        # float32 mean removal (as the reference) may leave a tiny constant: every array is
        # then one repeated value
        np.testing.assert_array_equal(blocks[:, [0, 1, 2, 9, 10]], 0.0)  # entropy..., std, var
        for b in blocks:
            np.testing.assert_array_equal(b[3:9], b[8])     # percentiles == mean
            assert abs(b[11]) == pytest.approx(abs(b[8]), rel=1e-6, abs=0)  # rms == |mean|
            assert abs(b[8]) < 1e-4
        if value == 0.0:
            np.testing.assert_array_equal(blocks[:, :12], 0.0)
        np.testing.assert_array_equal(blocks[:, 12], 0.0)   # skewness (scipy: NaN)
        np.testing.assert_array_equal(blocks[:, 13], -3.0)  # kurtosis (scipy: NaN)


def test_wavelet_window_too_short_and_bad_config():
    params = {"analysis-type": "Wavelet", "wavelet": "sym5", "wavelet-level": 3,
              "filter-type": "none"}
    block = make_block(3, 100.0, params, 1)
    assert block.n_features(256) == 14 * 4
    with pytest.raises(ConfigurationError, match="256 samples"):
        block.n_features(255)
    for bad, msg in (({"wavelet-level": 0}, "wavelet-level"), ({"wavelet-level": 8}, "wavelet-level"),
                     ({"wavelet": "db1"}, "unknown wavelet"), ({"wavelet": "dmey"}, "unknown wavelet")):
        with pytest.raises(ConfigurationError, match=msg):
            make_block(4, 100.0, {**params, **bad}, 1)


def test_wavelet_c_core_rejects_what_the_python_layer_rejects():
    """The C dispatcher validates on its own (callers other than edgert.dsp)."""
    block = make_block(3, 100.0, {"analysis-type": "Wavelet", "wavelet": "sym5",
                                  "wavelet-level": 3}, 1)
    nf = ffi.new("int32_t *")
    assert lib.edgert_spectral_check(block._c, 255, 1, nf) == lib.EDGERT_ERR_TOO_SHORT
    assert lib.edgert_spectral_check(block._c, 256, 1, nf) == 0 and nf[0] == 56
    block._c.wavelet_level = 8
    assert lib.edgert_spectral_check(block._c, 1 << 16, 1, nf) == lib.EDGERT_ERR_PARAM
    block._c.wavelet_level = 3
    block._c.wavelet = 52
    assert lib.edgert_spectral_check(block._c, 1 << 16, 1, nf) == lib.EDGERT_ERR_PARAM


# ---------------------------------------------------- v1 against the scipy/numpy reference --

@st.composite
def v1_configs(draw):
    fs = draw(st.sampled_from([25.0, 50.0, 62.5, 100.0, 200.0]))
    n = draw(st.integers(8, 400))
    fft_length = draw(st.sampled_from([16, 32, 64, 128, 256, 512]))
    ftype = draw(st.sampled_from(["none", "low", "high"]))
    order = draw(st.sampled_from([0, 2, 4, 6, 8])) if ftype != "none" else 0
    cutoff = round(draw(st.floats(0.05, 0.4)) * fs, 3)
    n_edges = draw(st.integers(2, 8))
    edges = sorted(round(e, 2) for e in draw(st.lists(st.floats(0.0, 0.6 * fs), min_size=n_edges,
                                                        max_size=n_edges, unique=True)))
    params = {
        "filter-type": ftype, "filter-order": order, "filter-cutoff": cutoff,
        "fft-length": fft_length,
        "spectral-peaks-count": draw(st.integers(0, 6)),
        "spectral-peaks-threshold": round(draw(st.floats(0.0, 1.0)), 3),
        "spectral-power-edges": ", ".join(str(e) for e in edges),
        "scale-axes": draw(st.sampled_from([1.0, 0.5, 9.81])),
    }
    return fs, n, params, draw(st.integers(0, 2**32 - 1))


def v1_reference(fs: float, params: dict, x: np.ndarray) -> np.ndarray:
    return spectral_v1_ref.v1_axis(
        x, fs, scale=params["scale-axes"], filter_type=params["filter-type"],
        cutoff=params["filter-cutoff"], order=params["filter-order"],
        fft_length=params["fft-length"], peaks_count=params["spectral-peaks-count"],
        peaks_threshold=params["spectral-peaks-threshold"],
        edges=[float(e) for e in params["spectral-power-edges"].split(",")])


@settings(max_examples=120, deadline=None, derandomize=True)
@given(cfg=v1_configs())
def test_v1_matches_reference(cfg):
    fs, n, params, seed = cfg
    rng = np.random.default_rng(seed)
    x = np.stack([_signal(rng, n, fs) for _ in range(2)], axis=1)
    got = block_features(1, fs, params, x[None])[0]
    want = np.concatenate([v1_reference(fs, params, x[:, a]) for a in range(2)])
    assert_close(got, want, f"v1 {params}, n={n}")


def test_v1_constant_signal_is_finite_and_padded():
    x = np.full((1, 100, 1), 9.81, np.float32)
    params = {"filter-type": "low", "filter-order": 4, "filter-cutoff": 3.0, "fft-length": 64,
              "spectral-peaks-count": 3, "spectral-peaks-threshold": 0.0}
    got = block_features(1, 62.5, params, x)[0]
    assert got.shape == (1 + 2 * 3 + 4,)
    np.testing.assert_array_equal(got, 0.0)


def test_many_windows_in_one_call_equal_single_windows():
    rng = np.random.default_rng(7)
    windows = np.stack([np.stack([_signal(rng, 256, 100.0) for _ in range(3)], axis=1)
                        for _ in range(5)])
    for version, params in (
        (1, {"filter-type": "high", "filter-order": 2, "filter-cutoff": 5.0, "fft-length": 64}),
        (3, {"analysis-type": "Wavelet", "wavelet": "bior2.4", "wavelet-level": 3,
             "filter-type": "low", "filter-order": 4, "filter-cutoff": 20.0}),
    ):
        batch = block_features(version, 100.0, params, windows)
        for w in range(len(windows)):
            single = block_features(version, 100.0, params, windows[w:w + 1])[0]
            np.testing.assert_array_equal(batch[w], single)


# ------------------------------------- v4 wavelet path after input decimation and a filter --

@pytest.mark.parametrize("ratio,ftype,wavelet,level,extra", [
    (3, "low", "db4", 2, 17), (10, "high", "sym5", 1, 3), (30, "none", "coif2", 3, 40),
    (100, "low", "bior3.5", 1, 0), (1000, "none", "haar", 1, 5), (10, "high", "rbio2.2", 2, 9),
])
def test_v4_wavelet_after_input_decimation_matches_reference(ratio, ftype, wavelet, level,
                                                             extra):
    """Spec order for v4: scale (float32), Chebyshev decimation stages (float64 from here),
    Butterworth at the decimated rate (float32 coefficients), mean removal, wavedec. The
    oracle is composed from tests/reference (scipy's cheby1/butter/sosfilt, pywt) and the
    window is exactly the minimum 32*2^level samples after decimation plus ``extra``."""
    from scipy import signal

    from tests.reference import spectral_ref

    rng = np.random.default_rng(ratio + level)
    fs = 50.0 * ratio
    fs1 = fs / ratio
    n1 = 32 * 2**level + extra
    n = (n1 - 1) * ratio + 1  # ceil(n / ratio) == n1
    t = np.arange(n) / fs
    x = (np.sin(2 * np.pi * 0.13 * fs1 * t) + 0.4 * np.sin(2 * np.pi * 0.31 * fs1 * t)
         + 0.2 * rng.standard_normal(n) + 9.81).astype(np.float32)
    cutoff = 0.2 * fs1
    params = {"analysis-type": "Wavelet", "wavelet": wavelet, "wavelet-level": level,
              "input-decimation-ratio": ratio, "filter-type": ftype, "filter-cutoff": cutoff,
              "filter-order": 4, "scale-axes": 0.5}
    block = make_block(4, fs, params, 1)
    assert block.n_features(n) == 14 * (level + 1)
    got = block.features(x.reshape(-1, 1)).astype(np.float64)
    y = x * np.float32(0.5)
    for stage in spectral_ref.RATIO_STAGES[ratio]:
        y = spectral_ref.decimate_stage(y, stage)
    assert len(y) == n1
    if ftype != "none":
        sos = signal.butter(4, 2 * cutoff / fs1, btype=ftype, output="sos").astype(np.float32)
        y = signal.sosfilt(sos, y)
    y = y - np.mean(y)
    for j, c in enumerate(wavelet_ref.wavedec(y, wavelet, level)):
        want = np.asarray(wavelet_ref.coefficient_features(c))
        tol = np.maximum(1.0, np.abs(want)) * TOL
        tol[:3] = np.maximum(tol[:3], _rounding_decided(c))
        err = np.abs(got[14 * j:14 * j + 14] - want)
        bad = np.nonzero(err > tol)[0]
        assert len(bad) == 0, (
            f"array {j}: " + ", ".join(f"{wavelet_ref.FEATURE_NAMES[k]} {got[14 * j + k]!r} "
                                       f"!= {want[k]!r}" for k in bad))
    # one sample fewer after decimation is below the minimum length: a clear error
    if extra == 0:
        with pytest.raises(ConfigurationError, match="after input decimation"):
            block.n_features(n - ratio)

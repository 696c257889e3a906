"""Property tests of the C building blocks against numpy/scipy: edgert_rfft vs numpy.fft.rfft,
edgert_sosfilt vs scipy.signal.sosfilt (random stable sections, with and without initial
state), and the filter designs vs scipy.signal.butter / cheby1 / sosfilt_zi."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from edgert._ffi import ffi, lib, ptr


def rfft(x: np.ndarray) -> tuple[int, np.ndarray]:
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.size
    size = ffi.new("size_t *")
    st_ = lib.edgert_rfft_scratch_size(n, size)
    if st_ < 0:
        return st_, np.empty(0)
    scratch = np.empty(size[0], np.uint8)
    re = np.empty(n // 2 + 1, np.float32)
    im = np.empty(n // 2 + 1, np.float32)
    status = lib.edgert_rfft(ptr("float *", x), n, ptr("float *", re), ptr("float *", im),
                             ffi.from_buffer(scratch), scratch.size)
    return status, re.astype(np.float64) + 1j * im.astype(np.float64)


def sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray | None):
    sos = np.ascontiguousarray(sos, dtype=np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    zptr = ffi.NULL
    if zi is not None:
        zi = np.ascontiguousarray(zi, dtype=np.float32).copy()
        zptr = ptr("float *", zi)
    status = lib.edgert_sosfilt(ptr("float *", sos), sos.shape[0], ptr("float *", x),
                                ptr("float *", out), x.size, zptr)
    return status, out, zi


@settings(max_examples=60, deadline=None)
@given(log2n=st.integers(1, 16), seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["normal", "offset", "tone", "sparse"]))
def test_rfft_matches_numpy(log2n, seed, kind):
    n = 2**log2n
    rng = np.random.default_rng(seed)
    if kind == "normal":
        x = rng.standard_normal(n)
    elif kind == "offset":
        x = 9.81 + 0.01 * rng.standard_normal(n)
    elif kind == "tone":
        x = np.cos(2 * np.pi * rng.integers(0, n // 2 + 1) * np.arange(n) / n + rng.uniform(0, 6))
    else:
        x = np.zeros(n)
        x[rng.integers(0, n, size=3)] = rng.standard_normal(3) * 100
    x = x.astype(np.float32)
    status, got = rfft(x)
    assert status == 0
    want = np.fft.rfft(x.astype(np.float64))
    scale = max(np.sqrt(np.sum(x.astype(np.float64) ** 2) * n), 1e-30)
    # double-precision transform, float32 output: error relative to the spectrum's norm
    assert np.max(np.abs(got - want)) <= 2e-7 * scale + 1e-30


def test_rfft_exact_bins_of_a_pure_tone():
    n = 4096
    k = 37
    x = np.cos(2 * np.pi * k * np.arange(n) / n).astype(np.float32)
    _, got = rfft(x)
    assert abs(got[k].real - n / 2) < 1e-3 * n / 2
    others = np.delete(np.abs(got), k)
    assert others.max() < 1e-3


@pytest.mark.parametrize("n", [0, 1, 3, 24, 100, 131072, -4])
def test_rfft_rejects_bad_lengths(n):
    size = ffi.new("size_t *")
    assert lib.edgert_rfft_scratch_size(n, size) == lib.EDGERT_ERR_ARG


def test_rfft_small_scratch_and_nonfinite():
    x = np.ones(16, np.float32)
    re = np.empty(9, np.float32)
    im = np.empty(9, np.float32)
    scratch = np.empty(8, np.uint8)
    assert lib.edgert_rfft(ptr("float *", x), 16, ptr("float *", re), ptr("float *", im),
                           ffi.from_buffer(scratch), 8) == lib.EDGERT_ERR_SCRATCH
    x[3] = np.nan
    status, _ = rfft(x)
    assert status == lib.EDGERT_ERR_NONFINITE


def _random_stable_sos(rng: np.random.Generator, n_sections: int) -> np.ndarray:
    sos = np.zeros((n_sections, 6))
    for s in range(n_sections):
        r = rng.uniform(0.0, 0.97)
        th = rng.uniform(0, np.pi)
        sos[s, :3] = rng.standard_normal(3)
        sos[s, 3] = 1.0
        sos[s, 4] = -2 * r * np.cos(th)
        sos[s, 5] = r * r
    return sos.astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(n_sections=st.integers(1, 8), n=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1),
       with_zi=st.booleans())
def test_sosfilt_matches_scipy(n_sections, n, seed, with_zi):
    rng = np.random.default_rng(seed)
    sos = _random_stable_sos(rng, n_sections)
    x = rng.standard_normal(n).astype(np.float32)
    zi = rng.standard_normal((n_sections, 2)).astype(np.float32) if with_zi else None
    status, got, zf = sosfilt(sos, x, zi)
    assert status == 0
    sos64 = sos.astype(np.float64)
    if with_zi:
        want, want_zf = signal.sosfilt(sos64, x.astype(np.float64), zi=zi.astype(np.float64))
        np.testing.assert_allclose(zf, want_zf, rtol=1e-5, atol=1e-5 * max(1, np.abs(want_zf).max()))
    else:
        want = signal.sosfilt(sos64, x.astype(np.float64))
    tol = 1e-5 * max(1.0, float(np.abs(want).max()) if n else 1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def test_sosfilt_in_place_and_bad_args():
    sos = signal.butter(4, 0.2, output="sos").astype(np.float32)
    x = np.random.default_rng(1).standard_normal(500).astype(np.float32)
    want = signal.sosfilt(sos.astype(np.float64), x.astype(np.float64))
    buf = x.copy()
    assert lib.edgert_sosfilt(ptr("float *", sos), 2, ptr("float *", buf), ptr("float *", buf),
                              buf.size, ffi.NULL) == 0
    np.testing.assert_allclose(buf, want, atol=1e-5)
    assert lib.edgert_sosfilt(ptr("float *", sos), 0, ptr("float *", x), ptr("float *", buf),
                              10, ffi.NULL) == lib.EDGERT_ERR_ARG
    bad = sos.copy()
    bad[0, 3] = 2.0  # a0 must be 1
    assert lib.edgert_sosfilt(ptr("float *", bad), 2, ptr("float *", x), ptr("float *", buf),
                              10, ffi.NULL) == lib.EDGERT_ERR_PARAM
    assert lib.edgert_sosfilt(ffi.NULL, 2, ptr("float *", x), ptr("float *", buf), 10,
                              ffi.NULL) == lib.EDGERT_ERR_NULL


@settings(max_examples=80, deadline=None)
@given(order=st.sampled_from([2, 4, 6, 8]), btype=st.sampled_from(["low", "high"]),
       wn=st.floats(0.005, 0.98), fs=st.sampled_from([50.0, 62.5, 100.0, 1000.0, 16000.0]))
def test_butter_design_matches_scipy_float32(order, btype, wn, fs):
    """The block runs scipy's butter(...) cast to float32: same section order, same gain
    placement, the same float32 coefficients (to one float32 ulp)."""
    fc = wn * fs / 2
    want = signal.butter(order, 2 * fc / fs, btype=btype, output="sos").astype(np.float32)
    got = np.empty(6 * (order // 2), np.float32)
    t = lib.EDGERT_FILTER_LOW if btype == "low" else lib.EDGERT_FILTER_HIGH
    assert lib.edgert_butter_sos(t, order, fc, fs, ptr("float *", got)) == 0
    got = got.reshape(-1, 6)
    ulp = np.spacing(np.abs(want).astype(np.float32))
    # coefficients that are zero in exact arithmetic come out as rounding noise (~1e-16)
    assert np.all(np.abs(got - want) <= 2 * ulp + 1e-14), (got, want)


@pytest.mark.parametrize("args", [(1, 3, 10.0, 100.0), (1, 10, 10.0, 100.0), (1, 4, 50.0, 100.0),
                                  (1, 4, 0.0, 100.0), (3, 4, 10.0, 100.0), (2, 0, 10.0, 100.0)])
def test_butter_design_rejects(args):
    out = np.empty(48, np.float32)
    assert lib.edgert_butter_sos(*args, ptr("float *", out)) == lib.EDGERT_ERR_PARAM


@pytest.mark.parametrize("ratio", [3, 10, 2, 7, 100])
def test_decimation_design_matches_scipy_cheby1(ratio):
    want = signal.cheby1(8, 0.05, 0.8 / ratio, output="sos")
    want_zi = signal.sosfilt_zi(want)
    sos = np.empty(24)
    zi = np.empty(8)
    assert lib.edgert_decimation_sos(ratio, ffi.cast("double *", ffi.from_buffer(sos)),
                                     ffi.cast("double *", ffi.from_buffer(zi))) == 0
    np.testing.assert_allclose(sos.reshape(4, 6), want, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(zi.reshape(4, 2), want_zi, rtol=1e-8, atol=1e-12)


def test_decimation_design_rejects_ratio_below_2():
    sos = np.empty(24)
    assert lib.edgert_decimation_sos(1, ffi.cast("double *", ffi.from_buffer(sos)),
                                     ffi.NULL) == lib.EDGERT_ERR_PARAM

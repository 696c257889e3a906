"""edgert.dsp's Python API: the block factory, batch == per-window, thread safety, parameter
parsing as Studio sends it, and clear errors for bad configurations and bad data. The raw and
flatten blocks are checked against numpy/scipy."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy import stats

from edgert.dsp import (FlattenBlock, RawBlock, SpectralAnalysis, legacy_available,
                        make_dsp_block)
from edgert.errors import ConfigurationError, InputError

AXES = ["accX", "accY", "accZ"]
# the demo impulse's DSP block (shared/examples/motion-demo/impulse.json)
DEMO_BLOCK = {
    "id": 2, "type": "spectral-analysis", "implementation_version": 2, "axes": AXES,
    "params": {"scale-axes": 1.0, "input-decimation-ratio": 1, "filter-type": "none",
               "filter-cutoff": 3.0, "filter-order": 6, "analysis-type": "FFT",
               "fft-length": 16, "spectral-peaks-count": 3, "spectral-peaks-threshold": 0.1,
               "spectral-power-edges": "0.1, 0.5, 1.0, 2.0, 5.0", "do-log": True,
               "do-fft-overlap": True, "wavelet-level": 1, "wavelet": "db4",
               "extra-low-freq": False},
}


def _recording(n_rows: int, seed: int = 0, n_cols: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows) / 62.5
    cols = [np.sin(2 * np.pi * (1 + i) * t) + 0.3 * rng.standard_normal(n_rows) for i in
            range(n_cols)]
    cols[-1] += 9.81
    return np.column_stack(cols).astype(np.float32)


def test_demo_block_has_33_features_and_named_labels():
    block = make_dsp_block(DEMO_BLOCK, 62.5, AXES)
    assert block.n_features(125) == 33
    labels = block.labels(125)
    assert labels[:4] == ["accX RMS", "accX Skewness", "accX Kurtosis",
                          "accX Spectral Power 1.95 - 5.86 Hz"]
    assert labels[11] == "accY RMS" and labels[22] == "accZ RMS"
    assert len(labels) == 33


def test_batch_equals_per_window_and_picks_axes_by_name():
    data = _recording(600)
    # recording columns in another order, with an extra column the block does not use
    rec = np.column_stack([data[:, 2], np.zeros(len(data), np.float32), data[:, 0], data[:, 1]])
    block = make_dsp_block(DEMO_BLOCK, 62.5, ["accZ", "temp", "accX", "accY"])
    starts = np.arange(0, 600 - 125 + 1, 5)
    batch = block.features_batch(rec, starts, 125)
    assert batch.shape == (len(starts), 33) and batch.dtype == np.float32
    plain = SpectralAnalysis(DEMO_BLOCK["params"], 62.5, AXES, 2)
    for i, s in enumerate(starts):
        one = plain.features(data[s:s + 125])
        np.testing.assert_array_equal(batch[i], one)
        np.testing.assert_array_equal(plain.features(data[s:s + 125].reshape(-1)), one)


@pytest.mark.parametrize("params,version,fs,n", [
    ({"filter-type": "low", "filter-cutoff": 3, "filter-order": 6, "fft-length": 128}, 4, 62.5, 125),
    ({"filter-type": "high", "filter-cutoff": 20, "filter-order": 4, "fft-length": 256,
      "extra-low-freq": True}, 4, 1000.0, 2000),
    ({"input-decimation-ratio": 10, "filter-type": "low", "filter-cutoff": 20,
      "filter-order": 2, "fft-length": 64, "extra-low-freq": True}, 4, 1000.0, 4000),
    ({"filter-type": "high", "filter-cutoff": 2, "filter-order": 8, "do-log": "false",
      "do-fft-overlap": "false"}, 3, 100.0, 200),
])
def test_batch_equals_per_window_all_paths(params, version, fs, n):
    rng = np.random.default_rng(3)
    data = (rng.standard_normal((n + 40, 3)) + [0, 0, 9.81]).astype(np.float32)
    block = SpectralAnalysis(params, fs, AXES, version)
    starts = [0, 7, 40]
    batch = block.features_batch(data, starts, n)
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(batch[i], block.features(data[s:s + n]))
    assert np.all(np.isfinite(batch))


def test_threads_share_a_block():
    block = SpectralAnalysis({"filter-type": "high", "filter-cutoff": 5, "filter-order": 4,
                              "fft-length": 64}, 62.5, AXES, 4)
    data = _recording(3000, seed=5)
    starts = np.arange(0, 3000 - 125, 3)
    want = block.features_batch(data, starts, 125)
    results: list[np.ndarray] = [None] * 6  # type: ignore[list-item]

    def work(i: int) -> None:
        results[i] = block.features_batch(data, starts, 125)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_studio_string_values_are_parsed():
    a = SpectralAnalysis({"filter-type": "low", "filter-cutoff": "3", "filter-order": "4",
                          "fft-length": "64", "do-log": "true", "do-fft-overlap": "false",
                          "scale-axes": "9.81", "extra-low-freq": "false"}, "62.5", AXES, "4")
    b = SpectralAnalysis({"filter_type": "low", "filter_cutoff": 3.0, "filter_order": 4,
                          "fft_length": 64, "do_log": True, "do_fft_overlap": False,
                          "scale_axes": 9.81}, 62.5, AXES, 4)
    w = _recording(125)
    np.testing.assert_array_equal(a.features(w), b.features(w))
    assert a.labels(125) == b.labels(125)


def test_defaults_are_studio_defaults():
    block = SpectralAnalysis({}, 62.5, AXES, 4)
    assert block.filter_type == "none" and block.fft_length == 16 and block.do_log
    assert block.do_fft_overlap and not block.extra_low_freq and block.filter_order == 6
    assert block.n_features(125) == 3 * (5 + 8)


# -- configuration errors ------------------------------------------------------------------
@pytest.mark.parametrize("params,version,needle", [
    ({"fft-length": 24}, 4, "FFT length must be a power of 2"),
    ({"fft-length": 0}, 4, "FFT length must be a power of 2"),
    ({"fft-length": 2**20}, 4, "fft-length must be between 2 and 65536 (got 1048576)"),
    ({"filter-type": "low", "filter-order": 5}, 4,
     "filter-order must be an even number between 2 and 8 (got 5)"),
    ({"filter-type": "high", "filter-order": 10}, 4, "between 2 and 8 (got 10)"),
    ({"filter-type": "low", "filter-cutoff": 31.25, "filter-order": 2}, 4, "above Nyquist"),
    ({"filter-type": "low", "filter-cutoff": 40, "filter-order": 2}, 4, "above Nyquist"),
    ({"filter-type": "low", "filter-cutoff": 0, "filter-order": 2}, 4, "above 0 Hz"),
    ({"filter-type": "band"}, 4, "filter-type must be one of"),
    ({"input-decimation-ratio": 3}, 3, "only supported in implementation version 4"),
    ({"input-decimation-ratio": 5}, 4, "must be one of 1, 3, 10, 30, 100, 1000"),
    ({"input-decimation-ratio": 10, "filter-type": "low", "filter-cutoff": 3}, 4,
     "decimation ratio is too high"),
    ({"do-log": "maybe"}, 4, "do-log must be a boolean"),
    ({"fft-length": "sixteen"}, 4, "fft-length must be a number"),
    ({"fft-length": 16.5}, 4, "whole number"),
    ({"scale-axes": float("nan")}, 4, "finite"),
    ({"filter-type": "high", "filter-cutoff": 31.2, "filter-order": 0, "fft-length": 16}, 4,
     None),  # masking only: valid (1 bin)
    ({"filter-type": "high", "filter-cutoff": 40, "filter-order": 0}, 4, None),
])
def test_configuration_errors_say_what_to_change(params, version, needle):
    if needle is None:
        assert SpectralAnalysis(params, 62.5, AXES, version).n_features(125) > 0
        return
    with pytest.raises(ConfigurationError, match=None) as ei:
        SpectralAnalysis(params, 62.5, AXES, version).n_features(125)
    assert needle in str(ei.value)


def test_masked_all_bins_and_short_extra_low_freq():
    with pytest.raises(ConfigurationError, match="masked all FFT bins"):
        SpectralAnalysis({"filter-type": "low", "filter-cutoff": 0.5, "filter-order": 0,
                          "fft-length": 16}, 62.5, AXES, 4).n_features(125)
    block = SpectralAnalysis({"extra-low-freq": True, "fft-length": 64}, 62.5, AXES, 4)
    with pytest.raises(ConfigurationError, match="requires at least 320.0 samples"):
        block.n_features(125)
    assert block.n_features(320) > 0


def test_unstable_filter_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="not stable"):
        SpectralAnalysis({"filter-type": "low", "filter-cutoff": 0.0005, "filter-order": 8},
                         1000.0, AXES, 4).n_features(2000)


def test_bad_version_and_axes():
    with pytest.raises(ConfigurationError, match="implementation_version must be 1, 2, 3 or 4"):
        SpectralAnalysis({}, 62.5, AXES, 5)
    with pytest.raises(ConfigurationError, match="at least one axis"):
        SpectralAnalysis({}, 62.5, [], 4)
    with pytest.raises(ConfigurationError, match="sampling frequency must be > 0"):
        SpectralAnalysis({}, 0, AXES, 4)
    with pytest.raises(ConfigurationError, match="does not have"):
        make_dsp_block(DEMO_BLOCK, 62.5, ["accX", "accY"])
    with pytest.raises(ConfigurationError, match="unsupported DSP block type 'audio-syntiant'"):
        make_dsp_block({"type": "audio-syntiant", "axes": ["a"]}, 16000, ["a"])


# -- bad data ------------------------------------------------------------------------------
def test_bad_data_raises_input_error():
    block = make_dsp_block(DEMO_BLOCK, 62.5, AXES)
    with pytest.raises(InputError, match="multiple of 3"):
        block.features(np.zeros(10))
    with pytest.raises(InputError, match="empty"):
        block.features(np.zeros(0))
    with pytest.raises(InputError, match=r"shape \(n_samples, 3\)"):
        block.features(np.zeros((10, 2)))
    w = _recording(125)
    w[17, 1] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        block.features(w)
    w[17, 1] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        block.features(w)
    data = _recording(400)
    data[250, 0] = np.nan
    with pytest.raises(InputError, match=r"window 2 \(rows 200\.\.324\)|window 2"):
        block.features_batch(data, [0, 100, 200], 125)
    with pytest.raises(InputError, match="needs 125 rows"):
        block.features_batch(_recording(300), [0, 200], 125)
    with pytest.raises(InputError, match="negative"):
        block.features_batch(_recording(300), [-1], 125)
    with pytest.raises(InputError, match="window_samples"):
        block.features_batch(_recording(300), [0], 0)
    with pytest.raises(InputError, match="2-D"):
        block.features_batch(np.zeros((2, 3, 4)), [0], 1)
    with pytest.raises(InputError, match="real numbers"):
        block.features_batch(np.array([["a", "b", "c"]]), [0], 1)
    # overflow to inf after scaling is bad input too, named as an overflow (the data is finite)
    big = SpectralAnalysis({"scale-axes": 1e30}, 62.5, AXES, 2)
    with pytest.raises(InputError, match="overflow float32.*lower scale-axes"):
        big.features(np.full((125, 3), 1e10, np.float32))


def test_empty_starts_give_empty_output():
    block = make_dsp_block(DEMO_BLOCK, 62.5, AXES)
    out = block.features_batch(_recording(200), [], 125)
    assert out.shape == (0, 33)


def test_version1_and_wavelet_through_the_same_api():
    if not legacy_available():
        pytest.skip("v1/wavelet code is not in this build")
    v1 = SpectralAnalysis({"spectral-power-edges": "0.1, 0.5, 1.0, 2.0, 5.0"}, 62.5, AXES, 1)
    assert v1.n_features(125) == 3 * (1 + 6 + 4)
    assert v1.labels(125)[-1] == "accZ Spectral Power 2.0 - 5.0"
    wv = SpectralAnalysis({"analysis-type": "Wavelet", "wavelet": "sym5", "wavelet-level": 2},
                          100.0, AXES, 4)
    assert wv.n_features(200) == 3 * 14 * 3
    assert wv.labels(200)[0] == "accX L0-entropy"
    with pytest.raises(ConfigurationError, match="unknown wavelet 'db99'"):
        SpectralAnalysis({"analysis-type": "Wavelet", "wavelet": "db99"}, 100.0, AXES, 4)
    with pytest.raises(ConfigurationError, match="increase the window size"):
        wv.n_features(100)


# -- raw and flatten -----------------------------------------------------------------------
def test_raw_block_values_and_labels():
    data = _recording(100, n_cols=3)
    block = make_dsp_block({"type": "raw", "axes": ["accY", "accX"],
                            "params": {"scale-axes": "2.5"}}, 62.5, AXES)
    out = block.features_batch(data, [0, 10], 20)
    want = (data[10:30][:, [1, 0]].astype(np.float64) * 2.5).reshape(-1)
    np.testing.assert_allclose(out[1], want, rtol=1e-7)
    assert block.n_features(20) == 40
    assert block.labels(2) == ["accY 0", "accX 0", "accY 1", "accX 1"]
    assert isinstance(block, RawBlock)


def test_flatten_block_against_numpy_scipy():
    data = _recording(300, seed=9).astype(np.float64)
    data[:, 1] = 4.0  # zero variance axis
    block = make_dsp_block({"type": "flatten", "axes": AXES,
                            "params": {"scale-axes": 0.5}}, 62.5, AXES)
    assert isinstance(block, FlattenBlock)
    out = block.features_batch(data.astype(np.float32), [0, 50], 125)
    x = data.astype(np.float32).astype(np.float64)[50:175] * 0.5
    want = []
    for a in range(3):
        v = x[:, a]
        sk = stats.skew(v) if v.std() > 0 else 0.0
        ku = stats.kurtosis(v) if v.std() > 0 else -3.0
        want += [v.mean(), v.min(), v.max(), np.sqrt(np.mean(v * v)), v.std(), sk, ku]
    np.testing.assert_allclose(out[1], want, rtol=1e-5, atol=1e-6)
    assert block.labels(125)[:7] == ["accX Average", "accX Minimum", "accX Maximum",
                                     "accX RMS", "accX Stdev", "accX Skewness", "accX Kurtosis"]


def test_flatten_selected_statistics():
    block = FlattenBlock({"average": "false", "minimum": False, "rms": 0, "stdev": "false",
                          "skewness": False, "kurtosis": "false"}, 62.5, ["a"])
    assert block.n_features(5) == 1 and block.labels(5) == ["a Maximum"]
    np.testing.assert_array_equal(block.features(np.array([1, 5, 2], np.float32)), [5.0])
    with pytest.raises(ConfigurationError, match="every statistic turned off"):
        FlattenBlock({"maximum": False, "average": False, "minimum": False, "rms": False,
                      "stdev": False, "skewness": False, "kurtosis": False}, 62.5, ["a"])
    with pytest.raises(InputError, match="NaN"):
        block.features(np.array([1, np.nan], np.float32))


def _reference_stable(order: int, fc: float, fs: float) -> bool:
    """The reference block's filter_is_stable(), restated (float32 biquads, tf2zpk poles)."""
    from scipy.signal import tf2zpk
    a = np.float32(np.tan(np.pi * fc / fs))
    a2 = np.float32(pow(a, 2))
    poles = []
    for ix in range(order // 2):
        r = np.sin(np.pi * ((2.0 * ix) + 1.0) / (2.0 * order))
        s = a2 + (2.0 * a * r) + 1.0
        gain = np.float32(a2 / s)
        d1 = np.float32(2.0 * (1 - a2) / s)
        d2 = np.float32(-(a2 - (2.0 * a * r) + 1.0) / s)
        poles.append(tf2zpk(gain * np.float32([1, 2, 1]), np.float32([1, -d1, -d2]))[1])
    return bool(np.max(np.abs(poles)) < 1)


@pytest.mark.filterwarnings("ignore::scipy.signal.BadCoefficients")
@pytest.mark.parametrize("fs", [62.5, 1000.0])
def test_stability_check_agrees_with_the_reference(fs):
    from edgert.dsp.spectral import _butter_stable
    for order in (2, 4, 6, 8):
        for fc in np.geomspace(1e-4, fs / 2 * 0.9999, 60):
            assert _butter_stable(order, fc, fs) == _reference_stable(order, fc, fs)
            params = {"filter-type": "high", "filter-cutoff": fc, "filter-order": order,
                      "fft-length": 16}
            if _reference_stable(order, fc, fs):
                # the C core accepts what the reference accepts
                assert SpectralAnalysis(params, fs, ["a"], 2).n_features(64) > 0
            else:
                with pytest.raises(ConfigurationError, match="not stable"):
                    SpectralAnalysis(params, fs, ["a"], 2)


@pytest.mark.parametrize("value", [9.81, -0.3, 1234.5678])
def test_mean_removal_follows_numpys_float32_mean(value):
    """Without decimation the reference removes np.mean of a float32 array (pairwise float32
    summation): on a constant window the rounding residual x - mean is what the RMS (and the
    spectrum) see, so it must be reproduced exactly (reference case 88 depends on it)."""
    block = SpectralAnalysis({"fft-length": 16}, 62.5, ["x"], 2)
    sizes = list(range(1, 200)) + [257, 1000, 2047, 4096]
    # beyond numpy's 8192-element reduction buffer the float32 sum order changed between
    # numpy 2.0 and 2.4 (the reference vectors' version, which the C core follows); Python 3.9
    # has numpy <= 2.0, so the oracle of this test only holds there up to 8192
    if tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 4):
        sizes += [9000, 20000]
    for n in sizes:
        x = np.full(n, value, dtype=np.float32)
        residual = float(np.float32(x[0] - np.mean(x)))
        assert block.features(x)[0] == pytest.approx(abs(residual), rel=1e-6, abs=0), n


@pytest.mark.parametrize("version,params", [
    (4, {"fft-length": 64}), (2, {"fft-length": 16}),
    (1, {"fft-length": 64}), (4, {"analysis-type": "Wavelet", "wavelet-level": 1}),
])
def test_scale_overflow_is_named_as_such_not_as_bad_data(version, params):
    """Finite data times an absurd scale-axes overflows float32: the error must point at
    scale-axes, not tell the user to clean NaN values their data does not have."""
    if (version == 1 or "analysis-type" in params) and not legacy_available():
        pytest.skip("v1/wavelet code is not in this build")
    data = _recording(200)
    block = SpectralAnalysis({**params, "scale-axes": 1e38}, 62.5, AXES, version)
    with pytest.raises(InputError, match="lower scale-axes") as ei:
        block.features(data)
    assert "NaN" not in str(ei.value)
    # a NaN in the data is still reported as such, with its window
    data[130, 1] = np.nan
    with pytest.raises(InputError, match=r"window 1 \(rows 70\.\.199\) contains NaN"):
        SpectralAnalysis(params, 62.5, AXES, version).features_batch(data[:200], [0, 70], 130)


def test_feature_count_overflow_is_a_configuration_error():
    """10^6 axes x a 65536-point spectrum is more than 2^31 features: a clear error, no
    allocation attempted."""
    axes = [f"a{i}" for i in range(10**6)]
    block = SpectralAnalysis({"fft-length": 65536}, 100.0, axes, 4)
    with pytest.raises(ConfigurationError, match="fewer axes, a shorter fft-length"):
        block.n_features(2)

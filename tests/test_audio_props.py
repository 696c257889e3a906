"""Property tests: the audio blocks (C core through edgert.dsp) against the independent numpy
implementation of the spec (tests/reference/audio_ref.py) on random configurations and
signals - features within the parity tolerance, and the same verdict (error class and the
reference's message) where the configuration is invalid."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from edgert.dsp import AUDIO_BLOCKS
from edgert.errors import ConfigurationError

from .reference import audio_ref as ref

TOL = 1e-4
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RATES = [16000, 8000, 11025, 22050, 44100, 1000, 100]


def signal(kind: str, n: int, seed: int) -> np.ndarray:
    """int16-valued audio (speech-like tones, noise, clipped, silence, +-2 LSB dither, a
    periodic tone with identical frames, silence then sound) or sensor floats."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == "silence":
        return np.zeros(n)
    if kind == "dither":
        return rng.integers(-2, 3, n).astype(np.float64)
    if kind == "periodic":
        # a tone whose period divides every stride: identical frames, constant columns
        return np.round(3000 * np.sin(2 * np.pi * t / 8) + 1000 * np.cos(2 * np.pi * t / 4))
    if kind == "sensor":
        return np.round(rng.normal(0, 0.4, n) + 0.5 * np.sin(t * 0.3), 4)
    if kind == "noise":
        return np.round(rng.normal(0, rng.uniform(1, 3000), n))
    x = sum(rng.uniform(500, 6000) * np.sin(t * rng.uniform(0.01, 2.5) + rng.uniform(0, 6))
            for _ in range(3))
    x = x * (0.5 + 0.5 * np.sin(t * rng.uniform(0.0005, 0.005))) + rng.normal(0, 30, n)
    if kind == "clipped":
        x = x * 8
    if kind == "partly_silent":
        # digital silence, then sound: windows of the normalisation that see only silence
        x[: int(n * rng.uniform(0.2, 0.7))] = 0
    return np.clip(np.round(x), -32768, 32767)


@st.composite
def configs(draw, block: str):
    version = draw(st.integers(1, 4))
    fs = draw(st.sampled_from(RATES))
    L = draw(st.integers(max(8, fs // 8), fs * 2 if fs <= 1000 else fs))
    fl = draw(st.sampled_from([0.01, 0.016, 0.02, 0.025, 0.032, 0.02015, 0.05, 0.064]))
    fr = draw(st.sampled_from([0.5, 0.75, 1.0]))
    p: dict = {"frame_length": fl, "frame_stride": round(fl * fr, 5),
               "fft_length": draw(st.sampled_from([32, 64, 128, 256, 512, 1024]))}
    if block != "spectrogram":
        p["num_filters"] = draw(st.integers(2, 48))
        p["low_frequency"] = draw(st.sampled_from([0, 20, 80, 100, 300, 500]))
        p["high_frequency"] = draw(st.sampled_from([0, 0, fs / 2, fs * 0.45, fs * 0.3]))
    if block == "mfcc":
        p["num_cepstral"] = draw(st.integers(1, 24))
        p["win_size"] = draw(st.sampled_from([0, 1, 3, 21, 51, 101, 151]))
        p["pre_cof"] = draw(st.sampled_from([0.0, 0.97, 0.98, 0.5]))
        p["pre_shift"] = draw(st.integers(1, 3))
    if block == "mfe":
        p["win_size"] = draw(st.sampled_from([1, 3, 21, 51, 101]))
    if block in ("mfe", "spectrogram"):
        p["noise_floor_db"] = draw(st.sampled_from([-30, -52, -72, -100]))
    kind = draw(st.sampled_from(["speech", "noise", "clipped", "silence", "sensor", "dither",
                                 "periodic", "partly_silent"]))
    return version, fs, L, p, kind, draw(st.integers(0, 2**31))


def noise_mask(block: str, version: int, fs: int, p: dict, x: np.ndarray) -> np.ndarray:
    """(frames, per_frame) mask of the outputs the sliding normalisation turns into rounding
    noise: MFCC values whose whole (mirrored) normalisation window holds the same cepstrum
    to 1e-9, not ~0 (identical frames: a periodic tone whose period divides the stride, one
    frame) and, for MFE v1/v2, all values when every frame's energies are the same to 1e-9
    (the 0-1 scaling then spreads the noise of X - mean(X, ..., X)), and for spectrogram v1/v2
    all values when the whole power matrix is constant to 1e-9 (a frame holding one non-zero
    sample has a flat spectrum: its min-max scaling spreads the FFT's rounding noise over
    0..1, on both sides). The reference's output there depends on the last bits of its DCT,
    FFT and sums (spec, Precision); nothing else is excluded."""
    n, s, F = ref.frame_geometry(version, fs, p["frame_length"], p["frame_stride"], x.size)
    if block == "spectrogram":
        P = ref.power_spectrum(ref.frames(x, n, s, F), p["fft_length"])
        peak = np.abs(P).max()
        return np.full(P.shape, bool(peak > 0 and np.ptp(P) <= 1e-9 * peak))
    if block == "mfcc":
        raw, _ = ref.features("mfcc", version, {**p, "win_size": 0}, fs, x)
        X = raw.reshape(F, -1)
        half = (p["win_size"] - 1) // 2
        mask = np.zeros(X.shape, dtype=bool)
        for i in range(F):
            rows = [ref.mirrored(F, j) for j in range(i - half, i + half + 1)]
            spread = np.ptp(X[rows], axis=0)
            mask[i] = (spread <= 1e-9 * np.abs(X[rows]).max(axis=0)) & (np.abs(X[i]) > 1e-9)
        return mask
    low, high = ref._freqs(version, p, fs)
    W = ref.filterbank(p["num_filters"], p["fft_length"], fs, low, high, version >= 4)
    E = ref.mel_energies(ref.power_spectrum(ref.frames(x, n, s, F), p["fft_length"]), W)
    return np.full(E.shape, bool(np.ptp(E, axis=0).max() <= 1e-9 * np.abs(E).max()))


def check_against_reference(block: str, version: int, fs: int, L: int, p: dict, kind: str,
                            seed: int) -> None:
    x = signal(kind, L, seed).astype(np.float32).astype(np.float64)
    impl = AUDIO_BLOCKS[block](p, fs, ["audio"], version)
    try:
        want, cfg = ref.features(block, version, p, fs, x)
    except Exception as exc:   # the reference refuses: so must edgert, with its message
        with pytest.raises(ConfigurationError) as ei:
            impl.features(x)
        event(f"reference error: {str(exc)[:30]}")
        if "Number of samples" in str(exc):
            # low > high: numpy's error deep in the reference; edgert says what it is
            assert "above the high frequency" in str(ei.value)
            return
        assert isinstance(ei.value, type(exc)) or type(exc) is ref.ConfigurationError
        assert str(ei.value).startswith(str(exc)), (str(ei.value), str(exc))
        return
    assume(want.size > 0)
    normalised = (block == "mfcc" and p["win_size"] > 0) or (block == "mfe" and version <= 2) \
        or (block == "spectrogram" and version <= 2)
    if normalised and block != "spectrogram" and impl.n_frames(L) == 1:
        # one frame: every column is constant, so the normalisation's output is the rounding
        # noise of X - mean(X, ..., X) divided by ~1e-10 - implementation noise on both sides
        # (spec, Precision); there is nothing to compare
        event("one normalised frame: skipped")
        return
    event("features compared")
    got = impl.features(x).astype(np.float64)
    assert got.shape == want.shape
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    if normalised:
        noise = noise_mask(block, version, fs, p, x).reshape(-1)
        if noise.all():
            event("identical frames: skipped")
            return
        if noise.any():
            event("identical frames in some windows: those values skipped")
        err = err * ~noise
    worst = int(np.argmax(err))
    assert err[worst] <= TOL, (block, version, fs, L, p, kind, worst, got[worst], want[worst])
    assert impl.output_config(L) == cfg


@SETTINGS
@given(configs("mfcc"))
def test_mfcc_matches_reference(cfg):
    check_against_reference("mfcc", *cfg)


@SETTINGS
@given(configs("mfe"))
def test_mfe_matches_reference(cfg):
    check_against_reference("mfe", *cfg)


@SETTINGS
@given(configs("spectrogram"))
def test_spectrogram_matches_reference(cfg):
    check_against_reference("spectrogram", *cfg)


@settings(max_examples=60, deadline=None)
@given(block=st.sampled_from(["mfcc", "mfe", "spectrogram"]), version=st.integers(1, 4),
       step=st.integers(1, 9), fraction=st.sampled_from([1, 2, 4, 3]),
       n_windows=st.integers(2, 9))
def test_batch_with_shared_frames_equals_each_window(block, version, step, fraction,
                                                     n_windows):
    """Windows a multiple of the frame stride apart share frame rows inside the batch call -
    consecutive ones, or with steps of a half/quarter/third stride every 2nd/4th/3rd one; the
    result is each window's own, bit for bit."""
    impl = AUDIO_BLOCKS[block]({}, 16000, ["audio"], version)
    L = 8000
    stride = int(impl.layout(L).frame_stride)
    hop = max(1, step * stride // fraction)
    x = signal("speech", L + n_windows * hop + 13, step).astype(np.float32)
    starts = [w * hop for w in range(n_windows)] + [5, 0, hop]
    batch = impl.features_batch(x, starts, L)
    for row, s in zip(batch, starts):
        np.testing.assert_array_equal(row, impl.features(x[s:s + L]))

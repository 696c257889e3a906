"""Continuous audio at the block level (edgert.dsp.audio.ContinuousFeatures): pushing slices
one by one gives, for every window, exactly the features of that window computed whole - for
every block and version, slices that share frames (a multiple of the frame stride) or not -
while computing only the frames that hold new samples (plus the pre-emphasis wrap frame)."""
from __future__ import annotations

import numpy as np
import pytest

from edgert.dsp import AUDIO_BLOCKS, ContinuousFeatures
from edgert.errors import InputError

BLOCKS = [(b, v) for b in ("mfcc", "mfe", "spectrogram") for v in (1, 2, 3, 4)]


def speech(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000.0
    env = np.clip(np.sin(2 * np.pi * 2.3 * t), 0, None) ** 0.7
    x = env * (5000 * np.sin(2 * np.pi * 180 * t * (1 + 0.1 * np.sin(5 * t)))
               + 2500 * np.sin(2 * np.pi * 1300 * t)) + rng.normal(0, 60, n)
    x[: n // 9] = 0.0                      # a stretch of digital silence
    return np.clip(np.round(x), -32768, 32767).astype(np.float32)


def run_stream(block, x: np.ndarray, window: int, slice_: int) -> tuple[list, list]:
    cont = block.continuous(window, slice_)
    got, ends = [], []
    for k in range(len(x) // slice_):
        out = cont.push_slice(x[k * slice_:(k + 1) * slice_])
        if out is not None:
            got.append(out.copy())
            ends.append((k + 1) * slice_)
    return got, ends


@pytest.mark.parametrize("block_type,version", BLOCKS)
@pytest.mark.parametrize("slice_", [4000, 1600, 1000])
def test_continuous_equals_whole_window_bit_for_bit(block_type, version, slice_):
    """250 ms and 100 ms slices (frames line up between consecutive windows or, for 20 ms
    strides and 250 ms, every other window) and 1000-sample slices (every 4th or 8th)."""
    params = {"low_frequency": 300} if version <= 3 and block_type != "spectrogram" else {}
    block = AUDIO_BLOCKS[block_type](params, 16000, ["audio"], version)
    window = 16000
    assert block.continuous(window, slice_).reuses_frames
    x = speech(16000 * 3)
    got, ends = run_stream(block, x, window, slice_)
    assert len(got) == (len(x) - window) // slice_ + 1
    for feats, end in zip(got, ends):
        whole = block.features(x[end - window:end])
        np.testing.assert_array_equal(feats, whole)


@pytest.mark.parametrize("block_type,version", BLOCKS)
def test_slices_not_a_multiple_of_the_stride(block_type, version):
    """1001-sample slices: frames line up only 160 slices apart (more than a window), every
    frame is recomputed; still exact.
    A window that is not a whole number of slices (spectrogram v3's peak over the partial
    oldest slice) too."""
    block = AUDIO_BLOCKS[block_type]({"low_frequency": 300}, 16000, ["audio"], version)
    x = speech(16000 * 2, seed=5)
    cont = block.continuous(8000, 1001)
    assert not cont.reuses_frames
    got, ends = run_stream(block, x, 8000, 1001)
    for feats, end in zip(got, ends):
        np.testing.assert_array_equal(feats, block.features(x[end - 8000:end]))


def test_spectrogram_v3_rescale_decision_follows_the_window():
    """v3 rescales when any sample of the WINDOW is outside [-1, 1]: a loud slice leaving the
    window switches the decision back, as the whole-window computation does."""
    block = AUDIO_BLOCKS["spectrogram"]({}, 1000, ["accX"], 3)
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.9, 0.9, 5000).astype(np.float32)
    x[1200:1300] *= 40.0                     # m/s^2-sized burst
    got, ends = run_stream(block, x, 1000, 250)
    decisions = set()
    for feats, end in zip(got, ends):
        w = x[end - 1000:end]
        decisions.add(bool(np.abs(w).max() > 1))
        np.testing.assert_array_equal(feats, block.features(w))
    assert decisions == {True, False}


def count_frame_calls(cont) -> list:
    calls: list[tuple[int, int]] = []
    real = cont._frame_rows

    def counting(phase: int, first: int, count: int) -> None:
        if count > 0:
            calls.append((first, count))
        real(phase, first, count)

    cont._frame_rows = counting          # type: ignore[method-assign]
    return calls


def test_frames_are_computed_once():
    """With 250 ms slices and 10 ms frames, each slide computes the 25 new frames and the
    pre-emphasis wrap frame, not the 99 of a window (counted at the C entry point's wrapper)."""
    block = AUDIO_BLOCKS["mfe"]({}, 16000, ["audio"], 4)
    cont = block.continuous(16000, 4000)
    assert cont.reuses_frames and cont.wrap_frames == 1 and cont.n_frames == 99
    calls = count_frame_calls(cont)
    x = speech(16000 * 2)
    for k in range(8):
        cont.push_slice(x[k * 4000:(k + 1) * 4000])
    assert calls[0] == (0, 99)                       # the first full window
    assert calls[1:] == [(0, 1), (74, 25)] * 4       # then 1 + 25 frames per slice


def test_frames_reused_across_two_slices_when_they_line_up_every_other_window():
    """Studio's MFCC default (20 ms frames every 20 ms) with 250 ms slices: 4000 samples is
    12.5 frames, so frames line up between windows two slices apart; the rows of both phases
    are kept and each window computes the 25 frames new since then (plus the wrap frame)."""
    block = AUDIO_BLOCKS["mfcc"]({}, 16000, ["audio"], 4)
    cont = block.continuous(16000, 4000)
    assert cont.reuses_frames and cont.n_frames == 50
    calls = count_frame_calls(cont)
    x = speech(16000 * 3)
    got = []
    for k in range(12):
        out = cont.push_slice(x[k * 4000:(k + 1) * 4000])
        if out is not None:
            got.append(out.copy())
            np.testing.assert_array_equal(out, block.features(x[(k + 1) * 4000 - 16000:
                                                                  (k + 1) * 4000]))
    assert len(got) == 9
    # windows 0 and 1 (one per phase) are computed whole, then 1 + 25 frames each
    assert calls[:2] == [(0, 50), (0, 50)]
    assert calls[2:] == [(0, 1), (25, 25)] * 7


def test_push_slice_validates_input():
    block = AUDIO_BLOCKS["mfcc"]({}, 16000, ["audio"], 4)
    cont = block.continuous(16000, 4000)
    with pytest.raises(InputError, match="4000 samples"):
        cont.push_slice(np.zeros(10))
    bad = np.zeros(4000, dtype=np.float32)
    bad[5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        cont.push_slice(bad)
    with pytest.raises(InputError, match="slice_samples"):
        ContinuousFeatures(block, 16000, 0)
    assert cont.push_slice(np.zeros(4000)) is None and not cont.ready
    cont.reset()
    for _ in range(3):
        assert cont.push_slice(np.ones(4000)) is None
    assert cont.push_slice(np.ones(4000)) is not None and cont.ready

"""Every reference vector of the audio blocks (tests/data/audio/cases.json, produced by Edge
Impulse's Python reference blocks mfcc/, mfe/, spectrogram/) through edgert.dsp: features
within 1e-4 * max(1, |expected|), output_config (the blocks' only labelling) equal, and every
configuration the reference rejected raises the reference's error class with the reference's
message followed by what to change."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgert.dsp import AUDIO_BLOCKS, make_dsp_block
from edgert.errors import ConfigurationAssertionError, ConfigurationError

DOC = json.loads((Path(__file__).parent / "data" / "audio" / "cases.json").read_text())
CASES, INPUTS = DOC["cases"], DOC["inputs"]
TOL = 1e-4
# a Studio key, or a word of advice, that every message must carry beyond the reference's text
ADVICE = ("num_filters", "fft_length", "frame_length", "frame_stride", "win_size", "pre_shift",
          "high_frequency", "low_frequency", "implementation_version", "axes", "window")


def _raw(c: dict) -> list:
    return c["raw"] if "raw" in c else INPUTS[c["input"]]["raw"]


def _id(i: int, c: dict) -> str:
    tail = c.get("input", "inline")
    return f"{i}-{c['block']}-v{c['implementation_version']}-{tail}" + (
        "-error" if "error" in c else "")


FEATURE_CASES = [pytest.param(c, id=_id(i, c)) for i, c in enumerate(CASES) if "error" not in c]
ERROR_CASES = [pytest.param(c, id=_id(i, c)) for i, c in enumerate(CASES) if "error" in c]


def _block(c: dict):
    return AUDIO_BLOCKS[c["block"]](c["params"], c["sampling_freq"], c["axes"],
                                    c["implementation_version"])


def test_every_block_and_version_is_covered():
    seen = {(c["block"], c["implementation_version"]) for c in CASES if "features" in c}
    assert seen == {(b, v) for b in ("mfcc", "mfe", "spectrogram") for v in (1, 2, 3, 4)}
    assert len(FEATURE_CASES) == 230 and len(ERROR_CASES) == 30


@pytest.mark.parametrize("case", FEATURE_CASES)
def test_case_features(case):
    block = _block(case)
    raw = np.asarray(_raw(case), dtype=np.float64)
    got = block.features(raw)
    want = np.asarray(case["features"], dtype=np.float64)
    assert got.dtype == np.float32
    assert got.shape == want.shape == (block.n_features(raw.size),)
    err = np.abs(got.astype(np.float64) - want) / np.maximum(1.0, np.abs(want))
    worst = int(np.argmax(err))
    assert err[worst] <= TOL, (
        f"feature {worst} ({block.labels(raw.size)[worst]}): got {got[worst]!r}, "
        f"want {want[worst]!r}")
    assert block.output_config(raw.size) == case["output_config"]
    labels = block.labels(raw.size)
    assert len(labels) == len(want) and len(set(labels)) == len(labels)


@pytest.mark.parametrize("case", FEATURE_CASES[::23])
def test_case_through_factory_with_extra_columns(case):
    """make_dsp_block picks the block's axis by name from a wider recording and computes
    every window of a batch in one call."""
    raw = np.asarray(_raw(case), dtype=np.float32)
    data = np.column_stack([np.full(raw.size, 7.0, np.float32), raw])
    block = make_dsp_block({"type": case["block"], "implementation_version":
                            case["implementation_version"], "axes": case["axes"],
                            "params": case["params"]},
                           case["sampling_freq"], ["other"] + case["axes"])
    got = block.features_batch(data, [0], raw.size)
    want = np.asarray(case["features"])
    np.testing.assert_allclose(got[0], want, rtol=0, atol=TOL * max(1.0, np.abs(want).max()))


def test_studio_spellings_of_parameters():
    """Numbers as strings, dashes for underscores, high_frequency null (Studio marks it
    optional): the same features as the plain configuration."""
    c = next(c for c in CASES if c["block"] == "mfcc" and c["implementation_version"] == 4
             and "features" in c)
    raw = np.asarray(_raw(c), dtype=np.float32)
    spelled = {k.replace("_", "-"): str(v) for k, v in c["params"].items()}
    spelled["high-frequency"] = None
    a = AUDIO_BLOCKS["mfcc"](c["params"], c["sampling_freq"], ["audio"], 4).features(raw)
    b = AUDIO_BLOCKS["mfcc"](spelled, str(c["sampling_freq"]), ["audio"], "4").features(raw)
    np.testing.assert_array_equal(a, b)


_CLASSES = {"ConfigurationError": ConfigurationError, "AssertionError": AssertionError,
            "ValueError": ValueError, "Exception": Exception}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_case_raises_reference_error(case):
    cls_name, expected = case["error"].split(": ", 1)
    raw = np.asarray(_raw(case), dtype=np.float64)
    with pytest.raises(_CLASSES[cls_name]) as ei:
        _block(case).features(raw)
    exc = ei.value
    assert isinstance(exc, ConfigurationError)       # and edgert's own class, always
    if cls_name == "AssertionError":
        assert isinstance(exc, ConfigurationAssertionError)
    msg = str(exc)
    assert msg.startswith(expected), f"{msg!r} does not start with the reference's {expected!r}"
    # ... and says what to change
    assert len(msg) > len(expected) + 10
    assert any(word in msg[len(expected):] for word in ADVICE), msg

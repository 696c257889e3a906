"""Every reference vector of the Spectral Analysis block (tests/data/spectral/cases.json,
produced by Edge Impulse's Python reference block) through edgert.dsp: features within
1e-4 * max(1, |expected|), per-axis labels equal, and every configuration the reference
rejected raises ConfigurationError."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgert.dsp import SpectralAnalysis, legacy_available, make_dsp_block
from edgert.errors import ConfigurationError

CASES = json.loads((Path(__file__).parent / "data" / "spectral" / "cases.json").read_text())[
    "cases"]
TOL = 1e-4


def _is_legacy(c: dict) -> bool:
    return c["implementation_version"] == 1 or (
        c["implementation_version"] >= 3 and c["params"].get("analysis-type") == "Wavelet")


def _id(i: int, c: dict) -> str:
    if "error" in c:
        return f"{i}-error"
    p = c["params"]
    kind = p.get("analysis-type") if c["implementation_version"] > 2 else "FFT"
    return (f"{i}-v{c['implementation_version']}-{kind}-{p.get('filter-type')}"
            f"{p.get('filter-order')}-N{p.get('fft-length')}-r{p.get('input-decimation-ratio')}")


FEATURE_CASES = [pytest.param(c, id=_id(i, c)) for i, c in enumerate(CASES) if "error" not in c]
ERROR_CASES = [pytest.param(c, id=_id(i, c)) for i, c in enumerate(CASES) if "error" in c]


def _skip_legacy(c: dict) -> None:
    if _is_legacy(c) and not legacy_available():
        pytest.skip("v1/wavelet code is not in this build (dsp-legacy not merged)")


@pytest.mark.parametrize("case", FEATURE_CASES)
def test_case_features_and_labels(case):
    _skip_legacy(case)
    block = SpectralAnalysis(case["params"], case["sampling_freq"], case["axes"],
                             case["implementation_version"])
    raw = np.asarray(case["raw"], dtype=np.float64)
    n = raw.size // len(case["axes"])
    got = block.features(raw)
    want = np.asarray(case["features"], dtype=np.float64)
    assert got.dtype == np.float32
    assert got.shape == want.shape == (block.n_features(n),)
    err = np.abs(got.astype(np.float64) - want) / np.maximum(1.0, np.abs(want))
    worst = int(np.argmax(err))
    assert err[worst] <= TOL, (
        f"feature {worst} ({block.labels(n)[worst]}): got {got[worst]!r}, want {want[worst]!r}")
    assert block.axis_labels(n) == case["labels"]
    full = block.labels(n)
    assert len(full) == len(want) and len(set(full)) == len(full)
    assert full[0] == f"{case['axes'][0]} {case['labels'][0]}"


@pytest.mark.parametrize("case", FEATURE_CASES[:3] + FEATURE_CASES[-3:])
def test_case_through_factory_with_extra_columns(case):
    """make_dsp_block picks the block's axes by name from a wider recording."""
    _skip_legacy(case)
    axes = case["axes"]
    input_axes = ["other"] + list(reversed(axes))
    raw = np.asarray(case["raw"], dtype=np.float32).reshape(-1, len(axes))
    data = np.column_stack([np.full(len(raw), 123.0, np.float32), raw[:, ::-1]])
    block = make_dsp_block({"type": "spectral-analysis",
                            "implementation_version": case["implementation_version"],
                            "axes": axes, "params": case["params"]},
                           case["sampling_freq"], input_axes)
    got = block.features_batch(data, [0], len(raw))
    want = np.asarray(case["features"])
    np.testing.assert_allclose(got[0], want, rtol=0, atol=TOL * max(1.0, np.abs(want).max()))


def _block_from_error_case(c: dict) -> tuple[SpectralAnalysis, int]:
    p = c["params"]
    params = {k.replace("_", "-"): v for k, v in p.items() if k not in ("fs", "n", "axes")}
    block = SpectralAnalysis(params, p["fs"], [f"ax{i}" for i in range(p["axes"])],
                             c["implementation_version"])
    return block, p["n"]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_case_raises_configuration_error(case):
    expected = case["error"].split(": ", 1)[1]
    with pytest.raises(ConfigurationError) as ei:
        block, n = _block_from_error_case(case)
        block.n_features(n)
    assert expected.rstrip(".") in str(ei.value)

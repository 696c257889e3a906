"""A learn block fed by several DSP blocks (raw + flatten) gets their features concatenated in
the order of its own `dsp` list; DSP blocks pick their axes by name. Expected values from
numpy on the recording itself."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgert.runtime.impulse import Impulse

DEMO = Path(__file__).parent / "data" / "motion-demo"


def make_bundle(tmp_path: Path) -> Path:
    b = tmp_path / "multi"
    b.mkdir()
    # K-means over [flatten(accZ): avg, max | raw(accY, accX)]: axes 1 (accZ maximum) and
    # 2 + 2*4 = 10 (raw row 4, accY), 2 + 2*7 + 1 = 17 (raw row 7, accX)
    md = {"success": True, "created": "2026-01-01T00:00:00Z", "axes": [1, 10, 17],
          "mean": [1.0, -2.0, 0.5], "scale": [2.0, 4.0, 0.25],
          "clusters": [{"center": [0.0, 0.0, 0.0], "maxError": 0.5},
                       {"center": [1.0, -1.0, 2.0], "maxError": 0.25}],
          "defaultMinimumConfidenceRating": 0.3, "thresholds": []}
    (b / "anomaly-9.json").write_text(json.dumps(md))
    doc = {
        "format": "edgert-impulse/1", "project": {"id": 5, "name": "multi"}, "impulse_id": 1,
        "input": {"type": "time-series", "frequency": 50, "axes": ["accX", "accY", "accZ"],
                  "window_size_ms": 200, "window_increase_ms": 100, "zero_pad": True},
        "dsp": [
            {"id": 10, "type": "raw", "axes": ["accY", "accX"], "params": {"scale-axes": 2}},
            {"id": 11, "type": "flatten", "axes": ["accZ"],
             "params": {"average": True, "minimum": False, "maximum": True, "rms": False,
                        "stdev": False, "skewness": False, "kurtosis": False}},
        ],
        "learn": [{"id": 9, "type": "anomaly", "name": "A", "title": "A", "dsp": [11, 10],
                   "metadata": "anomaly-9.json"}],
    }
    (b / "impulse.json").write_text(json.dumps(doc))
    return b


def test_concatenation_order_and_axis_selection(tmp_path):
    imp = Impulse.load(make_bundle(tmp_path))
    assert imp.window_samples == 10 and imp.window_increase_samples == 5
    assert imp.learn_blocks[0].n_features == 2 + 20
    rng = np.random.default_rng(3)
    x = rng.normal(size=(57, 3)).astype(np.float32)
    res = imp.classify(x)
    starts = np.arange(0, 57 - 10 + 1, 5)
    assert np.array_equal(res.start_rows, starts)
    raw = res.features[10]
    flat = res.features[11]
    for k, s in enumerate(starts):
        w = x[s:s + 10]
        np.testing.assert_allclose(raw[k], (w[:, [1, 0]] * 2).reshape(-1), rtol=1e-6)
        np.testing.assert_allclose(flat[k], [w[:, 2].mean(), w[:, 2].max()], rtol=1e-5,
                                   atol=1e-6)
    # the anomaly block's input: flatten first (its dsp list says [11, 10]), then raw
    feats = np.concatenate([flat, raw], axis=1).astype(np.float64)
    z = (feats[:, [1, 10, 17]] - [1.0, -2.0, 0.5]) / [2.0, 4.0, 0.25]
    d = np.linalg.norm(z[:, None] - np.array([[0.0, 0, 0], [1, -1, 2]])[None], axis=2)
    expect = (d - [0.5, 0.25]).min(axis=1)
    np.testing.assert_allclose(res.anomaly, expect, rtol=1e-5, atol=1e-5)
    # features() concatenates in bundle order (raw, then flatten), with labels
    f = imp.features(x)
    assert f.features.shape == (len(starts), 22)
    assert np.array_equal(f.features[:, :20], raw) and np.array_equal(f.features[:, 20:], flat)
    assert len(f.labels) == 22


def test_anomaly_only_impulse_predictions(tmp_path):
    imp = Impulse.load(make_bundle(tmp_path))
    x = np.tile(np.array([0.25, -1.0, 1.0], np.float32), (30, 1))   # z = 0: inside cluster 0
    x[15:, 2] = 50.0    # accZ far from the clusters from row 15 (windows at 10, 15, 20)
    res = imp.classify(x)
    assert res.labels == () and res.variant is None
    assert set(res.predictions.tolist()) <= {"uncertain", "anomaly"}
    assert res.anomalous.tolist() == (res.anomaly > 0.3).tolist()
    assert res.anomaly[0] == pytest.approx(-0.5)
    assert res.anomalous.tolist() == [False, False, True, True, True]

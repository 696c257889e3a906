"""Bundles that exercise every part of the compiled impulse plan, shared by the plan tests and
tools/gen_impulse_plan_c.py (which writes the pure-C test and benchmark data).

``make_multi_bundle(dir)``: four DSP block types (raw, flatten, spectral v4 with a low-pass
filter, MFCC v4 with pre-emphasis and normalisation, scaled down to a 50 Hz sensor) feeding a
classifier with float32 and int8 variants whose input concatenates two blocks out of table
order (gathered), a K-means block over three other blocks (gathered; the MFCC's features are
in its input but not among its axes), and a GMM block over two consecutive blocks (read in
place) - with the test models of tests/data/models (dense_ei_f32/i8: 33 inputs, 4 outputs;
gmm_f32: 6 inputs).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "data" / "models"


def make_multi_bundle(directory: Path) -> Path:
    """Write the multi-block bundle into ``directory`` (created) and return it."""
    b = Path(directory)
    b.mkdir(parents=True, exist_ok=True)
    for name in ("dense_ei_f32.tflite", "dense_ei_i8.tflite", "gmm_f32.tflite"):
        shutil.copy(MODELS / name, b / name)
    rng = np.random.default_rng(11)
    # K-means input: spectral(accX) 7 features, then flatten(accZ, accX) 14
    kmeans = {"success": True, "created": "2026-01-01T00:00:00Z", "axes": [0, 3, 8, 20],
              "mean": [0.5, -0.25, 1.0, 0.0], "scale": [2.0, 0.5, 4.0, 1.5],
              "clusters": [{"center": [float(v) for v in rng.normal(0, 1, 4)],
                            "maxError": float(abs(rng.normal(0, 0.5)))} for _ in range(5)],
              "thresholds": []}
    (b / "anomaly-21.json").write_text(json.dumps(kmeans))
    doc = {
        "format": "edgert-impulse/1", "project": {"id": 9, "name": "plan multi-block"},
        "impulse_id": 1,
        "input": {"type": "time-series", "frequency": 50, "axes": ["accX", "accY", "accZ"],
                  "window_size_ms": 380, "window_increase_ms": 100, "zero_pad": True},
        "dsp": [
            {"id": 10, "type": "raw", "axes": ["accY"], "params": {"scale-axes": 2}},
            {"id": 11, "type": "flatten", "axes": ["accZ", "accX"], "params": {}},
            {"id": 12, "type": "spectral-analysis", "implementation_version": 4,
             "axes": ["accX"],
             "params": {"filter-type": "low", "filter-cutoff": 5, "filter-order": 4,
                        "fft-length": 16, "do-fft-overlap": True}},
            # 5 frames of 5 samples every 3, 3 mel filters, 2 cepstra: 10 features
            {"id": 13, "type": "mfcc", "implementation_version": 4, "axes": ["accZ"],
             "params": {"num_cepstral": 2, "frame_length": 0.1, "frame_stride": 0.06,
                        "num_filters": 3, "fft_length": 8, "win_size": 3, "pre_cof": 0.9}},
        ],
        "learn": [
            {"id": 20, "type": "keras", "name": "NN", "title": "NN", "dsp": [11, 10],
             "labels": ["a", "b", "c", "d"],
             "models": {"float32": "dense_ei_f32.tflite", "int8": "dense_ei_i8.tflite"},
             "thresholds": [{"key": "min_score", "value": 0.5}]},
            {"id": 21, "type": "anomaly", "name": "K-means", "title": "K-means",
             "dsp": [12, 11, 13], "metadata": "anomaly-21.json",
             "thresholds": [{"key": "min_anomaly_score", "value": 2.5}]},
            {"id": 22, "type": "anomaly-gmm", "name": "GMM", "title": "GMM", "dsp": [10, 11],
             "axes": [0, 5, 19, 20, 27, 32], "models": {"float32": "gmm_f32.tflite"},
             "thresholds": [{"key": "min_anomaly_score", "value": 3.0}]},
        ],
    }
    (b / "impulse.json").write_text(json.dumps(doc, indent=1))
    return b


def multi_recording(n_rows: int = 200, seed: int = 5) -> np.ndarray:
    """A (rows, 3) float32 motion-like recording for the multi-block bundle (50 Hz)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows) / 50.0
    x = np.stack([np.sin(2 * np.pi * 1.5 * t), 0.5 * np.cos(2 * np.pi * 0.7 * t),
                  9.81 + 0.2 * np.sin(2 * np.pi * 3.1 * t)], axis=1)
    return (x + rng.normal(0, 0.3, x.shape)).astype(np.float32)


__all__ = ["make_multi_bundle", "multi_recording"]

"""Make the small audio test bundles of tests/data/audio/ (impulse.json + an int8 .tflite):

  kws-mfcc/   16 kHz, 1 s window every 250 ms, MFCC v4 (Studio defaults - 13 cepstra,
              32 filters, FFT 256, 20 ms frames every 20 ms - except win_size 0: the
              sliding mean-variance normalisation would remove the steady spectral shape
              that tells these stationary synthetic sounds apart) -> 650 features
  mfe/        16 kHz, 1 s window every 500 ms, MFE v4 (Studio defaults: 40 filters, 20 ms
              frames every 10 ms, noise floor -52 dB) -> 3960 features

Each classifier is a logistic regression (FULLY_CONNECTED features -> 3, SOFTMAX) trained here
with numpy on edgert's features of seeded synthetic sounds (synth_clip below: "beep" - 2-3.4
kHz tone bursts, "hum" - mains harmonics and a motor line, "noise" - broadband hiss), then
quantized to int8 the TFLite way (per-tensor symmetric weights, int32 bias at input x weight
scale, int8 input/output, SOFTMAX output 1/256 - 128) and written with edgert's test-only
TFLite writer (edgert.importer.tflite_writer, which `edgert import` also uses). Deterministic: the same seeds give the same bytes.

    python tests/data/audio/make_bundles.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from edgert.dsp import AUDIO_BLOCKS  # noqa: E402
from edgert.importer.tflite_writer import Op, Tensor, build_model  # noqa: E402

LABELS = ["beep", "hum", "noise"]
FS = 16000


def synth_clip(label: str, seconds: float, rng: np.random.Generator, fs: int = FS) -> np.ndarray:
    """A seeded synthetic sound of one class, int16 sample values."""
    n = int(round(seconds * fs))
    t = np.arange(n) / fs
    if label == "beep":
        f = rng.uniform(2000, 3400)
        gate = (np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6)) > -0.3)
        x = rng.uniform(0.2, 0.6) * gate * np.sin(2 * np.pi * f * t)
    elif label == "hum":
        f0 = rng.choice([50.0, 60.0])
        x = sum(rng.uniform(0.05, 0.3) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6))
                for k in range(1, 9))
        x = x + 0.05 * np.sin(2 * np.pi * rng.uniform(300, 700) * t)
    else:
        x = rng.normal(0, rng.uniform(0.05, 0.25), n)
        x = np.convolve(x, np.ones(rng.integers(1, 4)) / 2, mode="same")
    x = x + rng.normal(0, 0.003, n)
    return np.clip(np.round(x * 32767), -32768, 32767)


def features_of(block, clips: list[np.ndarray], window: int, step: int) -> np.ndarray:
    rows = []
    for x in clips:
        starts = np.arange(0, len(x) - window + 1, step)
        rows.append(block.features_batch(x.astype(np.float32), starts, window))
    return np.concatenate(rows)


def train(X: np.ndarray, y: np.ndarray, epochs: int = 300, lr: float = 0.2,
          l2: float = 0.05) -> tuple:
    """Multinomial logistic regression by full-batch gradient descent (float64)."""
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    W = np.zeros((Z.shape[1], len(LABELS)))
    b = np.zeros(len(LABELS))
    Y = np.eye(len(LABELS))[y]
    for _ in range(epochs):
        logits = Z @ W + b
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g = (p - Y) / len(Z)
        W -= lr * (Z.T @ g + l2 * W)
        b -= lr * g.sum(0)
    # fold the standardisation into the layer: logits = X @ (W / sd) + (b - mu/sd @ W)
    return W / sd[:, None], b - (mu / sd) @ W


def int8_model(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> bytes:
    n_in, n_out = W.shape
    lo, hi = min(float(X.min()), 0.0), max(float(X.max()), 0.0)
    s_in = (hi - lo) / 255.0
    z_in = int(np.clip(round(-128 - lo / s_in), -128, 127))
    s_w = float(np.abs(W).max()) / 127.0
    Wq = np.clip(np.round(W.T / s_w), -127, 127).astype(np.int8)      # (out, in)
    bq = np.round(b / (s_in * s_w)).astype(np.int32)
    logits = X @ W + b
    l_lo, l_hi = min(float(logits.min()), 0.0), max(float(logits.max()), 0.0)
    s_l = (l_hi - l_lo) / 255.0
    z_l = int(np.clip(round(-128 - l_lo / s_l), -128, 127))
    tensors = [
        Tensor("features", (1, n_in), "int8", scale=s_in, zero_point=z_in),
        Tensor("dense/kernel", (n_out, n_in), "int8", Wq, scale=s_w, zero_point=0),
        Tensor("dense/bias", (n_out,), "int32", bq, scale=s_in * s_w, zero_point=0),
        Tensor("logits", (1, n_out), "int8", scale=s_l, zero_point=z_l),
        Tensor("probabilities", (1, n_out), "int8", scale=1 / 256, zero_point=-128),
    ]
    ops = [Op("FULLY_CONNECTED", [0, 1, 2], [3],
              ("FullyConnectedOptions", {"FusedActivationFunction": 0}), version=4),
           Op("SOFTMAX", [3], [4], ("SoftmaxOptions", {"Beta": 1.0}), version=2)]
    return build_model(tensors, ops, [0], [4], description="edgert audio test classifier")


def bundle(folder: str, dsp: dict, window_ms: int, increase_ms: int, seed: int) -> None:
    out = HERE / folder
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    block = AUDIO_BLOCKS[dsp["type"]](dsp["params"], FS, ["audio"], dsp["implementation_version"])
    W_samples, step = FS * window_ms // 1000, FS * increase_ms // 1000
    sets = []
    for n_clips in (40, 10):                      # training, then held-out clips
        X, y = [], []
        for k, label in enumerate(LABELS):
            clips = [synth_clip(label, 1.5, rng) for _ in range(n_clips)]
            f = features_of(block, clips, W_samples, step)
            X.append(f)
            y.append(np.full(len(f), k))
        sets.append((np.concatenate(X).astype(np.float64), np.concatenate(y)))
    (Xa, ya), (Xh, yh) = sets
    Wt, bt = train(Xa, ya)
    acc = float(np.mean(np.argmax(Xh @ Wt + bt, 1) == yh))
    model = int8_model(Wt, bt, Xa)
    (out / "model-i8.tflite").write_bytes(model)
    doc = {
        "format": "edgert-impulse/1",
        "project": {"name": f"edgert audio test ({dsp['type']})",
                    "note": "synthetic: made by tests/data/audio/make_bundles.py"},
        "impulse_id": 1,
        "input": {"type": "time-series", "frequency": FS, "axes": ["audio"],
                  "window_size_ms": window_ms, "window_increase_ms": increase_ms,
                  "zero_pad": True},
        "dsp": [dict(id=2, name=dsp["type"].upper(), axes=["audio"], **dsp)],
        "learn": [{"id": 3, "type": "keras", "name": "Classifier", "title": "Classification",
                   "dsp": [2], "labels": LABELS, "models": {"int8": "model-i8.tflite"},
                   "thresholds": [{"key": "min_score", "value": 0.6}]}],
    }
    (out / "impulse.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"{folder}: {Xa.shape[0]} training windows x {Xa.shape[1]} features, float accuracy "
          f"on {len(yh)} held-out windows {acc:.3f}, model {len(model)} bytes")


def main() -> None:
    bundle("kws-mfcc", {"type": "mfcc", "implementation_version": 4,
                        "params": {"num_cepstral": 13, "frame_length": 0.02,
                                   "frame_stride": 0.02, "num_filters": 32, "fft_length": 256,
                                   "win_size": 0, "low_frequency": 0, "high_frequency": 0,
                                   "pre_cof": 0.98, "pre_shift": 1}}, 1000, 250, seed=16)
    bundle("mfe", {"type": "mfe", "implementation_version": 4,
                   "params": {"frame_length": 0.02, "frame_stride": 0.01, "num_filters": 40,
                              "fft_length": 256, "low_frequency": 0, "high_frequency": 0,
                              "win_size": 101, "noise_floor_db": -52}}, 1000, 500, seed=17)


if __name__ == "__main__":
    main()

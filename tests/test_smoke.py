"""Smoke tests: the installed package imports, its C core is the matching version, and each
layer does real work end to end on data built here (no files needed). Also run against the
built wheel in a fresh venv (tools/run-tests.sh) and by cibuildwheel."""
import os

import numpy as np

import edgert
from edgert import _ffi


def test_runs_against_the_installed_package_when_asked():
    """tools/run-tests.sh sets EDGERT_SMOKE_EXPECT_INSTALLED for the wheel run: the package
    under test must then be the installed wheel, not the source checkout next to tests/."""
    if os.environ.get("EDGERT_SMOKE_EXPECT_INSTALLED") == "1":
        assert "site-packages" in edgert.__file__, edgert.__file__


def test_native_version_matches_package():
    assert _ffi.ffi.string(_ffi.lib.edgert_version()).decode() == edgert.__version__


def test_strerror_names_statuses():
    assert _ffi.strerror(0) == "ok"
    assert "masked all FFT bins" in _ffi.strerror(_ffi.lib.EDGERT_ERR_MASKED_ALL)
    assert _ffi.strerror(-12345) == "unknown status code"


def test_spectral_block_rms_and_spectrum_peak():
    from edgert.dsp import make_dsp_block

    fs, n = 100.0, 200
    t = np.arange(n) / fs
    x = np.stack([np.sin(2 * np.pi * 12.5 * t), 0.5 * np.cos(2 * np.pi * 25 * t)], axis=1)
    block = make_dsp_block(
        {"type": "spectral-analysis", "implementation_version": 2, "axes": ["a", "b"],
         "params": {"fft-length": 16, "do-log": False, "filter-type": "none"}},
        fs, ["a", "b"])
    feats = block.features_batch(x.astype(np.float32), np.array([0]), n)[0]
    labels = block.labels(n)
    assert len(feats) == len(labels) == block.n_features(n) == 2 * (3 + 8)
    rms = {lab: feats[i] for i, lab in enumerate(labels) if lab.endswith("RMS")}
    np.testing.assert_allclose(rms["a RMS"], np.sqrt(np.mean((x[:, 0] - x[:, 0].mean()) ** 2)),
                               rtol=1e-5)
    # 12.5 Hz at fs=100 with N=16 is bin 2: the largest bin of axis a's spectrum
    bins_a = feats[3:11]
    assert int(np.argmax(bins_a)) + 1 == 2


def test_engine_runs_a_fully_connected_model_built_in_memory():
    from edgert.engine import load_model
    from tests.tflite_builder import Op, Tensor, build_model

    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 5)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    model = build_model(
        tensors=[Tensor("x", (1, 5)), Tensor("w", (3, 5), data=w), Tensor("b", (3,), data=b),
                 Tensor("y", (1, 3))],
        ops=[Op("FULLY_CONNECTED", [0, 1, 2], [3])], inputs=[0], outputs=[3])
    m = load_model(model, backend="native")
    x = rng.normal(size=(7, 5)).astype(np.float32)
    np.testing.assert_allclose(m.invoke_batch(x), x @ w.T + b, rtol=1e-5, atol=1e-6)


def test_acquisition_cbor_roundtrip_and_signature():
    from edgert.acquisition import DataAcquisition, Sensor, decode, encode_cbor, verify

    values = np.array([[0.5, -1.25, 9.8125], [0.0, 1.5, -2.0]])
    doc = DataAcquisition(device_name="smoke", device_type="TEST", interval_ms=16,
                          sensors=[Sensor("accX", "m/s2"), Sensor("accY", "m/s2"),
                                   Sensor("accZ", "m/s2")], values=values, alg="HS256")
    body = encode_cbor(doc, hmac_key="k")
    assert verify(body, "k") and not verify(body, "other")
    np.testing.assert_array_equal(decode(body).values, values)


def test_eim_runner_starts(tmp_path):
    """An .eim written by the installed package starts (write_eim runs it with --print-info):
    its launcher module and the bundle travel inside the file."""
    from pathlib import Path

    from edgert.eim import write_eim
    eim = write_eim(Path(__file__).parent / "data" / "motion-demo", tmp_path / "m.eim")
    assert eim.hello["model_parameters"]["input_features_count"] == 375
    assert (tmp_path / "m.eim").read_bytes().startswith(b"#!/bin/sh\n")

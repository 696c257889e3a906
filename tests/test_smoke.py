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


def test_audio_blocks_and_wav(tmp_path):
    """MFCC/MFE/spectrogram through the C core, a WAV file written and read back."""
    from edgert.dsp import make_dsp_block
    from edgert.recording import load_recording
    from edgert.recording.wav import write_wav

    t = np.arange(16000) / 16000.0
    x = np.round(8000 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)))
    write_wav(tmp_path / "tone.wav", x, 16000)
    rec = load_recording(tmp_path / "tone.wav")
    assert rec.frequency == 16000 and rec.axes == ("audio",)
    counts = {"mfcc": 650, "mfe": 3960, "spectrogram": 6435}
    for kind, n in counts.items():
        block = make_dsp_block({"type": kind, "implementation_version": 4, "axes": ["audio"],
                                "params": {}}, 16000, ["audio"])
        feats = block.features_batch(rec.values, np.array([0]), 16000)[0]
        assert feats.shape == (n,) and np.all(np.isfinite(feats))
        cont = block.continuous(16000, 4000)
        out = None
        for k in range(4):
            out = cont.push_slice(rec.values[k * 4000:(k + 1) * 4000, 0])
        np.testing.assert_array_equal(out, feats)


def test_export_c_works_from_the_installed_package(tmp_path):
    """`edgert export-c` copies the C core and the harness from the package itself (a wheel
    carries them as edgert/_csrc); the exported program, built natively, gives the Python
    runtime's classification."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    from edgert.mcu import export_c
    from edgert.mcu.sources import c_sources_root
    from edgert.runtime.impulse import Impulse

    root = c_sources_root()
    if os.environ.get("EDGERT_SMOKE_EXPECT_INSTALLED") == "1":
        assert "site-packages" in str(root) and root.name == "_csrc", root
    bundle = Path(__file__).resolve().parent / "data" / "motion-demo"
    out = tmp_path / "c"
    report = export_c(bundle, out)
    for rel in ("edgert/edgert.h", "edgert/impulse.c", "harness/export.mk",
                f"impulse/{report.name}.c", "Makefile", "README.md"):
        assert (out / rel).is_file(), rel
    if shutil.which("make") is None or shutil.which("cc") is None:
        return
    built = subprocess.run(["make", "-s", "-C", str(out), "host"], capture_output=True,
                           text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    window = json.loads((bundle / "ei-sdk-reference.json").read_text())["windows"][0]["raw"]
    np.asarray(window, dtype="<f4").tofile(tmp_path / "w.f32")
    ran = subprocess.run([str(out / "build" / "harness-host"), str(tmp_path / "w.f32")],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    line = json.loads(ran.stdout)
    want = Impulse.load(bundle).plan("int8").classify_window(np.asarray(window, np.float32))
    assert line["classification"] == {k: float(np.float32(v)) for k, v in want.scores.items()}

"""The microcontroller build on an emulated Cortex-M4F (QEMU mps2-an386) against the host.

csrc/mcu/ builds the C core for a Cortex-M4 with single-precision FPU (-DEDGERT_DSP_FLOAT32,
the parts of the core the example impulse uses) with a bare-metal harness, runs it under
qemu-system-arm with semihosting on Edge Impulse's 30 SDK reference windows, and prints one
JSON line per window. What must hold (docs/mcu.md):
- the int8 network input and output are identical to the host build's (float64 DSP) and to
  Edge Impulse's SDK's, so every label and probability is identical;
- features and anomaly scores differ from the host's float64 path only by float32 rounding:
  measured at most 7.8e-7 x max(1, |x|) for the features and 6e-8 for the anomaly on these
  windows; the test allows 2e-6 x max(1, |x|) and 1e-6;
- the same harness program built for this machine (same float32 DSP, no emulator) gives the
  same results, except that newlib's and glibc's log10f differ by 1 ulp on a few log-power
  features: what the emulator runs is what the source says;
- no software double-precision arithmetic per sample or per bin: the DSP makes fewer
  double-helper calls per window than there are samples (they are per-call parameter checks),
  the network and the anomaly scorer none;
- the image fits the issue's budget: flash <= 40 KB, RAM <= 6 KB (raw window buffer apart);
- bad input gives an error line and a non-zero status, never a crash or a hang.
Skipped (with the reason) where the cross compiler, QEMU or a host C compiler is missing; CI
installs them (.ci/run).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgert import Impulse

ROOT = Path(__file__).resolve().parent.parent
MCU = ROOT / "csrc" / "mcu"
BUNDLE = ROOT / "tests" / "data" / "motion-demo"
SDK = json.loads((BUNDLE / "ei-sdk-reference.json").read_text())["windows"]

FEATURE_TOL = 2e-6     # measured 7.75e-7 (x max(1, |x|)) on the 30 windows
ANOMALY_TOL = 1e-6     # measured 6e-8
RUN_TIMEOUT = 120      # seconds per emulator run (a run takes well under a second)


def _missing_tools() -> str:
    for tool, why in (("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi "
                       "libnewlib-arm-none-eabi"),
                      ("qemu-system-arm", "apt-get install qemu-system-arm"),
                      ("make", "apt-get install make")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed ({why}; .ci/run installs it)"
    if shutil.which(os.environ.get("HOSTCC", "cc")) is None:
        return "no host C compiler (cc) to size the DSP scratch"
    return ""


pytestmark = pytest.mark.skipif(bool(_missing_tools()), reason=_missing_tools() or "ok")


def _make(build: Path, *targets: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "-C", str(MCU), f"BUILD={build}", f"BUNDLE={BUNDLE}",
         f"PYTHON={sys.executable}", *targets],
        capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mcu-build")
    res = _make(out, "all", "host")
    assert res.returncode == 0, f"harness build failed:\n{res.stdout}\n{res.stderr}"
    return out


@pytest.fixture(scope="module")
def windows_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mcu-input") / "windows.f32"
    np.asarray([w["raw"] for w in SDK], dtype="<f4").tofile(path)
    return path


def _lines(stdout: str) -> tuple[list[dict], dict]:
    rows = [json.loads(x) for x in stdout.splitlines() if x.startswith('{"window"')]
    summary = [json.loads(x)["summary"] for x in stdout.splitlines()
               if x.startswith('{"summary"')]
    return rows, (summary[0] if summary else {})


@pytest.fixture(scope="module")
def emulated(build, windows_file) -> tuple[list[dict], dict]:
    res = _make(build, "run", f"INPUT={windows_file}", timeout=RUN_TIMEOUT)
    assert res.returncode == 0, f"emulated run failed:\n{res.stdout}\n{res.stderr}"
    rows, summary = _lines(res.stdout)
    assert len(rows) == len(SDK) and summary.get("windows") == len(SDK)
    return rows, summary


@pytest.fixture(scope="module")
def host() -> dict[str, np.ndarray]:
    """The host build (float64 DSP) on the same windows, stage by stage."""
    imp = Impulse.load(BUNDLE)
    raw = np.asarray([w["raw"] for w in SDK], dtype=np.float32)
    feats = np.stack([imp.dsp_blocks[0].block.features(r) for r in raw]).astype(np.float32)
    keras, anomaly = imp.learn_blocks
    nn_in = keras.quantize_input(feats, "int8").reshape(len(raw), -1)
    nn_out = keras.invoke(keras.quantize_input(feats, "int8"), "int8")
    return {"features": feats, "nn_input": nn_in, "nn_output": nn_out,
            "scores": keras.dequantize_output(nn_out, "int8"),
            "anomaly": anomaly.score(feats), "labels": np.asarray(imp.labels)}


def test_int8_network_identical_to_host_and_sdk(emulated, host):
    rows, _ = emulated
    nn_in = np.asarray([r["nn_input_int8"] for r in rows])
    nn_out = np.asarray([r["nn_output_int8"] for r in rows])
    np.testing.assert_array_equal(nn_in, host["nn_input"])
    np.testing.assert_array_equal(nn_out, host["nn_output"])
    np.testing.assert_array_equal(nn_in, [w["nn_input_int8"] for w in SDK])
    np.testing.assert_array_equal(nn_out, [w["nn_output_int8"] for w in SDK])
    scores = np.asarray([[r["classification"][lab] for lab in host["labels"]] for r in rows],
                        dtype=np.float32)
    np.testing.assert_array_equal(scores, host["scores"])
    assert [host["labels"][i] for i in scores.argmax(axis=1)] == \
        [max(w["classification"], key=w["classification"].get) for w in SDK]


def test_features_and_anomaly_within_float32_tolerance(emulated, host):
    rows, _ = emulated
    feats = np.asarray([r["features"] for r in rows], dtype=np.float32)
    want = host["features"].astype(np.float64)
    err = np.abs(feats - want) / np.maximum(1.0, np.abs(want))
    w, k = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err[w, k] <= FEATURE_TOL, f"window {w} feature {k}: {feats[w, k]!r} vs {want[w, k]!r}"
    # float32 DSP, not a different algorithm: most features are the float64 path's exactly
    assert (feats == host["features"]).mean() > 0.3
    anomaly = np.asarray([r["anomaly"] for r in rows], dtype=np.float32)
    assert np.abs(anomaly - host["anomaly"]).max() <= ANOMALY_TOL
    sdk_feats = np.asarray([w["features"] for w in SDK], dtype=np.float64)
    # the SDK bound of examples/motion-demo/README.md holds for the float32 build too
    assert (np.abs(feats - sdk_feats) / np.maximum(1.0, np.abs(sdk_feats))).max() <= 2e-3


def test_host_float32_build_computes_what_the_emulator_computes(build, windows_file, emulated):
    rows, _ = emulated
    res = subprocess.run([str(build / "demo-host"), str(windows_file)], capture_output=True,
                         text=True, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr
    native, _ = _lines(res.stdout)
    assert [r["nn_output_int8"] for r in native] == [r["nn_output_int8"] for r in rows]
    assert [r["anomaly"] for r in native] == [r["anomaly"] for r in rows]
    a = np.asarray([r["features"] for r in rows], dtype=np.float32)
    b = np.asarray([r["features"] for r in native], dtype=np.float32)
    differ = np.argwhere(a != b)
    labels = Impulse.load(BUNDLE).feature_labels
    # only log10 outputs may differ (newlib vs glibc log10f), by at most one ulp
    assert all("Spectral Power" in labels[k] for _, k in differ), differ
    assert np.all(np.abs(a - b) <= np.spacing(np.abs(b)))


def test_no_software_double_per_sample(emulated):
    rows, _ = emulated
    window_samples = len(SDK[0]["raw"]) // 3
    for r in rows:
        calls = r["soft_double_calls"]
        assert calls["nn"] == 0 and calls["anomaly"] == 0, calls
        assert calls["dsp"] < window_samples, calls   # per call, not per sample or bin
    # the counter and stack measurements are live (a broken counter would read 0)
    assert all(r["instructions"]["total"] > 0 for r in rows)
    assert all(0 < r["stack_bytes"] < 4096 for r in rows)


def test_example_impulse_fits_the_issue_budget(build):
    res = _make(build, "size", timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr
    size = json.loads(res.stdout.strip().splitlines()[-1])
    assert size["window_buffer"] == 125 * 3 * 4
    assert 0 < size["flash"] <= 40 * 1024, size
    assert 0 < size["ram"] <= 6 * 1024, size
    assert size["stack_peak"] > 0


def test_bad_input_is_an_error_not_a_crash(build, tmp_path):
    short = tmp_path / "short.f32"
    np.zeros(375 + 10, dtype="<f4").tofile(short)          # one window and a bit
    res = _make(build, "run", f"INPUT={short}", timeout=RUN_TIMEOUT)
    assert res.returncode != 0
    rows, _ = _lines(res.stdout)
    assert len(rows) == 1 and '"error"' in res.stdout and "10 of 375" in res.stdout
    bad = tmp_path / "nan.f32"
    window = np.zeros(375, dtype="<f4")
    window[7] = math.nan
    window.tofile(bad)
    res = _make(build, "run", f"INPUT={bad}", timeout=RUN_TIMEOUT)
    assert res.returncode != 0
    assert '"error": "window 0:' in res.stdout and "NaN" in res.stdout, res.stdout
    res = _make(build, "run", f"INPUT={tmp_path / 'absent.f32'}", timeout=RUN_TIMEOUT)
    assert res.returncode != 0 and "cannot open" in res.stdout

"""`edgert bench`, `edgert bench-model` and `edgert profile`: they run, their JSON validates
against the documented schemas (docs/bench.md, and Edge Impulse's own onDevicePerformance
model for the profile), what they time is checked right, and their errors are one line.

No timing assertion here: performance is benches/' business (benches/bench_harness.py). Runs
use small time budgets so the suite stays bounded."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgert.bench.schema import BENCH_SCHEMA, PROFILE_SCHEMA, validate
from edgert.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
EXAMPLE = ROOT / "examples" / "motion-demo"
V1 = DATA / "motion-demo-2020-v1"
MODELS = DATA / "models"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv, env=None):
    """The real command in a child process (stderr as a user sees it)."""
    proc = subprocess.run([sys.executable, "-m", "edgert", *argv], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def demo_doc(tmp_path_factory):
    """`edgert bench examples/motion-demo --seconds 1 --threads 2 --json` (the README's
    example bundle), run once for the module."""
    out = tmp_path_factory.mktemp("bench") / "demo.json"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "edgert", "-q", "bench", str(EXAMPLE),
                           "--seconds", "1", "--threads", "2", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out.write_text(proc.stdout)
    return json.loads(proc.stdout), out, time.perf_counter() - t0


def _stage(doc, stage, pipeline):
    return next((s for s in doc["stages"] if s["stage"] == stage and
                 s["pipeline"] == pipeline), None)


def test_bench_example_json_validates_and_covers_every_stage(demo_doc):
    doc, _, _ = demo_doc
    validate(doc, BENCH_SCHEMA)
    assert doc["kind"] == "bundle" and doc["subject"]["variant"] == "int8"
    for stage in ("dsp", "classification", "anomaly", "impulse", "stream"):
        s = _stage(doc, stage, "edgert")
        assert s is not None and s["samples"] > 0, stage
        assert 0 < s["cpu_us"]["min"] <= s["cpu_us"]["median"] <= s["cpu_us"]["p99"]
        assert 0 < s["wall_us"]["min"] <= s["wall_us"]["median"] <= s["wall_us"]["p99"]
    # every reference of the test environment is installed, so each is timed and compared
    for stage, ref in [("dsp", "numpy-reference"), ("classification", "litert-xnnpack"),
                       ("classification", "litert-reference"),
                       ("classification", "tflite-micro"), ("anomaly", "numpy-reference"),
                       ("impulse", "python-reference")]:
        s = _stage(doc, stage, ref)
        assert s is not None and s["reference"] and s["samples"] > 0, (stage, ref)
        r = [r for r in doc["ratios"] if r["stage"] == stage and r["reference"] == ref]
        assert r and all(x["cpu"] > 0 and x["same_run"] for x in r), (stage, ref)
        # the ratio is the two medians of this document divided
        mine = _stage(doc, stage, r[0]["pipeline"])
        assert r[0]["cpu"] == pytest.approx(s["cpu_us"]["median"] / mine["cpu_us"]["median"])
    assert [u for u in doc["unavailable"] if u["pipeline"] != "tflite-runtime"] == []
    # what is timed gives the right answers
    assert doc["checks"] and all(c["ok"] for c in doc["checks"])
    assert any("bit-exact" in c["result"] for c in doc["checks"])
    # throughput at 1 and 2 threads over the same recording
    runs = {r["threads"]: r for r in doc["throughput"]["runs"]}
    assert set(runs) == {1, 2} and runs[1]["speedup_vs_1_thread"] == pytest.approx(1.0)
    assert doc["throughput"]["windows"] >= 256 and runs[2]["windows_per_s"] > 0
    mem = {(m["pipeline"], m["method"]): m["bytes"] for m in doc["memory"]}
    assert mem[("edgert", "arena")] == 80          # the demo classifier's arena (edgert info)
    assert mem[("edgert", "file")] == len((EXAMPLE / "nn-i8.tflite").read_bytes())
    assert mem[("tflite-micro", "arena")] > mem[("edgert", "arena")]


def test_bench_example_finishes_well_inside_a_minute(demo_doc):
    """The acceptance bound (not a performance figure): a 1-second budget plus set-up."""
    doc, _, elapsed = demo_doc
    assert doc["method"]["elapsed_seconds"] < 10
    assert elapsed < 60


def test_bench_table_and_saved_result_plot(demo_doc, capsys, tmp_path):
    _, saved, _ = demo_doc
    png = tmp_path / "bench.png"
    code, out, err = run(capsys, "bench", str(saved), "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "speed-up: reference median / edgert median" in out
    assert re.search(r"^dsp\s+numpy-reference \(ref\)", out, re.M)
    assert "checks" in out and "FAIL" not in out
    code, out, err = run_process("bench", str(saved))
    assert code == 1 and out == "" and err.startswith("edgert: ERROR: ") and "add --plot" in err


def test_bench_configuration_and_model_plots(demo_doc, tmp_path):
    from edgert.bench.plot import plot_configurations, plot_model_ratios
    doc, _, _ = demo_doc
    a = plot_configurations([doc, doc], ["demo", "demo again"], tmp_path / "c.png")
    assert a.read_bytes()[:4] == b"\x89PNG"
    mdoc = _model_doc(MODELS / "dense_ei_i8.tflite")
    b = plot_model_ratios([mdoc], ["dense"], tmp_path / "m.png")
    assert b.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["bench", "nope"], "no such bundle"),
    (["bench", str(EXAMPLE), "--variant", "float32"], "no float32 model"),
    (["bench-model", str(EXAMPLE)], "is a directory"),
    (["bench-model", str(EXAMPLE / "impulse.json")], "impulse.json"),
    (["profile", "nope"], "no such bundle"),
])
def test_bad_input_is_one_error_line(argv, message):
    code, out, err = run_process(*argv)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgert: ERROR: ") and message in lines[0]


def test_bad_budget_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", str(EXAMPLE), "--seconds", "-1"])
    assert exc.value.code == 2
    assert "positive number of seconds" in capsys.readouterr().err


# --------------------------------------------------------------------------- bench-model
def _model_doc(path, seconds=0.4):
    from edgert.bench.run import bench_model
    return bench_model(path, seconds=seconds, progress=False)


def test_bench_model_native_int8():
    doc = _model_doc(MODELS / "dense_ei_i8.tflite")
    validate(doc, BENCH_SCHEMA)
    assert doc["subject"]["engine"] == "native" and doc["subject"]["native_unsupported"] is None
    pipes = {s["pipeline"] for s in doc["stages"]}
    assert {"edgert-batched", "edgert-single", "litert-xnnpack", "litert-reference",
            "tflite-micro"} <= pipes
    assert doc["checks"] == [{"what": doc["checks"][0]["what"], "result": "bit-exact",
                              "ok": True}]
    assert {(r["pipeline"], r["reference"]) for r in doc["ratios"]} == {
        (f"edgert-{h}", k) for h in ("batched", "single")
        for k in ("litert-xnnpack", "litert-reference", "tflite-micro")}


def test_bench_model_cli_names_the_operator_and_runs_the_fallback(capsys):
    """A model the native engine cannot run: the operator is named and the interpreter
    fallback is timed in the same harness."""
    code, out, err = run(capsys, "-q", "bench-model", str(MODELS / "unsupported" / "sub_f32.tflite"),
                         "--json")
    assert code == 0, err
    doc = json.loads(out)
    validate(doc, BENCH_SCHEMA)
    assert doc["subject"]["engine"] == "tflite-interpreter"
    assert "SUB" in doc["subject"]["native_unsupported"]
    assert any(u["pipeline"] == "edgert" and "SUB" in u["reason"] for u in doc["unavailable"])
    fb = _stage(doc, "inference", "edgert-fallback-single")
    assert fb is not None and fb["samples"] > 0
    assert doc["checks"] and doc["checks"][0]["ok"]


# ------------------------------------------------------------------------------ profile
def test_profile_host_is_an_edge_impulse_on_device_performance_entry(capsys):
    from edgeimpulse_api.models.keras_model_metadata_metrics_on_device_performance_inner \
        import KerasModelMetadataMetricsOnDevicePerformanceInner as Entry
    code, out, err = run(capsys, "profile", str(EXAMPLE), "--json")
    assert code == 0, err
    doc = json.loads(out)
    validate(doc, PROFILE_SCHEMA)
    e = doc["onDevicePerformance"][0]
    parsed = Entry.from_dict(e)          # Edge Impulse's official API model accepts it
    assert parsed.has_performance and parsed.latency > 0
    assert e["eon"]["arenaSize"] == 80
    assert e["tflite"]["modelSize"] == len((EXAMPLE / "nn-i8.tflite").read_bytes())
    assert e["eon"]["ramRequired"] >= e["eon"]["arenaSize"]
    assert e["eon"]["romRequired"] > e["eon"]["modelSize"]
    code, out, err = run(capsys, "profile", str(EXAMPLE))
    assert code == 0 and "ms per window" in out and "RAM" in out


def test_profile_cortex_m4f_says_what_is_missing():
    """Without the cross toolchain and QEMU on PATH: one error line naming them and the
    apt-get command (and, when this edgert has no microcontroller build, that too)."""
    code, out, err = run_process("profile", str(EXAMPLE), "--target", "cortex-m4f",
                                 env=dict(os.environ, PATH="/nonexistent"))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgert: ERROR: cannot profile for "
                                                   "cortex-m4f")
    for word in ("arm-none-eabi-gcc", "qemu-system-arm", "apt-get install",
                 "--target host"):
        assert word in lines[0]


@pytest.mark.skipif(any(__import__("shutil").which(t) is None for t in
                        ("arm-none-eabi-gcc", "qemu-system-arm", "make")),
                    reason="the Cortex-M4F toolchain and QEMU are not installed (.ci/run "
                           "installs them)")
def test_profile_cortex_m4f_reads_the_microcontroller_build():
    """Built for the M4F and run under QEMU: the entry's sizes are the build's size report,
    its latency the instructions per window at 80 MHz, and the emulated windows agree with the
    host."""
    code, out, err = run_process("profile", str(EXAMPLE), "--target", "cortex-m4f", "--json")
    assert code == 0, err
    doc = json.loads(out)
    validate(doc, PROFILE_SCHEMA)
    e, d = doc["onDevicePerformance"][0], doc["details"]
    assert e["mcu"] == "cortex-m4f-80mhz" and e["hasPerformance"]
    assert e["eon"]["romRequired"] == d["size"]["flash"] > 0
    assert e["eon"]["ramRequired"] == d["size"]["ram"] > e["eon"]["arenaSize"] == 80
    total = d["instructions_per_window"]["total"]
    assert e["latency"] == pytest.approx(total / 80e6 * 1e3, rel=1e-6)
    assert total > d["instructions_per_window"]["dsp"] > 0
    assert d["host_agreement"].startswith(f"{d['windows']}/{d['windows']} ")


# ------------------------------------------------------------------------ the pieces
def test_interleaved_timing_separates_cpu_from_waiting():
    from edgert.bench.timing import Task, measure_interleaved

    def busy(i):
        t = time.process_time()
        while time.process_time() - t < 0.0005:
            pass
    tasks = [Task("sleep", lambda i: time.sleep(0.001)), Task("busy", busy)]
    rounds = measure_interleaved(tasks, 0.3, slice_s=0.01)
    sleep, work = (t.stats() for t in tasks)
    assert rounds >= 5 and sleep["cpu_samples"] == work["cpu_samples"] == rounds
    assert sleep["wall_us"]["median"] >= 1000 and sleep["cpu_us"]["median"] < 500
    assert work["cpu_us"]["median"] >= 450


def test_one_copy_of_the_spectral_reference():
    from edgert.bench import reference_dsp
    from tests.reference import spectral_ref, spectral_v1_ref
    assert spectral_ref.spectral_features is reference_dsp.spectral_features
    assert spectral_v1_ref.v1_axis is reference_dsp.v1_axis


@pytest.mark.parametrize("bundle", [DATA / "motion-demo", V1])
def test_reference_block_features_match_edgert(bundle):
    """The dispatcher the bench uses (both spectral versions) against edgert's C DSP."""
    from edgert.bench import reference_dsp
    from edgert.bench.stages import synthetic_recording
    from edgert.runtime.impulse import Impulse
    imp = Impulse.load(bundle)
    W = imp.window_samples
    data = synthetic_recording(W * 3, len(imp.axes), imp.frequency)
    starts = np.array([0, W // 2, W], dtype=np.int32)
    ours = imp.compute_features(data, starts)
    for d in imp.dsp_blocks:
        assert reference_dsp.supports(d.spec.type, d.spec.implementation_version,
                                      d.spec.params) is None
        ref = np.stack([reference_dsp.block_features(data[s:s + W], imp.frequency,
                                                     d.spec.params,
                                                     d.spec.implementation_version)
                        for s in starts])
        np.testing.assert_allclose(ours[d.spec.id], ref, rtol=1e-4, atol=1e-4)


def test_reference_coverage_is_stated():
    from edgert.bench import reference_dsp
    assert "flatten" in reference_dsp.supports("flatten", 1, {})
    assert "wavelet" in reference_dsp.supports("spectral-analysis", 4,
                                               {"analysis-type": "Wavelet"})


def test_memory_measures():
    from edgert import _native
    from edgert.bench.memory import loaded_size, micro_arena_bytes, traced
    size = loaded_size(_native.__file__)
    assert 0 < size <= os.path.getsize(_native.__file__)
    assert loaded_size(str(EXAMPLE / "impulse.json")) is None
    with traced() as t:
        keep = np.zeros(1 << 20, dtype=np.uint8)
    assert t.held >= 1 << 20 and t.peak >= t.held
    del keep
    from tests.oracles import MicroOracle
    micro = MicroOracle(str(MODELS / "dense_ei_i8.tflite"))
    rep = micro_arena_bytes(micro._it)
    assert rep is not None and rep["total"] >= rep["activations"] > 0


def test_docs_print_the_schemas_the_package_uses():
    text = (ROOT / "docs" / "bench.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", text, re.S)]
    assert blocks == [BENCH_SCHEMA, PROFILE_SCHEMA], \
        "docs/bench.md's JSON schemas differ from edgert/bench/schema.py: update the page"

"""The compiled impulse plan (csrc/impulse.c, edgert/runtime/impulse_plan.py) gives the batch
path's numbers bit for bit - features, every learn block's outputs, anomaly, predictions - for
every example bundle and every window of the example recordings, window by window, in one
call, through ``classify``, ``classify_window`` and streams pushed one sample at a time; and
multi-block impulses (gathered inputs, float32 and int8 classifiers, K-means, GMM). Bundles
the plan cannot represent fall back to the batch path and say why."""
from __future__ import annotations

import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from edgert.errors import InputError, ModelError
from edgert.recording import load_recording
from edgert.runtime import impulse as impulse_module
from edgert.runtime import impulse_plan
from edgert.runtime.impulse import Impulse
from edgert.runtime.impulse_plan import PlanUnsupportedError
from tests.plan_bundles import make_multi_bundle, multi_recording

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "impulse.json").exists())
SAMPLES = sorted(p for p in (ROOT / "examples" / "motion-demo" / "samples").iterdir()
                 if p.suffix in (".json", ".cbor", ".csv"))
#: each example's recordings (the motion demos share the accelerometer samples)
AUDIO_SAMPLES = sorted((ROOT / "examples" / "kws-demo" / "audio").glob("*.wav"))


def samples_of(bundle: Path) -> list[Path]:
    return AUDIO_SAMPLES if bundle.name == "kws-demo" else SAMPLES


def batch(imp: Impulse, data: np.ndarray, starts: np.ndarray, variant):
    """The batch path (whole-array calls per stage, no plan)."""
    return imp._compute(data, starts, variant, 1)


def assert_same_as_batch(imp, plan, data, starts, run):
    """``run`` (a PlanRun) holds exactly the batch path's numbers for these windows."""
    feats, outs = batch(imp, data, starts, plan.variant)
    for bid, sl in plan.feature_slices.items():
        assert np.array_equal(run.features[:, sl], feats[bid]), f"DSP block {bid}"
    for bid, sl, scores in plan.learn_outputs:
        got = run.outputs[:, sl] if scores else run.outputs[:, sl.start]
        assert got.dtype == outs[bid].dtype == np.float32
        assert np.array_equal(got, outs[bid]), f"learn block {bid}"


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return Impulse.load(make_multi_bundle(tmp_path_factory.mktemp("plan") / "multi"),
                        backend="native")


@pytest.mark.parametrize("bundle", EXAMPLES, ids=lambda p: p.name)
def test_examples_every_window_equals_the_batch_path(bundle):
    imp = Impulse.load(bundle, backend="native")
    for variant in imp.variants:
        plan = imp.plan(variant)
        assert imp.plan_unsupported_reason(variant) is None
        for sample in samples_of(bundle):
            data = imp.prepare(load_recording(sample))
            starts = imp.windows(data.shape[0])
            run = plan.run(data, starts)              # all windows, in passes of 64
            assert_same_as_batch(imp, plan, data, starts, run)
            # window by window through the one-window entry point
            buf = plan.buffers()
            for w, s in enumerate(starts):
                plan.run_into(data[s:s + imp.window_samples], buf)
                assert np.array_equal(buf.outputs[0, :plan.n_outputs], run.outputs[w])
                assert np.array_equal(buf.features[0], run.features[w])
                assert buf.prediction[0] == run.results["prediction"][w]


@pytest.mark.parametrize("bundle", EXAMPLES, ids=lambda p: p.name)
def test_examples_classify_and_stream_equal_the_batch_path(bundle, monkeypatch):
    imp = Impulse.load(bundle, backend="native")
    for sample in samples_of(bundle):
        rec = load_recording(sample)
        res = imp.classify(rec)                       # plan path up to 64 windows
        with monkeypatch.context() as m:
            m.setattr(impulse_module, "PLAN_MAX_WINDOWS", 0)
            ref = imp.classify(rec)                   # batch path
        assert_results_equal(res, ref)
        # classify_window on each window and a stream fed one sample at a time
        st = imp.stream()
        got = [r for row in ref.data for r in st.push(row[None, :])]
        assert len(got) == len(ref)
        for w, (g, r) in enumerate(zip(got, ref)):
            assert g.window.index == w and g.start_ms == r.start_ms
            assert g.scores == r.scores and g.anomaly == r.anomaly
            assert g.window.label == r.label and g.window.anomalous == r.anomalous
            assert g.window.top_label == r.top_label and g.window.top_score == r.top_score
            s = int(ref.start_rows[w])
            one = imp.classify_window(ref.data[s:s + imp.window_samples])
            assert (one.scores, one.anomaly, one.label) == (r.scores, r.anomaly, r.label)


def assert_results_equal(a, b):
    """Two ClassificationResults hold the same numbers in every attribute (``a`` freshly
    made: its windows are read before anything else builds its arrays)."""
    assert a.variant == b.variant and len(a) == len(b)
    n = len(a)
    assert [a[w] for w in range(n)] == [b[w] for w in range(n)]
    assert a[-1] == b[-1] and a[-n] == b[0]
    for w in (n, -n - 1):
        with pytest.raises(IndexError):
            a[w]
    for name in ("labels", "min_score", "anomaly_threshold", "names", "resampled",
                 "frequency", "source_frequency", "window_samples", "window_size_ms",
                 "window_increase_ms", "keras_blocks", "anomaly_blocks"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("probabilities", "anomaly"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.summary() == b.summary()
    for name in ("start_rows", "start_ms", "end_ms", "predictions", "anomalous"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.outputs.keys() == b.outputs.keys() and a.features.keys() == b.features.keys()
    for k in a.outputs:
        assert a.outputs[k].dtype == b.outputs[k].dtype
        assert a.outputs[k].shape == b.outputs[k].shape
        assert np.array_equal(a.outputs[k], b.outputs[k]), k
    for k in a.features:
        assert np.array_equal(a.features[k], b.features[k]), k
    assert [w.to_dict() for w in a] == [w.to_dict() for w in b]
    assert a.to_studio_json(created="x") == b.to_studio_json(created="x")


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_multiblock_plan_equals_the_batch_path(multi, variant, monkeypatch):
    plan = multi.plan(variant)
    x = multi_recording(300)
    data = multi.prepare(x)
    starts = multi.windows(data.shape[0])
    assert len(starts) > 50
    assert_same_as_batch(multi, plan, data, starts, plan.run(data, starts))
    res = multi.classify(x, variant=variant)
    with monkeypatch.context() as m:
        m.setattr(impulse_module, "PLAN_MAX_WINDOWS", 0)
        ref = multi.classify(x, variant=variant)
    assert_results_equal(res, ref)
    # every kind of prediction occurs, so the C rule is exercised on each
    assert {"uncertain", "anomaly"} <= set(ref.predictions.tolist())
    assert set(ref.predictions.tolist()) - {"uncertain", "anomaly"}
    rng = np.random.default_rng(3)
    for sizes in ([1], [1, 2, 3, 7, 40, 130], [500]):
        st = multi.stream(variant=variant)
        got, pos = [], 0
        while pos < len(x):
            n = int(rng.choice(sizes))
            got += st.push(x[pos:pos + n])
            pos += n
        assert [g.start_ms for g in got] == ref.start_ms.tolist()
        assert [g.window.to_dict() for g in got] == [w.to_dict() for w in ref]


def test_short_and_zero_padded_recordings(multi, monkeypatch):
    for rows in (1, 7, 18, 19, 20, 24):
        x = multi_recording(rows, seed=rows)
        res = multi.classify(x)
        with monkeypatch.context() as m:
            m.setattr(impulse_module, "PLAN_MAX_WINDOWS", 0)
            ref = multi.classify(x)
        assert_results_equal(res, ref)
        assert res.data is x                  # the recording itself, as the batch path keeps


def test_stream_windows_further_apart_than_their_length(multi):
    """S > W: rows between windows are skipped, in any chunking."""
    import json
    import shutil
    b = Path(multi.bundle.source).parent / "gaps"
    shutil.copytree(multi.bundle.source, b, dirs_exist_ok=True)
    doc = json.loads((b / "impulse.json").read_text())
    doc["input"]["window_increase_ms"] = 900
    (b / "impulse.json").write_text(json.dumps(doc))
    imp = Impulse.load(b, backend="native")
    assert imp.window_increase_samples > imp.window_samples
    x = multi_recording(400)
    ref = imp.classify(x)
    for chunk in (1, 13, 45, 400):
        st = imp.stream()
        got = [g for i in range(0, len(x), chunk) for g in st.push(x[i:i + chunk])]
        assert [g.window.to_dict() for g in got] == [w.to_dict() for w in ref]


def test_classify_up_to_the_longest_plan_recording(multi, monkeypatch):
    """Recordings of PLAN_MAX_WINDOWS windows, up to S - 1 rows past the last one (all of
    them copied - and checked - into the staging rows), take the plan with the batch path's
    numbers; one window more takes the batch path."""
    W, S = multi.window_samples, multi.window_increase_samples
    n_max = impulse_module.PLAN_MAX_WINDOWS
    assert len(multi.plan().thread_buffers().staging) >= W + n_max * S - 1
    for rows in (W + (n_max - 1) * S, W + n_max * S - 1, W + n_max * S):
        x = multi_recording(rows, seed=rows)
        res = multi.classify(x)
        assert (res._plan_rows is not None) == (rows < W + n_max * S), rows
        with monkeypatch.context() as m:
            m.setattr(impulse_module, "PLAN_MAX_WINDOWS", 0)
            ref = multi.classify(x)
        assert_results_equal(res, ref)
        y = x.copy()
        y[-1, 0] = np.nan                     # the last row (past the last window for most)
        with pytest.raises(InputError, match=f"first at row {rows - 1}, axis 0"):
            multi.classify(y)


def test_plan_results_are_built_on_first_access(multi):
    """A one-window classify keeps the plan's rows; the arrays, the window objects and the
    per-window scores dict are made when read, once."""
    x = multi_recording(multi.window_samples + 3 * multi.window_increase_samples)
    res = multi.classify(x)
    assert res._plan_rows is not None and "outputs" not in vars(res)
    assert "predictions" not in vars(res) and "start_ms" not in vars(res)
    w = res[2]
    assert "outputs" not in vars(res)         # one window: read from the rows directly
    assert w._scores is None
    scores = w.scores
    assert w.scores is scores and list(scores) == list(res.labels)
    assert res.outputs is res.outputs
    assert res.probabilities is res.outputs[res.keras_blocks[0].id]
    assert res.probabilities.flags.c_contiguous and res.anomaly.flags.c_contiguous


def test_window_and_stream_results_are_immutable_values():
    from edgert.runtime.results import WindowResult, window_result_from_row
    from edgert.runtime.stream import StreamResult
    import pickle
    w = WindowResult(3, 0.0, 2000.0, {"a": 0.25, "b": 0.75}, -0.5, "b", 0.75, "b", False)
    lazy = window_result_from_row(3, 0.0, 2000.0, ("a", "b"), (0.25, 0.75), -0.5, 1, "b",
                                  False)
    assert lazy == w and lazy.scores == {"a": 0.25, "b": 0.75}
    assert repr(lazy) == repr(w) == (
        "WindowResult(index=3, start_ms=0.0, end_ms=2000.0, scores={'a': 0.25, 'b': 0.75}, "
        "anomaly=-0.5, top_label='b', top_score=0.75, label='b', anomalous=False)")
    assert w.to_dict() == lazy.to_dict() == {"start_ms": 0.0, "end_ms": 2000.0, "scores": {
        "a": 0.25, "b": 0.75}, "label": "b", "anomaly": -0.5}
    assert w.replace(index=4) == WindowResult(4, 0.0, 2000.0, {"a": 0.25, "b": 0.75}, -0.5,
                                              "b", 0.75, "b", False)
    with pytest.raises(TypeError, match="no field 'colour'"):
        w.replace(colour=1)
    assert w != w.replace(anomalous=True) and w != "w"
    for attr in ("index", "scores", "label", "anomaly"):
        with pytest.raises(AttributeError):
            setattr(w, attr, None)
    with pytest.raises(TypeError):
        hash(w)
    assert pickle.loads(pickle.dumps(lazy)) == w
    none = window_result_from_row(0, 0.0, 1.0, (), (), None, -1, "uncertain", False)
    assert (none.scores, none.top_label, none.top_score) == ({}, None, None)
    s = StreamResult(lazy)
    assert s == StreamResult(w, None, None, None, False) and s.scores == w.scores
    assert (s.start_ms, s.anomaly, s.smoothed, s.detection, s.suppressed) == \
        (0.0, -0.5, None, None, False)
    assert repr(s).startswith("StreamResult(window=WindowResult(index=3")
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(AttributeError):
        s.detection = "b"


def test_window_buffers_time_the_stages(multi):
    plan = multi.plan("int8")
    x = multi_recording(multi.window_samples)
    for unit, per_second in (("ns", 10**9), ("us", 10**6)):
        buf = plan.buffers(timing=unit)
        plan.run_into(x, buf)
        dsp, classifier, anomaly, total = buf.stage_times()
        assert 0 <= dsp + classifier + anomaly <= total < per_second   # under a second
        assert dsp > 0 if unit == "ns" else dsp >= 0
    with pytest.raises(ValueError, match="without timing"):
        plan.buffers().stage_times()
    with pytest.raises(ValueError, match="timing must be"):
        plan.buffers(timing="ms")


# -------------------------------------------------------------------------------- fallbacks
def test_interpreter_backend_falls_back_and_says_why(tmp_path):
    imp = Impulse.load(ROOT / "examples" / "motion-demo", backend="tflite")
    why = imp.plan_unsupported_reason()
    assert "'tflite' backend" in why
    with pytest.raises(PlanUnsupportedError, match="tflite"):
        imp.plan()
    native = Impulse.load(ROOT / "examples" / "motion-demo", backend="native")
    x = multi_recording(125)
    r = imp.classify_window(x)                       # the batch path on one window
    assert r.label == native.classify_window(x).label
    assert imp.stream()._plan is None


def test_unknown_dsp_block_falls_back(monkeypatch, multi):
    """A DSP block the plan does not know (e.g. one just added to edgert.dsp) keeps working
    through the batch path, and the reason names it."""
    monkeypatch.delitem(impulse_plan.DSP_WRITERS, "flatten")
    imp = Impulse.load(multi.bundle.source, backend="native")
    why = imp.plan_unsupported_reason()
    assert "DSP block 11 is of type 'flatten'" in why and "does not know" in why
    x = multi_recording(60)
    res = imp.classify(x)
    assert_results_equal(res, multi.classify(x))
    st = imp.stream()
    assert st._plan is None
    got = [g for i in range(len(x)) for g in st.push(x[i:i + 1])]
    assert [g.window.to_dict() for g in got] == [w.to_dict() for w in res]
    one = imp.classify_window(x[:imp.window_samples])
    assert one.to_dict() == res[0].to_dict()


def test_too_many_labels_falls_back(monkeypatch, multi):
    monkeypatch.setattr(impulse_plan, "MAX_LABELS", 3)
    imp = Impulse.load(multi.bundle.source, backend="native")
    assert "4 labels" in imp.plan_unsupported_reason()


# ------------------------------------------------------------------------------ bad input
def test_classify_window_input(multi):
    W, A = multi.window_samples, len(multi.axes)
    x = multi_recording(W)
    ref = multi.classify_window(x)
    assert multi.classify_window(x.reshape(-1)).to_dict() == ref.to_dict()
    assert multi.classify_window(x.astype(np.float64)).to_dict() == ref.to_dict()
    assert multi.classify_window(x.tolist()).to_dict() == ref.to_dict()
    assert multi.classify_window(np.asfortranarray(x)).to_dict() == ref.to_dict()
    wide = np.zeros((W, 2 * A), np.float32)
    wide[:, ::2] = x
    assert multi.classify_window(wide[:, ::2]).to_dict() == ref.to_dict()   # a strided view
    for bad in (x[:-1], x[:, :2], np.zeros(W * A + 1, np.float32), np.zeros((W, A, 1)),
                x.reshape(1, -1), x.reshape(A, W)):
        with pytest.raises(InputError, match="rows x"):
            multi.classify_window(bad)
    for value in (np.nan, np.inf, 1e39):
        y = x.copy().astype(np.float64)
        y[3, 1] = value
        with pytest.raises(InputError, match="NaN/inf"):
            multi.classify_window(y)
    with pytest.raises(InputError, match="numbers"):
        multi.classify_window([["a"] * A] * W)
    with pytest.raises(InputError, match="numbers"):
        multi.classify_window(np.ones((W, A), complex))


def test_classify_of_bad_short_recordings_says_where(multi):
    x = multi_recording(30)
    x[25, 2] = np.nan
    with pytest.raises(InputError, match="first at row 25, axis 2"):
        multi.classify(x)


def test_stream_refuses_bad_chunks_whole(multi):
    x = multi_recording(100)
    st = multi.stream()
    ref = [g.window.to_dict() for g in multi.stream().push(x)]
    got = st.push(x[:30])
    bad = x[30:60].copy()
    bad[-1, 0] = np.inf
    with pytest.raises(InputError, match="NaN/inf"):
        st.push(bad)
    with pytest.raises(InputError, match="NaN/inf"):
        st.push(np.tile(bad, (40, 1)))            # a long chunk: checked before any use
    assert st.samples_received == 30
    got += st.push(x[30:])
    assert [g.window.to_dict() for g in got] == ref


def test_tampered_plan_is_a_model_error(multi):
    plan = Impulse.load(multi.bundle.source, backend="native").plan("int8")
    x = multi_recording(multi.window_samples)
    plan.classify_window(x)
    plan._dsp_c[1].n_features += 1
    with pytest.raises(ModelError):
        plan.classify_window(x)
    plan._dsp_c[1].n_features -= 1
    plan._learn_c[0].dsp[0] = 7
    with pytest.raises(ModelError):
        plan.classify_window(x)


# ------------------------------------------------------------------------ one-window API
def test_run_into_reuses_its_buffers(multi):
    plan = multi.plan("int8")
    buf = plan.buffers()
    x = multi_recording(200)
    W = multi.window_samples
    windows = [np.ascontiguousarray(x[s:s + W]) for s in range(0, 200 - W, 5)]
    ref = plan.run(x, np.arange(0, 200 - W, 5))
    scores, outputs = buf.scores, buf.outputs
    for w in windows:     # numpy caches a buffer description per array on first export
        plan.run_into(w, buf)
    calls = windows * 20
    only_plan = [tracemalloc.Filter(True, impulse_plan.__file__)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot().filter_traces(only_plan)
    for w in calls:
        plan.run_into(w, buf)
    after = tracemalloc.take_snapshot().filter_traces(only_plan)
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown == 0, grown                     # nothing allocated and kept per call
    assert buf.scores is scores and buf.outputs is outputs
    assert np.array_equal(buf.outputs[0, :plan.n_outputs], ref.outputs[len(windows) - 1])
    assert buf.scores.shape == (1, 4)
    assert plan.labels == ("a", "b", "c", "d")


def test_classify_window_from_threads(multi):
    x = multi_recording(400)
    W = multi.window_samples
    windows = [x[s:s + W] for s in range(0, 400 - W, 3)]
    expect = [multi.classify_window(w).to_dict() for w in windows]
    out: dict[int, list] = {}

    def work(k):
        out[k] = [multi.classify_window(w).to_dict() for w in windows]
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(out[k] == expect for k in range(4))


# ------------------------------------------------------------------------------- C export
def test_generated_c_test_data_is_up_to_date():
    """csrc/tests/data (the pure-C test and benchmark plans) matches what the builder makes
    now; rerun tools/gen_impulse_plan_c.py after changing the plan or the examples."""
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_impulse_plan_c.py"), "--check"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


EXPORT_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "edgert.h"
#include "plan.h"
static uint32_t scratch[(PLAN_SCRATCH_BYTES + 3u) / 4u + 4u];
int main(void)
{
    static float window[PLAN_WINDOW_VALUES];
    edgert_impulse_result r;
    while (fread(window, sizeof(float), PLAN_WINDOW_VALUES, stdin) == PLAN_WINDOW_VALUES) {
        int st = edgert_impulse_run_window(&plan_impulse, window, PLAN_WINDOW_VALUES, &r, NULL,
                                           scratch, sizeof scratch);
        if (st != 0) { fprintf(stderr, "status %d\n", st); return 1; }
        fwrite(&r, sizeof r, 1, stdout);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def core_objects(tmp_path_factory):
    """Every C source of the core compiled once with strict C99 flags (no Python)."""
    import shutil
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("core")
    flags = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
             f"-I{ROOT / 'csrc'}", '-DEDGERT_VERSION_STRING="test"']
    procs, objs = [], []
    for src in sorted((ROOT / "csrc").glob("*.c")):
        obj = out / (src.stem + ".o")
        procs.append(subprocess.Popen(["cc", *flags, "-c", str(src), "-o", str(obj)]))
        objs.append(str(obj))
        if len(procs) >= 2:
            assert procs.pop(0).wait() == 0
    assert all(p.wait() == 0 for p in procs)
    return flags, objs


@pytest.mark.parametrize("which", ["demo", "multi-int8", "multi-float32"])
@pytest.mark.parametrize("microcontroller", [True, False], ids=["mcu", "host"])
def test_exported_plan_runs_in_plain_c(tmp_path, core_objects, multi, which, microcontroller):
    """impulse_plan_sources() writes C that compiles warning-free with the core alone and
    computes exactly what the Python-built plan computes; the microcontroller variant leaves
    the host-only weight copies out and gives the same numbers with smaller constants."""
    from edgert.runtime.impulse_export import impulse_plan_sources
    flags, objs = core_objects
    if which == "demo":
        imp, variant = Impulse.load(ROOT / "examples" / "motion-demo", backend="native"), "int8"
        x = np.concatenate([imp.prepare(load_recording(s)) for s in SAMPLES[:2]])
    else:
        imp, variant = multi, which.split("-")[1]
        x = multi_recording(200)
    plan = imp.plan(variant)
    src, hdr = impulse_plan_sources(plan, "plan", microcontroller=microcontroller)
    (tmp_path / "plan.c").write_text(src)
    (tmp_path / "plan.h").write_text(hdr)
    (tmp_path / "main.c").write_text(EXPORT_MAIN)
    exe = tmp_path / "run"
    subprocess.run(["cc", *flags, f"-I{tmp_path}", str(tmp_path / "plan.c"),
                    str(tmp_path / "main.c"), *objs, "-lm", "-o", str(exe)], check=True,
                   timeout=300)
    starts = imp.windows(x.shape[0])
    W = imp.window_samples
    windows = np.stack([x[s:s + W] for s in starts]).astype(np.float32)
    out = subprocess.run([str(exe)], input=windows.tobytes(), capture_output=True, check=True,
                         timeout=60).stdout
    got = np.frombuffer(out, dtype=impulse_plan.RESULT_DTYPE)
    ref = plan.run(x, starts).results
    assert len(got) == len(starts)
    assert np.array_equal(got["prediction"], ref["prediction"])
    assert np.array_equal(got["anomaly"], ref["anomaly"])
    assert np.array_equal(got["scores"], ref["scores"])
    import re
    written = {int(i): int(n) for i, n in re.findall(r"#define PLAN_NET(\d+)_CONSTS_BYTES (\d+)u",
                                                     src)}
    host = {i: p.consts_bytes for i, p in plan.network_plans.items()}
    assert written.keys() == host.keys()
    for i in host:   # the device plan leaves the host-only weight copies out
        assert (written[i] < host[i]) if microcontroller else (written[i] == host[i])


def test_labels_named_like_the_special_predictions(multi, monkeypatch):
    """A class named ``anomaly`` or ``uncertain``: the plan's predictions use the same
    renamed special predictions as the batch path."""
    import json
    import shutil
    b = Path(multi.bundle.source).parent / "named"
    shutil.copytree(multi.bundle.source, b, dirs_exist_ok=True)
    doc = json.loads((b / "impulse.json").read_text())
    doc["learn"][0]["labels"] = ["anomaly", "uncertain", "c", "d"]
    (b / "impulse.json").write_text(json.dumps(doc))
    imp = Impulse.load(b, backend="native")
    x = multi_recording(120)
    res = imp.classify(x)
    with monkeypatch.context() as m:
        m.setattr(impulse_module, "PLAN_MAX_WINDOWS", 0)
        ref = imp.classify(x)
    assert_results_equal(res, ref)
    assert "anomaly (detected)" in ref.predictions.tolist()
    st = imp.stream()
    got = [g for i in range(0, len(x), 7) for g in st.push(x[i:i + 7])]
    assert [g.window.to_dict() for g in got] == [w.to_dict() for w in ref]
    W = imp.window_samples
    assert [imp.classify_window(x[s:s + W]).label for s in ref.start_rows] == \
        ref.predictions.tolist()
    # smoothing over one result detects what the prediction says, by the same renamed name
    from edgert.runtime.stream import Smoothing
    smoothed = imp.stream(smoothing=Smoothing(window=1, threshold=0.0, suppress_repeats=False))
    detections = [g.detection for g in smoothed.push(x)]
    assert detections == [p if p == "anomaly (detected)" else w.top_label
                          for p, w in zip(ref.predictions.tolist(), ref)]
    assert "anomaly (detected)" in detections

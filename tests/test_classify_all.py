"""edgert.dataset.classify_all on the real test dataset (tests/data/dataset/motion) with the real demo
impulse (tests/data/motion-demo): the page parses with the official edgeimpulse-api client
(over a real HTTP server on 127.0.0.1, its own query serialisation included), predictions agree
with Edge Impulse's SDK outputs, metrics agree with an independent numpy computation, paging
totals add up, the cache avoids re-classification, corrupt files are error entries."""
from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from edgert.dataset.classify_all import classify_all, classify_all_from_query
from edgert.dataset import Dataset, SampleFilter
from edgert.errors import DatasetError, EdgertError
from edgert.runtime.impulse import Impulse

from .test_classify_all_schema import assert_declared, threshold_value_fix  # noqa: F401

HERE = Path(__file__).parent
DATA = HERE / "data" / "dataset" / "motion"
BUNDLE = HERE / "data" / "motion-demo"
KEY = "dataset-test-hmac-key"

# single-window testing files -> the SDK reference window they hold
SDK_WINDOW = {"wave.00": 0, "idle.01": 1, "idle.02": 2, "updown.06": 6, "snake.07": 7,
              "updown.09": 9, "wave.11": 11, "wave.13": 13, "updown.16": 16, "snake.25": 25,
              "loose": 28}


@pytest.fixture(scope="module")
def impulse():
    return Impulse.load(BUNDLE)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    dst = tmp_path_factory.mktemp("ca") / "motion"
    shutil.copytree(DATA, dst)
    d = Dataset(dst, hmac_key=KEY)
    yield d
    d.close()


@pytest.fixture(scope="module")
def full(impulse, ds):
    """Every testing sample on one page."""
    return classify_all(impulse, ds, progress=False, threads=2)


class CountingImpulse:
    """The real impulse, counting classify calls (to see the cache work)."""

    def __init__(self, imp):
        self.imp, self.calls = imp, 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.imp, name)

    def classify(self, *a, **kw):
        with self.lock:
            self.calls += 1
        return self.imp.classify(*a, **kw)


# --- the page ---------------------------------------------------------------------------------

def test_page_holds_every_testing_sample(full, ds):
    rows = ds.query(SampleFilter(category="testing"))
    assert full["success"] is True and full["totalCount"] == len(rows) == 16
    assert [r["sampleId"] for r in full["result"]] == [r.id for r in rows]
    for entry in full["result"]:
        s = entry["sample"]
        assert s["id"] == entry["sampleId"]
        row = ds.get(s["id"])
        assert (s["filename"], s["label"], s["sha256Hash"]) == (row.filename, row.label or "",
                                                                row.sha256)


def test_page_matches_the_official_declarations(full):
    from edgeimpulse_api.models.classify_job_response_page import ClassifyJobResponsePage
    from edgeimpulse_api.models.keras_model_metadata_metrics import KerasModelMetadataMetrics
    assert_declared(ClassifyJobResponsePage, full)
    assert_declared(KerasModelMetadataMetrics, full["modelValidationMetrics"][0])


def test_predictions_agree_with_the_sdk(full):
    """Studio's rule on the SDK's own outputs: anomaly > 0.3 -> anomaly; top < 0.6 ->
    uncertain; else the top label."""
    ref = json.loads((BUNDLE / "ei-sdk-reference.json").read_text())["windows"]
    by_id = {r["sampleId"]: r["sample"]["filename"] for r in full["result"]}
    seen = set()
    for p in full["predictions"]:
        name = by_id[p["sampleId"]]
        if name not in SDK_WINDOW:
            continue
        w = ref[SDK_WINDOW[name]]
        top = max(w["classification"], key=w["classification"].get)
        want = "anomaly" if w["anomaly"] > 0.3 else (
            "uncertain" if w["classification"][top] < 0.6 else top)
        assert p["prediction"] == want, name
        assert p["anomalyScores"][0][0] == pytest.approx(w["anomaly"], abs=1e-5)
        assert (p["startMs"], p["endMs"]) == (0.0, 2000.0)
        assert p["predictionCorrect"] == (want == p["label"])
        seen.add(name)
    assert seen == set(SDK_WINDOW)
    preds = {by_id[p["sampleId"]]: p["prediction"] for p in full["predictions"]}
    assert preds["updown.16"] == "anomaly" and preds["snake.25"] == "uncertain"
    assert preds["wave.11"] == "idle"


def test_windows_of_a_long_and_a_resampled_sample(full, impulse, ds):
    row = ds.query(SampleFilter(category="testing", filename="idle.long"))[0]
    preds = [p for p in full["predictions"] if p["sampleId"] == row.id]
    assert len(preds) == (375 - 125) // 5 + 1
    assert [p["startMs"] for p in preds] == [i * 80.0 for i in range(len(preds))]
    assert all(p["endMs"] - p["startMs"] == 2000.0 for p in preds)
    # the page's classification objects are the impulse's own for that recording
    data = ds.load(row)
    res = impulse.classify(data.values, frequency=data.frequency)
    entry = next(r for r in full["result"] if r["sampleId"] == row.id)
    assert [c["result"] for c in entry["classifications"]] == \
        [c["result"] for c in res.to_studio_json()["classifications"]]
    assert [p["prediction"] for p in preds] == list(res.predictions)
    fast = ds.query(SampleFilter(category="testing", filename="idle.fast"))[0]
    assert len([p for p in full["predictions"] if p["sampleId"] == fast.id]) == 1


def test_corrupt_files_are_error_entries(full, impulse, ds):
    errs = {r["sample"]["filename"]: r for r in full["result"]
            if r["sample"]["processingError"]}
    assert set(errs) == {"broken", "garbage"}
    assert "invalid JSON" in errs["broken"]["sample"]["processingErrorString"]
    assert errs["broken"]["classifications"] == []
    ids = {r["sampleId"] for r in errs.values()}
    assert not [p for p in full["predictions"] if p["sampleId"] in ids]
    ok = [r for r in full["result"] if not r["sample"]["processingError"]]
    assert len(ok) == 14 and all(len(r["classifications"]) == 2 for r in ok)
    failed = full["modelValidationMetrics"][0]["failedSamples"]
    assert {f["filename"] for f in failed} == {"broken", "garbage"}
    # a classification failure (one wav axis for a 3-axis impulse) is an error entry too
    page = classify_all(impulse, ds, category="training", data_type="audio", progress=False)
    (entry,) = page["result"]
    assert entry["sample"]["processingError"] and entry["classifications"] == []
    assert "axes" in entry["sample"]["processingErrorString"]


def test_metrics_against_an_independent_computation(full):
    m = full["modelValidationMetrics"][0]
    true = [p["label"] for p in full["predictions"]]
    pred = [p["prediction"] for p in full["predictions"]]
    labels = m["labels"]
    assert labels[:4] == ["idle", "snake", "updown", "wave"]
    assert set(true) | set(pred) <= set(labels)
    cm = np.zeros((len(labels), len(labels)))
    for t, p in zip(true, pred):
        cm[labels.index(t), labels.index(p)] += 1
    assert np.array_equal(np.array(m["confusionMatrix"]), cm)
    correct = sum(t == p for t, p in zip(true, pred))
    assert m["accuracy"] == pytest.approx(correct / len(true))
    assert m["windowCount"] == len(true) and m["sampleCount"] == 16
    for i, lab in enumerate(labels):
        tp = sum(t == lab and p == lab for t, p in zip(true, pred))
        n_true = sum(t == lab for t in true)
        n_pred = sum(p == lab for p in pred)
        if n_true == 0 and n_pred == 0:
            assert lab not in m["report"]
            continue
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_true if n_true else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        r = m["report"][lab]
        assert (r["precision"], r["recall"], r["support"]) == (
            pytest.approx(prec), pytest.approx(rec), n_true)
        assert r["f1-score"] == pytest.approx(f1)
    assert m["report"]["accuracy"] == pytest.approx(m["accuracy"])
    assert m["type"] == "int8"        # the demo bundle only has an int8 model


def test_loss_is_the_cross_entropy_of_the_probabilities(full):
    model_labels = ["idle", "snake", "updown", "wave"]
    probs, true = [], []
    by_id = {r["sampleId"]: r for r in full["result"]}
    for sid, r in by_id.items():
        if not r["classifications"]:
            continue
        keras = next(c for c in r["classifications"] if c["learnBlock"]["type"] == "keras")
        for window in keras["result"]:
            if r["sample"]["label"] in model_labels:
                probs.append([window[k] for k in model_labels])
                true.append(model_labels.index(r["sample"]["label"]))
    p = np.clip(np.array(probs) / np.array(probs).sum(1, keepdims=True), 1e-7, 1 - 1e-7)
    want = -np.mean(np.log(p[np.arange(len(true)), true]))
    assert full["modelValidationMetrics"][0]["loss"] == pytest.approx(want, rel=1e-9)


def test_paging_totals_and_cache(impulse, ds, full):
    counting = CountingImpulse(impulse)
    pages, offset = [], 0
    while True:
        page = classify_all(counting, ds, limit=5, offset=offset, progress=False)
        assert page["totalCount"] == 16
        if not page["result"]:
            break
        pages.append(page)
        offset += 5
    assert len(pages) == 4 and [len(p["result"]) for p in pages] == [5, 5, 5, 1]
    assert [r["sampleId"] for p in pages for r in p["result"]] == \
        [r["sampleId"] for r in full["result"]]
    assert [x for p in pages for x in p["predictions"]] == full["predictions"]
    assert counting.calls == 0          # everything came from the cache of the `full` run
    # a fresh index (no cache) classifies each readable sample exactly once
    fresh = Dataset(ds.root, hmac_key=KEY, index_path=":memory:")
    counting = CountingImpulse(impulse)
    a = classify_all(counting, fresh, limit=3, progress=False, threads=2)
    assert counting.calls == 14
    b = classify_all(counting, fresh, limit=3, offset=3, progress=False)
    assert counting.calls == 14 and a["totalCount"] == b["totalCount"] == 16
    assert a["modelValidationMetrics"] == full["modelValidationMetrics"]
    # with_metrics=False classifies only the page
    fresh2 = Dataset(ds.root, hmac_key=KEY, index_path=":memory:")
    counting = CountingImpulse(impulse)
    c = classify_all(counting, fresh2, limit=2, offset=4, progress=False, with_metrics=False)
    assert counting.calls == 2 and "modelValidationMetrics" not in c
    fresh.close()
    fresh2.close()


def test_threads_give_identical_results(impulse, ds, full):
    fresh = Dataset(ds.root, hmac_key=KEY, index_path=":memory:")
    one = classify_all(impulse, fresh, progress=False, threads=1)
    fresh.close()
    assert [r["classifications"] for r in one["result"]] == \
        [r["classifications"] for r in full["result"]]
    assert one["predictions"] == full["predictions"]


def test_bad_arguments(impulse, ds):
    for kw, what in (({"limit": -1}, "limit"), ({"offset": -2}, "offset"),
                     ({"variant": "float16"}, "variant"), ({"min_length": "x"}, "min_length"),
                     ({"metadata": "{"}, "metadata")):
        with pytest.raises(DatasetError, match=what):
            classify_all(impulse, ds, progress=False, **kw)
    with pytest.raises(EdgertError, match="float32"):
        classify_all(impulse, ds, variant="float32", progress=False)   # bundle has int8 only


# --- through the official client over HTTP ----------------------------------------------------

@pytest.fixture(scope="module")
def server(impulse, ds):
    """A minimal HTTP front of classify_all_from_query on 127.0.0.1 (the daemon's route)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")
            if parts[:2] != ["v1", "api"] or parts[3:] != ["classify", "all", "result", "page"]:
                self.send_error(404)
                return
            try:
                body = classify_all_from_query(impulse, ds, parse_qs(url.query),
                                               progress=False)
                code = 200
            except EdgertError as exc:
                body, code = {"success": False, "error": str(exc)}, 400
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client(server, threshold_value_fix):
    # threshold_value_fix: the documented BlockThresholdValue.from_json bug of the client
    from edgeimpulse_api import ApiClient, ClassifyApi, Configuration
    cfg = Configuration(host=server)
    cfg.api_key["ApiKeyAuthentication"] = "test"
    return ClassifyApi(ApiClient(cfg))


def _names(page) -> set:
    return {r.sample.filename for r in page.result}


def test_official_client_parses_the_page(client, full):
    page = client.get_classify_job_result_page(43)
    assert type(page).__name__ == "ClassifyJobResponsePage"
    assert page.success is True and page.total_count == 16
    assert [r.sample_id for r in page.result] == [r["sampleId"] for r in full["result"]]
    first = next(r for r in page.result if r.classifications)
    assert first.classifications[0].learn_block.type == "keras"
    assert first.classifications[0].thresholds[0].value.actual_instance == 0.6
    assert len(page.predictions) == len(full["predictions"])
    p = page.predictions[0]
    assert isinstance(p.prediction, str) and isinstance(p.prediction_correct, bool)


@pytest.mark.parametrize("kwargs,expected", [
    ({"labels": '["snake"]'}, {"loose", "snake.07", "snake.25"}),
    ({"filename": "LONG"}, {"idle.long"}),
    ({"min_length": 2000}, {"idle.long"}),
    ({"max_length": 2000}, {"idle.short"}),
    ({"min_frequency": 62.5}, {"idle.fast"}),
    ({"max_frequency": 62.5}, set()),
    ({"signature_validity": "invalid"}, {"idle.02", "updown.06", "wave.13", "broken",
                                         "garbage"}),
    ({"search": "idle 01"}, {"idle.01"}),
    ({"metadata": json.dumps([{"no_metadata": False}, {"filters_combinator": "or"},
                              {"key": "site", "op": "neq", "values": ["A"]}])},
     {"loose", "snake.07"}),
    ({"category": "training", "min_label": 1.0, "max_label": 3.0}, {"reg.a"}),
    ({"category": "training", "data_type": "audio"}, {"noise"}),
    ({"category": "anomaly"}, {"anomaly.27"}),
])
def test_every_filter_through_the_client(client, kwargs, expected):
    page = client.get_classify_job_result_page(43, **kwargs)
    assert _names(page) == expected
    assert page.total_count == len(expected)
    ids = {r.sample_id for r in page.result}
    assert {p.sample_id for p in page.predictions} <= ids


def test_id_date_and_paging_parameters_through_the_client(client, ds, full):
    ids = [r["sampleId"] for r in full["result"]]
    page = client.get_classify_job_result_page(43, min_id=ids[2], max_id=ids[6])
    assert [r.sample_id for r in page.result] == ids[2:6]
    page = client.get_classify_job_result_page(43, limit=4, offset=12)
    assert [r.sample_id for r in page.result] == ids[12:16] and page.total_count == 16
    added = datetime.fromisoformat(ds.get(ids[0]).added.replace("Z", "+00:00"))
    later = datetime(2100, 1, 1, tzinfo=timezone.utc)
    assert client.get_classify_job_result_page(43, min_date=later).total_count == 0
    assert client.get_classify_job_result_page(43, max_date=later).total_count == 16
    assert client.get_classify_job_result_page(43, max_date=added).total_count == 0


def test_errors_reach_the_client(client):
    with pytest.raises(Exception, match="signature_validity"):
        client.get_classify_job_result_page(43, signature_validity="sometimes")


def test_changed_file_is_an_error_until_refresh_and_not_cached(impulse, tmp_path):
    folder = tmp_path / "motion"
    shutil.copytree(DATA, folder)
    with Dataset(folder, hmac_key=KEY) as d:
        target = folder / "testing" / "wave.00.json"
        target.write_bytes((folder / "testing" / "wave.11.json").read_bytes())
        page = classify_all(impulse, d, filename="wave.00", progress=False)
        (entry,) = page["result"]
        assert entry["sample"]["processingError"]
        assert "changed since it was indexed" in entry["sample"]["processingErrorString"]
        d.refresh()
        page = classify_all(impulse, d, filename="wave.00", progress=False)
        (entry,) = page["result"]
        assert not entry["sample"]["processingError"]
        assert page["predictions"][0]["prediction"] == "idle"     # now holds SDK window 11
    # a folder path works too, with its default index in the user's cache folder, never in
    # the dataset folder (tests/conftest.py points XDG_CACHE_HOME at a temporary folder)
    from edgert.dataset.index import default_index_path
    page = classify_all(impulse, str(folder), labels=["snake"], progress=False)
    assert page["totalCount"] == 3 and default_index_path(folder).exists()
    assert not [p for p in folder.rglob("*") if "sqlite" in p.name]


def test_anomaly_bucket(impulse, ds):
    page = classify_all(impulse, ds, category="anomaly", progress=False)
    (entry,) = page["result"]
    assert entry["sample"]["category"] == "testing"     # Studio has no 'anomaly' category
    assert entry["sample"]["label"] == "anomaly"
    (p,) = page["predictions"]
    assert p["expectedAnomalyOutcome"] == "anomaly"
    # SDK window 27: anomaly 0.031 (under 0.3), top label updown 0.879 -> not detected
    assert p["prediction"] == "updown" and p["predictionCorrect"] is False
    others = classify_all(impulse, ds, labels=["wave"], progress=False)["predictions"]
    assert {q["expectedAnomalyOutcome"] for q in others} == {"no anomaly"}


def test_progress_callback(impulse, ds):
    fresh = Dataset(ds.root, hmac_key=KEY, index_path=":memory:")
    calls = []
    classify_all(impulse, fresh, labels=["idle"], progress=lambda d, t: calls.append((d, t)))
    fresh.close()
    assert calls == [(i, 5) for i in range(1, 6)]    # 5 readable idle testing samples


def test_another_bundle_has_its_own_cache_entries(impulse, ds, full):
    from edgeimpulse_api.models.classify_job_response_page import ClassifyJobResponsePage
    other = Impulse.load(HERE / "data" / "motion-demo-2020-v1")     # float32 model, v1 DSP
    page = classify_all(other, ds, variant="float32", progress=False)
    assert_declared(ClassifyJobResponsePage, page)
    m = page["modelValidationMetrics"][0]
    assert m["type"] == "float32" and m["windowCount"] == 64
    ours = [c["result"] for r in full["result"] for c in r["classifications"]]
    theirs = [c["result"] for r in page["result"] for c in r["classifications"]]
    assert ours != theirs                     # not served from the other bundle's cache
    counting = CountingImpulse(impulse)
    again = classify_all(counting, ds, progress=False)
    assert counting.calls == 0 and again["predictions"] == full["predictions"]


def test_variant_and_ignored_parameters_through_the_client(client):
    page = client.get_classify_job_result_page(43, variant="int8", impulse_id=1,
                                               truncate_structured_labels=True, limit=2)
    assert page.total_count == 16 and len(page.result) == 2
    with pytest.raises(Exception, match="no float32 model"):
        client.get_classify_job_result_page(43, variant="float32")


def _small_dataset(folder: Path, intervals: dict) -> None:
    """Unsigned 3-axis documents in testing/, one per name, with the given interval."""
    from edgert.acquisition import DataAcquisition, Sensor, encode_json
    ref = json.loads((BUNDLE / "ei-sdk-reference.json").read_text())["windows"]
    raw = np.asarray(ref[0]["raw"], np.float64).reshape(125, 3)
    (folder / "testing").mkdir(parents=True)
    for i, (name, interval) in enumerate(intervals.items()):    # distinct contents
        doc = DataAcquisition(device_name="t", device_type="TEST", interval_ms=interval,
                              sensors=[Sensor(a, "m/s2") for a in ("accX", "accY", "accZ")],
                              values=np.tile(raw, (2, 1)) + 0.01 * i, alg="none",
                              iat=1763700000)
        (folder / "testing" / f"{name}.json").write_bytes(encode_json(doc, None))


def test_an_absurd_frequency_is_that_sample_s_error_only(tmp_path, impulse):
    """A document whose interval makes resampling impossible (1e300 ms: a 1e-297 Hz recording)
    is an error entry with a clear reason; the other samples are classified."""
    _small_dataset(tmp_path / "d", {"wave.a": 16.0, "wave.b": 1e300, "wave.c": 1e-9})
    page = classify_all(impulse, tmp_path / "d", progress=False, threads=2)
    by_name = {r["sample"]["filename"]: r for r in page["result"]}
    assert not by_name["wave.a"]["sample"]["processingError"]
    assert len(by_name["wave.a"]["classifications"]) == 2
    for bad in ("wave.b", "wave.c"):
        assert by_name[bad]["sample"]["processingError"]
        assert "resample" in by_name[bad]["sample"]["processingErrorString"]
    assert {p["sampleId"] for p in page["predictions"]} == {by_name["wave.a"]["sampleId"]}


def test_an_unexpected_failure_stays_with_its_sample_and_is_not_cached(tmp_path, impulse):
    """Whatever goes wrong classifying one sample (here a RuntimeError from the impulse) makes
    that sample an error entry; the others are classified, and the failure is not cached."""
    _small_dataset(tmp_path / "d", {"wave.a": 16.0, "wave.b": 16.5, "wave.c": 17.0})

    class Flaky(CountingImpulse):
        def classify(self, values, frequency=None, **kw):
            if frequency is not None and abs(frequency - 1000 / 16.5) < 1e-6:
                raise RuntimeError("boom")
            return super().classify(values, frequency=frequency, **kw)

    flaky = Flaky(impulse)
    with Dataset(tmp_path / "d") as d:
        page = classify_all(flaky, d, progress=False, threads=2)
        errs = {r["sample"]["filename"]: r["sample"].get("processingErrorString")
                for r in page["result"] if r["sample"]["processingError"]}
        assert list(errs) == ["wave.b"] and "RuntimeError: boom" in errs["wave.b"]
        ids = {r["sample"]["filename"]: r["sampleId"] for r in page["result"]}
        assert {p["sampleId"] for p in page["predictions"]} == {ids["wave.a"], ids["wave.c"]}
        again = classify_all(CountingImpulse(impulse), d, progress=False)
        assert not any(r["sample"]["processingError"] for r in again["result"])


def test_cache_clear_makes_the_next_run_classify_again(tmp_path, impulse):
    _small_dataset(tmp_path / "d", {"wave.a": 16.0, "wave.b": 16.0})
    with Dataset(tmp_path / "d") as d:
        classify_all(impulse, d, progress=False)
        counting = CountingImpulse(impulse)
        classify_all(counting, d, progress=False)
        assert counting.calls == 0                       # all from the cache
        d.cache_clear()
        classify_all(counting, d, progress=False)
        assert counting.calls == 2

"""The daemon's Studio-compatible subset driven by the official ``edgeimpulse-api`` client over
real HTTP on 127.0.0.1: ClassifyApi, JobsApi, LearnApi and RawDataApi calls parse and return
what edgert computes (the impulse, classify-all and the dataset called directly), and every
response holds against the client's declared required fields. The samples reach the daemon
the way devices send them: through its ingestion endpoints."""
from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from edgert.dataset import SampleFilter
from edgert.dataset.classify_all import classify_all
from edgert.recording import load_recording
from edgert.runtime.impulse import Impulse

from .daemon_helpers import API_KEY, BUNDLE, DATASET, running_daemon, upload
from .test_classify_all_schema import assert_declared, threshold_value_fix  # noqa: F401

UPLOADS = {
    "testing": ["idle.01.json", "idle.02.cbor", "updown.06.cbor", "idle.long.json",
                "idle.short.json", "idle.fast.json", "snake.07.json", "updown.16.json",
                "wave.00.json", "wave.11.json"],
    "training": ["idle.14.json", "idle.15.json", "wave.long.json"],
    "anomaly": ["anomaly.27.json"],
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("studio")
    with running_daemon(tmp, limits={"classify_sync_max_ms": 3000.0}) as d:
        for category, names in UPLOADS.items():
            for r in upload(d, *[DATASET / category / n for n in names], category=category):
                assert r.status_code == 200, r.text
        yield d


@pytest.fixture(scope="module")
def impulse():
    return Impulse.load(BUNDLE)


@pytest.fixture
def api(daemon, threshold_value_fix):
    """threshold_value_fix: the documented BlockThresholdValue.from_json bug of the client."""
    from edgeimpulse_api import ApiClient, Configuration
    cfg = Configuration(host=f"{daemon.url}/v1")
    cfg.api_key["ApiKeyAuthentication"] = API_KEY
    return ApiClient(cfg)


def _raw(daemon, method: str, path: str, **kw) -> dict:
    r = daemon.client.request(method, path, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def _row(daemon, name: str):
    rows = [r for r in daemon.gw.dataset.query(SampleFilter(category="all"))
            if r.path.endswith("/" + name)]
    assert len(rows) == 1, name
    return rows[0]


# --- RawDataApi ---------------------------------------------------------------------------------

def test_list_samples_through_the_client(daemon, api):
    from edgeimpulse_api import RawDataApi
    from edgeimpulse_api.models.list_samples_response import ListSamplesResponse
    raw = RawDataApi(api)
    page = raw.list_samples(43, category="testing")
    expected = daemon.gw.dataset.query(SampleFilter(category="testing"))
    assert page.success is True and page.total_count == len(UPLOADS["testing"])
    assert [s.id for s in page.samples] == [r.id for r in reversed(expected)]  # id-desc
    assert {s.filename for s in page.samples} == {n.rsplit(".", 1)[0]
                                                  for n in UPLOADS["testing"]}
    first = page.samples[-1]
    assert (first.label, first.interval_ms, first.frequency) == ("idle", 16.0, 62.5)
    assert [s.name for s in first.sensors] == ["accX", "accY", "accZ"]
    assert_declared(ListSamplesResponse, _raw(daemon, "GET", "/v1/api/43/raw-data",
                                              params={"category": "testing"}))
    # filters and paging, as the page's filters
    waves = raw.list_samples(43, category="testing", labels='["wave"]')
    assert sorted(s.filename for s in waves.samples) == ["wave.00", "wave.11"]
    two = raw.list_samples(43, category="testing", limit=2, offset=1, sort_by="id-asc")
    assert [s.id for s in two.samples] == [r.id for r in expected[1:3]]
    assert raw.list_samples(43, category="all").total_count == sum(map(len,
                                                                       UPLOADS.values()))
    signed = raw.list_samples(43, category="testing", signature_validity="invalid")
    assert {s.filename for s in signed.samples} == {"idle.02", "updown.06"}


def test_get_sample_through_the_client(daemon, api):
    from edgeimpulse_api import RawDataApi
    from edgeimpulse_api.models.get_sample_response import GetSampleResponse
    row = _row(daemon, "idle.long.json")
    got = RawDataApi(api).get_sample(43, row.id)
    source = json.loads((DATASET / "testing" / "idle.long.json").read_bytes())["payload"]
    assert got.sample.id == row.id and got.sample.filename == "idle.long"
    assert got.sample.signature_validate is True and got.sample.sha256_hash == row.sha256
    assert got.payload.values == source["values"]  # the device's numbers, exactly
    assert got.total_payload_length == len(source["values"])
    assert [s.name for s in got.payload.sensors] == [s["name"] for s in source["sensors"]]
    short = RawDataApi(api).get_sample(43, row.id, limit_payload_values=5)
    assert short.payload.values == source["values"][:5]
    assert_declared(GetSampleResponse, _raw(daemon, "GET", f"/v1/api/43/raw-data/{row.id}"))


# --- ClassifyApi ---------------------------------------------------------------------------------

def test_classify_sample_v2_returns_what_the_impulse_computes(daemon, api, impulse):
    from edgeimpulse_api import ClassifyApi
    from edgeimpulse_api.models.classify_sample_response import ClassifySampleResponse
    row = _row(daemon, "updown.16.json")
    got = ClassifyApi(api).classify_sample_v2(43, row.id).actual_instance
    assert type(got).__name__ == "ClassifySampleResponse"
    direct = impulse.classify(load_recording(DATASET / "testing" / "updown.16.json"))
    keras, anomaly = got.classifications
    assert keras.learn_block.id == 3 and anomaly.learn_block.type == "anomaly"
    probs = [[w[k] for k in impulse.labels] for w in keras.result]
    np.testing.assert_array_equal(np.asarray(probs, dtype=np.float32), direct.probabilities)
    assert [w["anomaly"] for w in anomaly.result] == direct.anomaly.astype(float).tolist()
    assert got.sample.sample.id == row.id and got.sample.sample.label == "updown"
    assert got.window_size_ms == 2000 and got.window_increase_ms == 80
    assert got.already_in_database is False
    assert keras.expected_labels[0].label == "updown"
    assert_declared(ClassifySampleResponse,
                    _raw(daemon, "POST", f"/v1/api/43/classify/v2/{row.id}"))


def test_long_sample_answers_with_a_job_until_the_result_is_there(daemon, api, impulse):
    """idle.long is 6000 ms, over this daemon's classify_sync_max_ms (3000): a job first."""
    from edgeimpulse_api import ClassifyApi, JobsApi
    from edgeimpulse_api.models.start_job_response import StartJobResponse
    row = _row(daemon, "idle.long.json")
    first = _raw(daemon, "POST", f"/v1/api/43/classify/v2/{row.id}")
    assert set(first) == {"success", "id"} and first["success"] is True
    assert_declared(StartJobResponse, first)
    jobs = JobsApi(api)
    deadline = time.monotonic() + 30
    while True:
        job = jobs.get_job_status(43, first["id"]).job
        if job.finished is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert job.finished_successful is True and job.category_key == "classify-sample"
    got = ClassifyApi(api).classify_sample_v2(43, row.id).actual_instance
    assert got.classifications and got.already_in_database is True
    direct = impulse.classify(load_recording(DATASET / "testing" / "idle.long.json"))
    probs = [[w[k] for k in impulse.labels] for w in got.classifications[0].result]
    np.testing.assert_array_equal(np.asarray(probs, dtype=np.float32), direct.probabilities)
    assert len(got.classifications[0].result) == len(direct) == 51


def test_classify_all_job_and_result_page(daemon, api, impulse):
    from edgeimpulse_api import ClassifyApi, JobsApi
    from edgeimpulse_api.models.classify_job_response_page import ClassifyJobResponsePage
    from edgeimpulse_api.models.get_job_response import GetJobResponse
    from edgeimpulse_api.models.start_classify_job_request import StartClassifyJobRequest
    jobs = JobsApi(api)
    started = jobs.start_classify_job(43, StartClassifyJobRequest())
    assert started.success is True and isinstance(started.id, int)
    deadline = time.monotonic() + 60
    while True:
        status = jobs.get_job_status(43, started.id)
        if status.job.finished is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status.job.finished_successful is True and status.job.category_key == "classify"
    assert status.job.metadata["category"] == "testing"
    assert_declared(GetJobResponse, _raw(daemon, "GET", f"/v1/api/43/jobs/{started.id}/status"))
    page = ClassifyApi(api).get_classify_job_result_page(43)
    direct = classify_all(impulse, daemon.gw.dataset, progress=False)
    assert page.total_count == direct["totalCount"] == len(UPLOADS["testing"])
    assert [r.sample_id for r in page.result] == [r["sampleId"] for r in direct["result"]]
    assert [(p.sample_id, p.start_ms, p.prediction, p.prediction_correct)
            for p in page.predictions] == [
        (p["sampleId"], p["startMs"], p["prediction"], p["predictionCorrect"])
        for p in direct["predictions"]]
    assert [p.anomaly_scores for p in page.predictions] == [p["anomalyScores"]
                                                            for p in direct["predictions"]]
    assert_declared(ClassifyJobResponsePage,
                    _raw(daemon, "GET", "/v1/api/43/classify/all/result/page"))
    # filters through the client's own query serialisation
    idle = ClassifyApi(api).get_classify_job_result_page(43, labels='["idle"]', limit=2)
    assert idle.total_count == 5 and len(idle.result) == 2
    assert all(r.sample.label == "idle" for r in idle.result)
    long_ = ClassifyApi(api).get_classify_job_result_page(43, min_length=2000,
                                                          category="training")
    assert {r.sample.filename for r in long_.result} == {"wave.long"}
    anomaly = ClassifyApi(api).get_classify_job_result_page(43, category="anomaly")
    assert [r.sample.filename for r in anomaly.result] == ["anomaly.27"]


@pytest.mark.parametrize("body, status, expected", [
    ({"modelVariants": ["float32"]}, 400, "no float32 model"),
    ({"modelVariants": ["int8", "fp16"]}, 400, "unknown model variant 'fp16'"),
    ({"modelVariants": ["int8"]}, 200, ["int8"]),
    ({"modelVariants": []}, 200, ["int8"]),  # none named: the bundle's default (its only)
    ({}, 200, ["int8"]),
])
def test_classify_job_model_variants(daemon, body, status, expected):
    """modelVariants of StartClassifyJobRequest: each named variant checked against the
    bundle (this one has only int8), and the job records the variants it classifies with."""
    r = daemon.client.post("/v1/api/43/jobs/classify", json=body)
    assert r.status_code == status, r.text
    if status != 200:
        assert r.json()["success"] is False and expected in r.json()["error"], r.text
        return
    job_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        job = _raw(daemon, "GET", f"/v1/api/43/jobs/{job_id}/status")["job"]
        if "finished" in job or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert job["finishedSuccessful"] is True, job
    assert job["metadata"]["variants"] == expected


# --- LearnApi ---------------------------------------------------------------------------------

def test_anomaly_metadata_through_the_client(daemon, api):
    from edgeimpulse_api import LearnApi
    from edgeimpulse_api.models.anomaly_model_metadata_response import \
        AnomalyModelMetadataResponse
    md = json.loads((BUNDLE / "anomaly-4.json").read_text())
    got = LearnApi(api).get_anomaly_metadata(43, 4)
    assert got.success is True and got.axes == md["axes"] == [0, 11, 22]
    assert got.scale == md["scale"] and got.mean == md["mean"]
    assert [c.center for c in got.clusters] == [c["center"] for c in md["clusters"]]
    assert [c.max_error for c in got.clusters] == [c["maxError"] for c in md["clusters"]]
    assert got.thresholds[0].value.actual_instance == 0.3
    assert_declared(AnomalyModelMetadataResponse,
                    _raw(daemon, "GET", "/v1/api/43/training/anomaly/4/metadata"))


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, status, words", [
    ("GET", "/v1/api/44/raw-data?category=testing", 404, "serves project 43"),
    ("GET", "/v1/api/43/raw-data", 400, "category is required"),
    ("GET", "/v1/api/43/raw-data?category=nope", 400, "category"),
    ("GET", "/v1/api/43/raw-data?category=testing&sortBy=label", 400, "sortBy"),
    ("GET", "/v1/api/43/raw-data/99999", 404, "no sample with id 99999"),
    ("GET", "/v1/api/43/raw-data/abc", 400, "sampleId"),
    ("POST", "/v1/api/43/classify/v2/99999", 404, "no sample"),
    ("POST", "/v1/api/43/classify/v2/1?variant=float32", 400, "no float32 model"),
    ("POST", "/v1/api/43/classify/v2/1?impulseId=7", 404, "impulse 1"),
    ("GET", "/v1/api/43/jobs/99999/status", 404, "no job"),
    ("GET", "/v1/api/43/training/anomaly/99/metadata", 404, "3 (keras), 4 (anomaly)"),
    ("GET", "/v1/api/43/training/anomaly/3/metadata", 400, "keras block"),
    ("GET", "/v1/api/43/classify/all/result/page?signatureValidity=maybe", 400,
     "signature_validity"),
    ("GET", "/v1/api/43/classify/all/result/page?limit=x", 400, "limit"),
    ("DELETE", "/v1/api/43/raw-data/1", 405, "use GET"),
])
def test_errors_are_json_that_say_what_to_fix(daemon, method, path, status, words):
    r = daemon.client.request(method, path)
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["success"] is False and words in doc["error"], doc


def test_the_client_sees_403_with_the_seed_body(daemon, threshold_value_fix):
    from edgeimpulse_api import ApiClient, Configuration, RawDataApi
    from edgeimpulse_api.exceptions import ApiException
    cfg = Configuration(host=f"{daemon.url}/v1")
    cfg.api_key["ApiKeyAuthentication"] = "ei_wrong"
    with pytest.raises(ApiException) as exc:
        RawDataApi(ApiClient(cfg)).list_samples(43, category="testing")
    assert exc.value.status == 403
    assert json.loads(exc.value.body) == {
        "success": False,
        "error": "no access to current endpoint, make sure you are using correct API key"}
    r = httpx.get(f"{daemon.url}/v1/api/43/raw-data?category=testing")  # no key at all
    assert r.status_code == 403 and r.json()["success"] is False


def test_sample_values_of_a_csv_are_its_float32_values_in_shortest_form():
    """A sample that is not a data-acquisition document (a CSV) has no numbers of its own to
    answer with: its float32 values, as the shortest decimals naming them (0.1, not
    0.10000000149011612)."""
    from edgert.daemon.studio import _values
    from edgert.recording import Recording, SensorAxis
    rec = Recording(np.array([[0.1, 2.5], [1e-3, -7.0], [3.3, 1e20]], np.float32), 62.5,
                    (SensorAxis("a"), SensorAxis("b")), "x.csv")
    csv = b"timestamp,a,b\n0,0.1,2.5\n16,0.001,-7\n32,3.3,1e20\n"
    assert _values(csv, rec, None) == [[0.1, 2.5], [0.001, -7.0], [3.3, 1e20]]
    assert _values(csv, rec, 2) == [[0.1, 2.5], [0.001, -7.0]]

"""Live classification on the daemon over real HTTP: sync and async results equal what the
impulse computes, async results survive a restart, anomaly events are queued, bad requests get
the documented status and a message that says what to fix, and nothing stored is lost.
Also /healthz, /metrics, the OpenAPI document and the ingestion endpoints' auth on the daemon."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from edgert.recording import load_recording
from edgert.runtime.impulse import Impulse

from .daemon_helpers import (API_KEY, BUNDLE, DATASET, recording_values, running_daemon,
                             upload, wait_for)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with running_daemon(tmp_path_factory.mktemp("live"),
                        limits={"max_classify_bytes": 200_000, "request_timeout": 1.0,
                                "body_timeout": 3.0}) as d:
        yield d


@pytest.fixture(scope="module")
def impulse():
    return Impulse.load(BUNDLE)


def _check_result(doc: dict, impulse, values, frequency=62.5):
    direct = impulse.classify(np.asarray(values, dtype=np.float32), frequency=frequency)
    assert doc["status"] == {"classify": "done"} and doc["error_code"] == 0
    assert doc["error_msg"] == ""
    assert len(doc["windows"]) == len(direct)
    probs = np.asarray([[w["scores"][k] for k in impulse.labels] for w in doc["windows"]],
                       dtype=np.float32)
    np.testing.assert_array_equal(probs, direct.probabilities)
    assert [w["anomaly"] for w in doc["windows"]] == direct.anomaly.astype(float).tolist()
    assert [w["label"] for w in doc["windows"]] == [str(p) for p in direct.predictions]
    assert [w["start_ms"] for w in doc["windows"]] == direct.start_ms.tolist()
    best = direct.probabilities.max(axis=0)
    assert [doc["scores"][k] for k in impulse.labels] == best.astype(float).tolist()
    assert doc["scores"]["anomaly"] == float(direct.anomaly.max())
    expected = [k for k in sorted(impulse.labels, key=lambda k: -best[impulse.labels.index(k)])
                if best[impulse.labels.index(k)] >= 0.6]
    if direct.anomaly.max() > 0.3:
        expected.append("anomaly")
    assert doc["labels"] == expected
    return direct


def test_sync_short_form(daemon, impulse):
    values = recording_values("testing/idle.01.json")
    r = daemon.client.post("/api/classify?sync=true", json={
        "values": values, "interval_ms": 16, "device_id": "dev-7",
        "metadata": {"site": "A", "n": 3}})
    assert r.status_code == 200, r.text
    doc = r.json()
    _check_result(doc, impulse, values)
    assert len(doc["id"]) == 24 and doc["device_id"] == "dev-7"
    assert doc["metadata"] == {"site": "A", "n": "3"}
    assert doc["model"] == "Demo: Continuous motion recognition" and doc["version"] == "38"
    assert doc["sample"]["values_count"] == 125 and doc["sample"]["interval_ms"] == 16.0
    assert [s["name"] for s in doc["sample"]["sensors"]] == ["accX", "accY", "accZ"]
    assert doc["created_at"] and doc["started_at"] and doc["anomaly_events"] == []
    # kept: the same object from GET /api/result/{id}
    assert daemon.client.get(f"/api/result/{doc['id']}").json() == doc


@pytest.mark.parametrize("name, ctype", [("testing/wave.00.json", "application/json"),
                                         ("testing/updown.06.cbor", "application/cbor")])
def test_sync_data_acquisition_documents(daemon, impulse, name, ctype):
    body = (DATASET / name).read_bytes()
    r = daemon.client.post("/api/classify", content=body, headers={"content-type": ctype,
                                                                   "x-metadata": '{"k":"v"}'})
    assert r.status_code == 200, r.text
    doc = r.json()
    rec = load_recording(DATASET / name)
    _check_result(doc, impulse, rec.values)
    assert doc["device_id"] == (rec.device_name or "") and doc["metadata"] == {"k": "v"}
    assert doc["sample"]["filesize"] == len(body)


def test_async_result_equals_the_sync_one(daemon, impulse):
    values = recording_values("testing/snake.07.json")
    r = daemon.client.post("/api/classify?sync=false", json={"values": values,
                                                              "interval_ms": 16})
    assert r.status_code == 202, r.text
    acc = r.json()
    assert set(acc) == {"id", "accepted_at"} and len(acc["id"]) == 24
    assert wait_for(lambda: daemon.client.get(f"/api/result/{acc['id']}").json()["status"]
                    == {"classify": "done"}, 10)
    doc = daemon.client.get(f"/api/result/{acc['id']}").json()
    _check_result(doc, impulse, values)
    assert doc["id"] == acc["id"] and doc["created_at"] == acc["accepted_at"]


def test_anomalous_windows_become_events_in_the_outbox(daemon, impulse):
    rec = load_recording(DATASET / "testing" / "idle.long.json")
    before = daemon.client.get("/api/outbox").json()["depth"]
    r = daemon.client.post("/api/classify", content=(DATASET / "testing" /
                                                     "idle.long.json").read_bytes(),
                           headers={"content-type": "application/json"})
    doc = r.json()
    direct = _check_result(doc, impulse, rec.values)
    flags = direct.anomalous.tolist()
    runs = sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1]))
    assert runs >= 2 and len(doc["anomaly_events"]) == runs
    for ev in doc["anomaly_events"]:
        assert ev["outbox_id"] > 0 and ev["windows"] >= 1 and ev["label"] in impulse.labels
    st = daemon.client.get("/api/outbox").json()
    assert st["depth"] == before + runs and st["upstream"] is None


BAD = [
    (b'{"values": [[1, 2, 3]], "interval_ms": ', "application/json", 400, "not valid JSON"),
    (b'{"values": [[1, 2, 3], [1, 2]], "interval_ms": 16}', "application/json", 400,
     "every row"),
    (b'{"values": [["a", 2, 3]], "interval_ms": 16}', "application/json", 400, "numbers"),
    (b'{"values": [[1, 2, 3]]}', "application/json", 400, "interval_ms"),
    (b'{"values": [[1, 2, 3]], "interval_ms": -5}', "application/json", 400, "positive"),
    (b'{"values": [[1, 2]], "interval_ms": 16}', "application/json", 400, "accX, accY, accZ"),
    (b'{"values": [[1, 2, 3]], "interval_ms": 16, "colour": 1}', "application/json", 400,
     "unknown field"),
    (b'{"values": [[1, 2, 3]], "interval_ms": 16, "sensors": ["gyrX", "gyrY", "gyrZ"]}',
     "application/json", 400, "gyrX"),
    (b'{"values": [[1, 2, 3]], "interval_ms": 16, "metadata": [1]}', "application/json",
     400, "metadata"),
    (b'[1, 2, 3]', "application/json", 400, "data-acquisition document"),
    (b'{"protected": {"ver": "v1"}, "payload": {}}', "application/json", 400,
     "data-acquisition document"),
    (b"\xff\xfe\x00garbage", "application/cbor", 400, "data-acquisition document"),
    (b"", "application/json", 400, "empty body"),
    (b"timestamp,accX\n0,1\n", "text/csv", 415, "application/json"),
    (b'{"values": [[1e39, 2, 3]], "interval_ms": 16}', "application/json", 400,
     "values[0][0] is 1e+39"),
]


@pytest.mark.parametrize("body, ctype, status, words", BAD)
def test_bad_requests_get_a_message_and_nothing_breaks(daemon, body, ctype, status, words):
    ok = daemon.client.post("/api/classify", json={"values": recording_values(),
                                                   "interval_ms": 16}).json()
    for sync in ("true", "false"):
        r = daemon.client.post(f"/api/classify?sync={sync}", content=body,
                               headers={"content-type": ctype})
        assert r.status_code == status, (sync, r.text)
        doc = r.json()
        assert doc["success"] is False and words in doc["error"], doc
    assert daemon.client.get(f"/api/result/{ok['id']}").json() == ok


def test_limits_timeouts_and_unknown_ids(daemon):
    c = daemon.client
    big = json.dumps({"values": [[0.5, 0.25, 1.0]] * 20000, "interval_ms": 16}).encode()
    assert len(big) > 200_000
    r = c.post("/api/classify", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "max_classify_bytes" in r.json()["error"]

    def chunks():
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]
    r = c.post("/api/classify", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "200000" in r.json()["error"]
    assert c.post("/api/classify?sync=maybe", json={}).status_code == 400
    r = c.get("/api/result/6b13c4461035d04599179650")
    assert r.status_code == 404 and "no result with id" in r.json()["error"]
    # a client that stops sending its body: 408 after the read timeout (1 s)
    port = int(daemon.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /api/classify HTTP/1.1\r\nHost: x\r\nx-api-key: " + API_KEY.encode()
                  + b"\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{")
        s.settimeout(5)
        t0 = time.monotonic()
        reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 408 ") and 0.8 < time.monotonic() - t0 < 3.5
        assert b"within 1 s of silence" in reply


@pytest.mark.parametrize("path, method", [("/api/classify", "POST"), ("/api/result/x", "GET"),
                                          ("/api/outbox", "GET"), ("/healthz", "GET"),
                                          ("/metrics", "GET"), ("/openapi.json", "GET"),
                                          ("/nowhere", "GET")])
def test_every_endpoint_needs_the_key(daemon, path, method):
    for headers in ({}, {"x-api-key": "ei_wrong"}, {"x-api-key": API_KEY[:-1]}):
        r = httpx.request(method, daemon.url + path, headers=headers, json={})
        assert r.status_code == 403 and r.json() == {
            "success": False,
            "error": "no access to current endpoint, make sure you are using correct API key"}


def test_ingestion_on_the_daemon_answers_like_upstream(daemon):
    f = DATASET / "testing" / "wave.11.json"
    r = upload(daemon, f, key="ei_wrong")[0]
    assert (r.status_code, r.text) == (401, "Invalid API key")
    r = httpx.post(daemon.url + "/api/testing/data", content=f.read_bytes(),
                   headers={"x-file-name": "a.json", "content-type": "application/json"})
    assert (r.status_code, r.text) == (401, "Missing x-api-key header")
    r = httpx.post(daemon.url + "/api/testing/data", content=f.read_bytes(),
                   headers={"x-api-key": API_KEY, "content-type": "application/json"})
    assert r.status_code == 421
    assert upload(daemon, f)[0].status_code == 200
    dup = upload(daemon, f, **{"x-disallow-duplicates": "1"})[0]
    assert dup.status_code == 400 and dup.text.startswith("duplicate")
    bad = httpx.post(daemon.url + "/api/testing/data", content=b"{nope", headers={
        "x-api-key": API_KEY, "x-file-name": "b.json", "content-type": "application/json"})
    assert bad.status_code == 400 and bad.text.startswith("Invalid message")
    rows = daemon.client.get("/v1/api/43/raw-data", params={"category": "testing"}).json()
    assert [s["filename"] for s in rows["samples"]].count("wave.11") == 1
    # a huge upload is refused from its headers, before any of it is read; nothing changes
    port = int(daemon.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /api/testing/data HTTP/1.1\r\nHost: x\r\nx-api-key: "
                  + API_KEY.encode() + b"\r\nx-file-name: big.json\r\ncontent-type: "
                  b"application/json\r\ncontent-length: 1000000000000\r\n\r\n")
        s.settimeout(5)
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413 ") and b"exceeds the limit" in reply
    again = daemon.client.get("/v1/api/43/raw-data", params={"category": "testing"}).json()
    assert again["totalCount"] == rows["totalCount"]


def test_healthz_metrics_and_openapi(daemon):
    c = daemon.client
    h = c.get("/healthz").json()
    assert h["success"] is True and h["status"] == "ok" and h["project"] == 43
    c.post("/api/classify", json={"values": recording_values(), "interval_ms": 16})
    text = c.get("/metrics").text
    lines = {ln.split(" ")[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
             if ln and not ln.startswith("#")}
    ok = 'edgert_http_requests_total{method="POST",route="/api/classify",status="200"}'
    assert lines[ok] >= 1
    assert lines['edgert_classify_duration_seconds_count{source="live"}'] >= lines[ok]
    assert "edgert_outbox_depth" in lines and "edgert_webhook_pending" in lines
    assert "edgert_connections_active" in lines
    # the document lists exactly the application's routes, and is the published one
    from edgert.daemon.openapi import document, route_table
    doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.") and doc["info"]["x-edgert-project"]["id"] == 43
    app_routes = set()
    from starlette.routing import Route
    app = daemon.server.app.app.app  # the Starlette app, inside the access log and key gate
    for rt in app.routes:
        assert isinstance(rt, Route)
        for m in sorted(rt.methods or {"POST"}):
            if m != "HEAD":
                app_routes.add((m, rt.path))
    assert set(route_table(doc)) == app_routes
    published = json.loads((ROOT / "docs" / "daemon-openapi.json").read_text())
    assert published == document(), ("docs/daemon-openapi.json is out of date: regenerate "
                                     "it with python -c 'import json; from edgert.daemon."
                                     "openapi import document; print(json.dumps(document(), "
                                     "indent=1))' > docs/daemon-openapi.json")


def test_async_requests_survive_a_restart(tmp_path, impulse):
    """Accepted but not classified when the daemon stops: classified after the restart;
    finished results are still there."""
    values = recording_values("testing/wave.00.json")
    body = json.dumps({"values": values, "interval_ms": 16}).encode()
    with running_daemon(tmp_path) as d:
        done = d.client.post("/api/classify", content=body,
                             headers={"content-type": "application/json"}).json()
        # accepted and stored the way POST ?sync=false does, but never handed to a worker
        waiting = [d.gw.live.accept(body, "application/json", None)[0] for _ in range(3)]
        for rid in waiting:
            assert d.client.get(f"/api/result/{rid}").json()["status"] == {
                "classify": "accepted"}
    with running_daemon(tmp_path) as d:
        assert d.client.get(f"/api/result/{done['id']}").json() == done
        assert wait_for(lambda: all(
            d.client.get(f"/api/result/{rid}").json()["status"] == {"classify": "done"}
            for rid in waiting), 10)
        for rid in waiting:
            _check_result(d.client.get(f"/api/result/{rid}").json(), impulse, values)


def test_cbor_document_with_a_bad_signature_is_still_classified(daemon, impulse):
    """Live classification classifies what it is given (idle.02 is signed with another key);
    the signature is the ingestion endpoints' business (stored marked invalid there)."""
    r = daemon.client.post("/api/classify", content=(DATASET / "testing" /
                                                     "idle.02.cbor").read_bytes(),
                           headers={"content-type": "application/cbor"})
    assert r.status_code == 200
    _check_result(r.json(), impulse,
                  load_recording(DATASET / "testing" / "idle.02.cbor").values)


def test_daemon_logs_escape_network_bytes_and_hold_no_keys(daemon, caplog):
    """The daemon's access log and errors: control bytes from the network escaped, no API
    key, HMAC key or signature in any line (also for malformed request lines)."""
    import logging
    port = int(daemon.url.rsplit(":", 1)[1])
    body = (DATASET / "testing" / "wave.11.json").read_bytes()
    signature = json.loads(body)["signature"]
    with caplog.at_level(logging.DEBUG):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /x\x1b[2J\x00 HTTP/1.1 " + API_KEY.encode() + b"\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 400 ")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /healthz%0a%1b[31mFAKE HTTP/1.1\r\nHost: x\r\nx-api-key: "
                      + API_KEY.encode() + b"\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 404 ")
        daemon.client.post("/api/classify", content=body,
                           headers={"content-type": "application/json"})
        httpx.post(daemon.url + "/api/classify", content=body,
                   headers={"x-api-key": "ei_wrong_key_987"})
        upload(daemon, DATASET / "testing" / "wave.11.json", **{"x-label": "a\x7fb"})
    texts = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in
                                                         caplog.records]
    assert any("healthz" in t for t in texts)
    for t in texts:
        assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in t.replace("\n", "")), t
        for secret in (API_KEY, "ei_wrong_key_987", "dataset-test-hmac-key", signature):
            assert secret not in t, t

"""Store-and-forward end to end: the daemon (a real process) finds anomaly events in samples
devices upload and in live requests, and forwards them to an upstream ingestion server that is
down for a while, then back but slow; the daemon is killed with SIGKILL mid-queue and
restarted. Every event arrives upstream exactly once, validly signed, with its label and the
raw values of its windows."""
from __future__ import annotations

import collections
import hashlib
import hmac
import json
import re
import signal

import httpx
import numpy as np

from edgert.recording import load_recording
from edgert.runtime.impulse import Impulse

from .daemon_helpers import (API_KEY, BUNDLE, DATASET, DATASET_KEY, start_daemon_process,
                             stop_process, wait_for, write_config)
from .ingest_helpers import running_server

UPSTREAM_KEY = "ei_upstream_key_42"
INGESTED = ["testing/idle.long.json", "testing/updown.16.json"]
LIVE_SYNC = ["training/idle.long.json"]
LIVE_ASYNC = ["training/wave.long.json"]


def _expected_events(impulse):
    """(source, rows of values, label) of every anomaly event, from edgert's classification
    and the source documents' own numbers."""
    out = []
    for name in INGESTED + LIVE_SYNC + LIVE_ASYNC:
        rec = load_recording(DATASET / name)
        values = np.asarray(json.loads((DATASET / name).read_bytes())["payload"]["values"],
                            dtype=np.float64)
        res = impulse.classify(rec)
        flags = res.anomalous.tolist()
        i = 0
        while i < len(flags):
            if not flags[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(flags) and flags[j + 1]:
                j += 1
            r0 = int(np.floor(res.start_ms[i] * 62.5 / 1000 + 1e-9))
            r1 = min(len(values), int(np.ceil(res.end_ms[j] * 62.5 / 1000 - 1e-9)))
            top = collections.Counter(np.argmax(res.probabilities[i:j + 1], axis=1).tolist())
            best = max(top.values())
            cands = [k for k, v in top.items() if v == best]
            sums = res.probabilities[i:j + 1].sum(axis=0)
            label = impulse.labels[max(cands, key=lambda k: (sums[k], -k))]
            out.append((name, values[r0:r1], label))
            i = j + 1
    return out


def _valid_hs256(body: bytes, key: str) -> bool:
    """ingestion.md's verification, written out: the signature overwritten with 64 '0',
    HMAC-SHA256 with the key's UTF-8 bytes, compared in constant time."""
    m = re.search(rb'"signature":"([0-9a-f]{64})"', body)
    if m is None:
        return False
    zeroed = body[:m.start(1)] + b"0" * 64 + body[m.end(1):]
    return hmac.compare_digest(hmac.new(key.encode(), zeroed, hashlib.sha256).hexdigest()
                               .encode(), m.group(1))


def _post(url: str, path: str, name: str, **headers: str) -> httpx.Response:
    h = {"x-api-key": API_KEY, "content-type": "application/json"}
    h.update(headers)
    return httpx.post(url + path, content=(DATASET / name).read_bytes(), headers=h,
                      timeout=30.0)


def test_every_anomaly_event_arrives_upstream_exactly_once(tmp_path):
    impulse = Impulse.load(BUNDLE)
    expected = _expected_events(impulse)
    assert len(expected) >= 6 and len({e[0] for e in expected}) == 4
    log = tmp_path / "daemon.log"
    with running_server(api_keys=UPSTREAM_KEY, hmac_key=DATASET_KEY) as upstream:
        upstream.stop()  # down: connections refused
        cfg = write_config(tmp_path / "daemon.toml", bundle=str(BUNDLE),
                           db=str(tmp_path / "gw.db"), port=0, api_key=API_KEY,
                           hmac_key=DATASET_KEY, upstream=upstream.url,
                           upstream_api_key=UPSTREAM_KEY,
                           limits={"outbox_retry_base_s": 0.05, "outbox_retry_cap_s": 0.3,
                                   "outbox_request_timeout_s": 2.0})
        proc, url = start_daemon_process(cfg, log_path=log)
        try:
            for name in INGESTED:
                r = _post(url, f"/api/{name.split('/')[0]}/data", name,
                          **{"x-file-name": name.split("/")[1]})
                assert r.status_code == 200, r.text
            for name in LIVE_SYNC:
                r = _post(url, "/api/classify?sync=true", name)
                assert r.status_code == 200 and r.json()["anomaly_events"], r.text
            for name in LIVE_ASYNC:
                r = _post(url, "/api/classify?sync=false", name)
                assert r.status_code == 202, r.text
                rid = r.json()["id"]
            client = httpx.Client(base_url=url, headers={"x-api-key": API_KEY})
            assert wait_for(lambda: client.get(f"/api/result/{rid}").json()["status"]
                            == {"classify": "done"}, 20)
            st = client.get("/api/outbox").json()
            assert st["depth"] == len(expected) and st["sent"] == 0, st
            assert wait_for(lambda: "refused" in (client.get("/api/outbox").json()
                                                  ["last_error"] or ""), 10)
            # upstream back, but slow: the daemon is killed while events are in flight
            upstream.faults.set_delay(after_store=0.4)
            upstream.start()
            assert wait_for(lambda: upstream.store.count() >= 2, 20)
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
            client.close()
            stored_at_kill = upstream.store.count()
            assert stored_at_kill < len(expected), "killed too late to test anything"
            upstream.faults.set_delay()
            proc, url = start_daemon_process(cfg, log_path=log)
            client = httpx.Client(base_url=url, headers={"x-api-key": API_KEY})
            assert wait_for(lambda: client.get("/api/outbox").json()["depth"] == 0, 30), \
                client.get("/api/outbox").json()
            st = client.get("/api/outbox").json()
            assert st["dead_lettered"] == 0 and st["sent"] >= len(expected) - stored_at_kill
            client.close()
        finally:
            code = stop_process(proc)
        assert code == 0, log.read_text()[-3000:]
        rows = upstream.store.list(limit=1000)
        bodies = [upstream.store.get(r["id"], with_body=True)["body"] for r in rows]
    # exactly once
    assert len(rows) == len(expected), [r["filename"] for r in rows]
    assert len({r["sha256"] for r in rows}) == len(rows)
    # validly signed (by the upstream's check and by ingestion.md's steps written out here)
    assert all(r["signature_valid"] and r["signature_method"] == "HS256" for r in rows)
    assert all(_valid_hs256(b, DATASET_KEY) for b in bodies)
    assert all(r["category"] == "anomaly" for r in rows)
    # each expected event is one stored document: its label and its windows' raw values
    unmatched = list(zip(rows, bodies))
    for source, values, label in expected:
        for k, (row, body) in enumerate(unmatched):
            doc = json.loads(body)
            got = np.asarray(doc["payload"]["values"], dtype=np.float64)
            if got.shape == values.shape and np.array_equal(got, values):
                assert row["label"] == label, (source, row["label"], label)
                assert doc["payload"]["interval_ms"] == 16
                assert [s["name"] for s in doc["payload"]["sensors"]] == ["accX", "accY",
                                                                         "accZ"]
                del unmatched[k]
                break
        else:
            raise AssertionError(f"no upstream document for an event of {source}")
    assert not unmatched
    text = log.read_text()
    assert API_KEY not in text and UPSTREAM_KEY not in text and DATASET_KEY not in text

"""Webhook delivery against real local receivers: one that fails first and succeeds later,
one that never answers (bounded attempts, nothing else stalls), one that is down while the
daemon restarts. Bodies are the result objects, signed with HMAC-SHA256 (checked here
independently of edgert)."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

from .daemon_helpers import (DATASET_KEY, Receiver, SilentReceiver, recording_values,
                             running_daemon, wait_for)

FAST = {"webhook_backoff_s": 0.05, "webhook_backoff_cap_s": 0.2, "webhook_max_attempts": 5,
        "webhook_timeout_s": 2.0}


def _signed_by(body: bytes, header: str, key: str = DATASET_KEY) -> bool:
    want = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, header)


def _classify(d, sync: bool = True, name: str = "testing/idle.01.json") -> dict:
    r = d.client.post(f"/api/classify?sync={'true' if sync else 'false'}",
                      json={"values": recording_values(name), "interval_ms": 16})
    assert r.status_code == (200 if sync else 202), r.text
    return r.json()


def test_receiver_that_fails_first_gets_every_result_once_signed(tmp_path):
    recv = Receiver(fail_first=2)
    try:
        with running_daemon(tmp_path, webhook=[recv.url], limits=FAST) as d:
            results = [_classify(d), _classify(d, name="testing/wave.00.json"),
                       _classify(d, sync=False)]
            ids = [r["id"] for r in results]
            assert wait_for(lambda: sum(1 for q in recv.requests if q is not None) >= 5, 15)
            assert wait_for(lambda: all(x["state"] == "sent"
                                        for x in d.gw.db.deliveries()), 10)
            got = {}
            for i, q in enumerate(recv.requests):
                assert _signed_by(q["body"], q["headers"]["x-edgert-signature"]), q["headers"]
                doc = json.loads(q["body"])
                assert q["headers"]["x-edgert-result-id"] == doc["id"]
                assert q["headers"]["content-type"] == "application/json"
                if i >= 2:  # the first two were answered 500
                    got.setdefault(doc["id"], []).append(q)
            assert sorted(got) == sorted(ids) and all(len(v) == 1 for v in got.values())
            for rid in ids:  # the body is the stored result object
                assert json.loads(got[rid][0]["body"]) == d.client.get(
                    f"/api/result/{rid}").json()
            retried = [q for q in recv.requests if q["headers"]["x-edgert-attempt"] != "1"]
            assert len(retried) == 2  # the two failed deliveries, sent again
            text = d.client.get("/metrics").text
            assert "edgert_webhook_failures_total 2.0" in text
            assert 'edgert_webhook_deliveries_total{outcome="delivered"} 3.0' in text
    finally:
        recv.close()


def test_a_receiver_that_never_answers_stalls_nothing(tmp_path):
    silent, good = SilentReceiver(), Receiver()
    limits = dict(FAST, webhook_timeout_s=0.3, webhook_max_attempts=3)
    try:
        with running_daemon(tmp_path, webhook=[silent.url, good.url], limits=limits) as d:
            t0 = time.monotonic()
            latencies = []
            ids = []
            for i in range(6):
                s = time.monotonic()
                ids.append(_classify(d)["id"])
                latencies.append(time.monotonic() - s)
            assert max(latencies) < 1.0, latencies  # classification is not held up
            # the good receiver has everything long before the silent one's retries end
            assert wait_for(lambda: len(good.requests) >= 6, 3.0)
            assert time.monotonic() - t0 < 3.0
            assert sorted(json.loads(q["body"])["id"] for q in good.requests) == sorted(ids)

            def silent_done():
                rows = [x for x in d.gw.db.deliveries() if x["url"] == silent.url]
                return len(rows) == 6 and all(x["state"] == "failed" for x in rows)
            # bounded: 6 results x 3 attempts x 0.3 s, one at a time for that URL
            assert wait_for(silent_done, 15)
            for x in d.gw.db.deliveries():
                if x["url"] == silent.url:
                    assert x["attempts"] == 3 and "no answer within 0.3 s" in x["last_error"]
                else:
                    assert x["state"] == "sent" and x["attempts"] == 1
            assert "edgert_webhook_failures_total 18.0" in d.client.get("/metrics").text
    finally:
        silent.close()
        good.close()


def test_deliveries_wait_for_a_receiver_across_a_restart(tmp_path):
    """The receiver is down while results are made (attempts fail, deliveries stay
    pending); the daemon restarts; once the receiver is up they arrive."""
    probe = Receiver()
    port = probe.server.port
    probe.close()  # the port is free: connection refused
    limits = dict(FAST, webhook_max_attempts=50, webhook_backoff_cap_s=0.3)
    with running_daemon(tmp_path, webhook=[f"http://127.0.0.1:{port}/hook"],
                        limits=limits) as d:
        ids = [_classify(d)["id"] for _ in range(3)]
        assert wait_for(lambda: all(x["attempts"] >= 1 for x in d.gw.db.deliveries()), 5)
        assert all(x["state"] == "pending" for x in d.gw.db.deliveries())
    late = Receiver(port=port)  # up again, on the URL the deliveries are for
    try:
        with running_daemon(tmp_path, webhook=[f"http://127.0.0.1:{port}/hook"],
                            limits=limits) as d:
            assert wait_for(lambda: len(late.requests) >= 3, 10)
            assert sorted(json.loads(q["body"])["id"] for q in late.requests) == sorted(ids)
            assert wait_for(lambda: all(x["state"] == "sent" for x in d.gw.db.deliveries()),
                            5)
    finally:
        late.close()

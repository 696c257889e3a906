"""Fault tests: the outbox against a real server on 127.0.0.1 that is down, slow, failing with
500 bursts, resetting connections (before and after storing), rate limiting with Retry-After -
and a ``kill -9`` of an uploading process. The invariant everywhere: every accepted sample is
stored on the server exactly once (counts and sha256 sets compared)."""
import collections
import signal
import subprocess
import time

import pytest

from edgert.ingestion import IngestionClient, Outbox, RetryPolicy

from .ingest_helpers import (API_KEY, FAST_RETRY, make_json, running_server, sha,
                             uploader_cmd, wait_for)


def exactly_once(srv, bodies):
    stored = srv.store.hashes()
    counts = collections.Counter(stored)
    assert max(counts.values(), default=0) == 1, "a sample was stored more than once"
    assert set(stored) == {sha(b) for b in bodies}
    assert len(stored) == len(bodies)


def fill(ob, n, start=0, category="anomaly"):
    bodies = [make_json(start + i) for i in range(n)]
    for i, b in enumerate(bodies):
        ob.enqueue(b, category, f"f.{start + i:03d}.json")
    return bodies


def make_outbox(tmp_path, url, timeout=2.0, **kw):
    kw.setdefault("retry", FAST_RETRY)
    return Outbox(str(tmp_path / "ob.db"), IngestionClient(url, API_KEY, timeout=timeout), **kw)


def test_server_down_then_back(tmp_path):
    with running_server() as srv:
        srv.stop()  # nothing listening on the port
        ob = make_outbox(tmp_path, srv.url).start()
        bodies = fill(ob, 10)
        assert wait_for(lambda: ob.status().retries >= 3, 5)
        st = ob.status()
        assert st.sent == 0 and st.depth == 10 and "refused" in st.last_error
        srv.start()  # same port
        assert ob.flush(10)
        exactly_once(srv, bodies)
        assert ob.status().dead_lettered == 0
        ob.close()


def test_server_resets_every_connection_while_down(tmp_path):
    with running_server() as srv:
        srv.faults.down = True
        ob = make_outbox(tmp_path, srv.url).start()
        bodies = fill(ob, 6)
        assert wait_for(lambda: srv.faults.counts["down"] >= 3, 5)
        assert srv.store.count() == 0
        srv.faults.down = False
        assert ob.flush(10)
        exactly_once(srv, bodies)
        ob.close()


def test_slow_server_client_timeout_then_retry(tmp_path):
    """The server stores, then stalls past the client's timeout: the 200 never arrives. The
    re-send carries x-disallow-duplicates, so the sample is still stored once."""
    with running_server() as srv:
        srv.faults.set_delay(after_store=1.0)
        ob = make_outbox(tmp_path, srv.url, timeout=0.3).start()
        bodies = fill(ob, 4)
        assert wait_for(lambda: srv.store.count() >= 2, 5)
        srv.faults.set_delay()
        assert ob.flush(10)
        exactly_once(srv, bodies)
        st = ob.status()
        assert st.duplicates >= 2 and st.sent == 4  # deliveries confirmed by "duplicate"
        ob.close()


def test_slow_before_handling(tmp_path):
    with running_server() as srv:
        srv.faults.set_delay(before=1.5)
        ob = make_outbox(tmp_path, srv.url, timeout=0.2).start()
        bodies = fill(ob, 3)
        assert wait_for(lambda: ob.status().retries >= 2, 5)
        assert srv.store.count() == 0
        srv.faults.set_delay()
        assert ob.flush(10)
        exactly_once(srv, bodies)
        ob.close()


def test_500_burst(tmp_path):
    with running_server() as srv:
        srv.faults.fail_next(15, 500)
        ob = make_outbox(tmp_path, srv.url).start()
        bodies = fill(ob, 8)
        assert ob.flush(15)
        exactly_once(srv, bodies)
        st = ob.status()
        assert st.retries == 15 and st.dead_lettered == 0
        ob.close()


@pytest.mark.parametrize("after_store, midway", [(False, False), (False, True), (True, False)])
def test_connection_resets_mid_request(tmp_path, after_store, midway):
    with running_server() as srv:
        srv.faults.reset_next(6, after_store=after_store, midway=midway)
        ob = make_outbox(tmp_path, srv.url).start()
        bodies = fill(ob, 8)
        assert ob.flush(15)
        exactly_once(srv, bodies)
        assert srv.faults.counts["reset"] == 6
        st = ob.status()
        assert st.retries == 6
        # a reset after storing loses the 200: that sample's next delivery is a "duplicate"
        # (a re-send may itself be reset again, so up to 6 resets hit >= 1 distinct samples)
        assert (1 <= st.duplicates <= 6) if after_store else st.duplicates == 0
        ob.close()


def test_429_retry_after_is_honoured(tmp_path):
    with running_server() as srv:
        srv.faults.fail_next(1, 429, retry_after="1")
        ob = make_outbox(tmp_path, srv.url, concurrency=1,
                         retry=RetryPolicy(base=0.01, cap=0.05)).start()
        t0 = time.monotonic()
        bodies = fill(ob, 3)
        assert ob.flush(10)
        elapsed = time.monotonic() - t0
        exactly_once(srv, bodies)
        assert 0.95 <= elapsed < 3.0  # the jittered backoff alone would be < 0.05 s
        ob.close()


def test_permanent_errors_go_to_dead_letter_while_others_flow(tmp_path):
    with running_server() as srv:
        ob = make_outbox(tmp_path, srv.url).start()
        good = fill(ob, 4)
        ob.enqueue(b'{"protected": {"ver": "v1"}}', "anomaly", "broken.json")
        srv.faults.fail_next(1, 401, message="Invalid API key")
        assert ob.flush(10)
        dead = ob.dead_letters()
        reasons = sorted(d.reason for d in dead)
        assert len(dead) == 2 and reasons[0] == "Invalid API key"
        assert reasons[1].startswith("Invalid message")
        assert srv.store.count() + 1 == len(good)  # the 401'd one of the good samples
        ob.requeue([d.id for d in dead if d.http_status == 401])
        assert ob.flush(10)
        exactly_once(srv, good)
        ob.close()


def test_kill_9_mid_batch_then_restart_delivers_everything_once(tmp_path):
    """A subprocess enqueues 40 samples (printing each one the outbox accepted) while its
    senders upload to a server that stalls after storing; it is SIGKILLed mid-batch. A new
    outbox on the same file then delivers every accepted sample exactly once."""
    n = 40
    with running_server() as srv:
        srv.faults.set_delay(after_store=0.15)
        db = str(tmp_path / "crash.db")
        cmd, cwd, env = uploader_cmd(db, srv.url, n)
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "started", proc.stderr.read()
            assert wait_for(lambda: srv.store.count() >= 6, 20)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        accepted = [line.split()[1] for line in proc.stdout.read().splitlines()
                    if line.startswith("accepted")]
        stored_at_kill = srv.store.count()
        assert 6 <= stored_at_kill < n  # killed mid-batch
        srv.faults.set_delay()
        ob = Outbox(db, IngestionClient(srv.url, API_KEY, timeout=2.0), retry=FAST_RETRY)
        st = ob.status()
        assert st.inflight == 0  # rows the dead process had in flight are pending again
        ob.start()
        assert ob.flush(15)
        st = ob.status()
        stored = srv.store.hashes()
        assert len(stored) == len(set(stored)), "stored twice"
        assert set(accepted) <= set(stored), "an accepted sample was lost"
        generated = {sha(make_json(1000 + i)) for i in range(n)}
        assert set(stored) <= generated
        # everything the outbox holds was delivered, and nothing else is on the server
        assert st.depth == 0 and st.dead_lettered == 0 and st.sent == len(stored)
        assert st.duplicates >= 1  # a stored-but-unacknowledged sample was re-sent and deduped
        ob.close()

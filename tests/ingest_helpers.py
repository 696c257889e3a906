"""Shared pieces of the ingestion tests: documents built independently of edgert (``json`` /
``cbor2`` + ``hmac`` following ingestion.md's signing steps), a real server on 127.0.0.1, fast
retry settings, raw HTTP requests, and the uploader subprocess used by the kill -9 test."""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
from typing import Dict, Iterator, Optional, Tuple

import cbor2

from edgert.ingestion import IngestionServer, RetryPolicy

API_KEY = "ei_0123456789abcdef"
HMAC_KEY = "d5e8a7bc1234fedc5678ab90cd12ef34"
PLACEHOLDER = "0" * 64

#: Backoff short enough that each fault test finishes in about a second.
FAST_RETRY = RetryPolicy(base=0.02, cap=0.2, max_retry_after=5.0)


def _tree(i: int, alg: str, n: int = 8) -> dict:
    return {
        "protected": {"ver": "v1", "alg": alg, "iat": 1700000000 + i},
        "signature": PLACEHOLDER,
        "payload": {
            "device_name": "c4:7f:51:01:02:03",
            "device_type": "DISCO_L475VG_IOT01A",
            "interval_ms": 16,
            "sensors": [{"name": "accX", "units": "m/s2"}, {"name": "accY", "units": "m/s2"},
                        {"name": "accZ", "units": "m/s2"}],
            "values": [[round(0.01 * i + k, 3), -6.25, 7.5 + k] for k in range(n)],
        },
    }


def _sign_in_place(data: bytes, needle: bytes, key: str) -> bytes:
    """ingestion.md signing: HMAC-SHA256 over the bytes with the 64-'0' placeholder, the hex
    digest written over the placeholder."""
    assert data.count(needle) == 1
    digest = hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest().encode("ascii")
    return data.replace(needle, needle[: len(needle) - 64] + digest)


def make_json(i: int = 0, alg: str = "HS256", key: Optional[str] = HMAC_KEY, n: int = 8) -> bytes:
    data = json.dumps(_tree(i, alg, n), separators=(",", ":")).encode("utf-8")
    if alg == "HS256" and key is not None:
        data = _sign_in_place(data, f'"signature":"{PLACEHOLDER}'.encode(), key)
    return data


def make_cbor(i: int = 0, alg: str = "HS256", key: Optional[str] = HMAC_KEY, n: int = 8) -> bytes:
    data = cbor2.dumps(_tree(i, alg, n))
    if alg == "HS256" and key is not None:
        data = _sign_in_place(data, b"\x78\x40" + PLACEHOLDER.encode(), key)
    return data


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@contextlib.contextmanager
def running_server(**kw) -> Iterator[IngestionServer]:
    kw.setdefault("api_keys", API_KEY)
    kw.setdefault("hmac_key", HMAC_KEY)
    kw.setdefault("request_timeout", 5.0)
    srv = IngestionServer(**kw).start()
    try:
        yield srv
    finally:
        srv.close()


def raw_post(srv: IngestionServer, path: str, body: bytes, headers: Dict[str, str],
             timeout: float = 5.0) -> Tuple[int, str, str]:
    """POST with http.client directly (not edgert's client): (status, content-type, text)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def wait_for(pred, timeout: float = 5.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


# --- the uploading subprocess of the kill -9 test --------------------------------------------

def uploader_main(argv=None) -> None:
    """``python -c "from tests.ingest_helpers import uploader_main; uploader_main()" DB URL N``

    Opens the outbox, starts the senders, and enqueues N samples, printing ``accepted <sha>``
    after each enqueue returned (i.e. after its commit) - the producer's view of what the outbox
    promised to deliver. Then keeps sending until killed.
    """
    from edgert.ingestion import IngestionClient, Outbox

    db, url, n = (argv or sys.argv[1:])[:3]
    client = IngestionClient(url, API_KEY, timeout=2.0)
    ob = Outbox(db, client, retry=FAST_RETRY, concurrency=2)
    ob.start()
    print("started", flush=True)
    for i in range(int(n)):
        body = make_json(1000 + i)
        ob.enqueue(body, "anomaly", f"crash.{i:03d}.json")
        print("accepted", sha(body), flush=True)
        time.sleep(0.01)
    while True:  # until SIGKILL
        time.sleep(1)


def uploader_cmd(db: str, url: str, n: int):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "from tests.ingest_helpers import uploader_main; uploader_main()"
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return [sys.executable, "-c", code, db, url, str(n)], root, env


def make_binary_i16(pcm, key: Optional[str] = HMAC_KEY) -> bytes:
    """The firmware's binary variant (ingestion.md): CBOR whose ``values`` is ``9F
    "Ref-BINARY-i16" FF``, then the raw little-endian int16 samples, HMAC over all of it."""
    import struct

    tree = _tree(0, "HS256" if key else "none", 1)
    tree["payload"]["sensors"] = [{"name": "audio", "units": "wav"}]
    tree["payload"]["interval_ms"] = 0.0625
    tree["payload"]["values"] = "@@VALUES@@"
    head = cbor2.dumps(tree)
    marker = cbor2.dumps("@@VALUES@@")
    assert head.count(marker) == 1 and head.endswith(marker)  # 'values' is the last key
    data = head.replace(marker, b"\x9f" + cbor2.dumps("Ref-BINARY-i16") + b"\xff")
    data += struct.pack(f"<{len(pcm)}h", *pcm)
    if key:
        data = _sign_in_place(data, b"\x78\x40" + PLACEHOLDER.encode(), key)
    return data

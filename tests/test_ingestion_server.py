"""The local ingestion server against ingestion.md, driven with plain http.client / raw sockets
(not edgert's client), storing into real SQLite. Bad input gets the documented status and a
clear message; the server keeps serving and stored data is unaffected."""
import json
import os
import socket
import time

import cbor2
import pytest

from edgert.ingestion import IngestionServer, SampleStore
from edgert.ingestion.protocol import encode_multipart, FilePart

from .ingest_helpers import (API_KEY, HMAC_KEY, make_cbor, make_json, raw_post, running_server,
                             sha)


def hdrs(name="idle.01.json", ctype="application/json", **extra):
    h = {"x-api-key": API_KEY, "x-file-name": name, "Content-Type": ctype}
    h.update(extra)
    return h


@pytest.fixture
def srv():
    with running_server() as s:
        yield s


def test_store_json_and_cbor_with_metadata(srv):
    body = make_json(1)
    status, ctype, text = raw_post(srv, "/api/training/data", body, hdrs())
    assert (status, text) == (200, "idle.01.json")
    assert ctype.startswith("text/plain")
    cb = make_cbor(2)
    status, _, text = raw_post(srv, "/api/anomaly/data", cb,
                               hdrs("wave.7.cbor", "application/cbor"))
    assert (status, text) == (200, "wave.7.cbor")
    rows = srv.store.list()
    assert [(r["category"], r["filename"], r["label"], r["sha256"]) for r in rows] == [
        ("training", "idle.01.json", "idle", sha(body)),
        ("anomaly", "wave.7.cbor", "wave", sha(cb))]
    r = rows[0]
    assert r["signature_valid"] is True and r["signature_method"] == "HS256"
    assert (r["device_name"], r["device_type"]) == ("c4:7f:51:01:02:03", "DISCO_L475VG_IOT01A")
    assert r["interval_ms"] == 16.0 and r["values_count"] == 8
    assert [s["name"] for s in r["sensors"]] == ["accX", "accY", "accZ"]
    assert srv.store.get(r["id"], with_body=True)["body"] == body


def test_label_header_uri_encoded_no_label_and_inference(srv):
    raw_post(srv, "/api/training/data", make_json(1),
             hdrs("x.json", **{"x-label": "caf%C3%A9%20%2F%20bar"}))
    raw_post(srv, "/api/training/data", make_json(2), hdrs("idle.02.json", **{"x-no-label": "1"}))
    raw_post(srv, "/api/training/data", make_json(3), hdrs("my run-3_b.7.json"))
    raw_post(srv, "/api/training/data", make_json(4), hdrs(".hidden.json"))
    assert [r["label"] for r in srv.store.list()] == ["café / bar", None, "my run-3_b", None]


def test_disallow_duplicates_and_add_date_id(srv):
    body = make_json(5)
    assert raw_post(srv, "/api/training/data", body, hdrs())[0] == 200
    # without the header, upstream stores the same content again
    assert raw_post(srv, "/api/testing/data", body, hdrs())[0] == 200
    status, _, text = raw_post(srv, "/api/training/data", body,
                               hdrs(**{"x-disallow-duplicates": "1"}))
    assert status == 400 and text.startswith("duplicate") and sha(body) in text
    assert srv.store.count() == 2
    names = set()
    for _ in range(3):
        status, _, text = raw_post(srv, "/api/training/data", make_json(6 + _),
                                   hdrs("test.wav.json", **{"x-add-date-id": "1"}))
        assert status == 200 and text.startswith("test.") and text != "test.wav.json"
        names.add(text)
    assert len(names) == 3


@pytest.mark.parametrize("headers, status, words", [
    ({"x-file-name": "a.json", "Content-Type": "application/json"}, 401, "Missing x-api-key"),
    ({"x-api-key": "ei_wrong", "x-file-name": "a.json", "Content-Type": "application/json"},
     401, "Invalid API key"),
    ({"x-api-key": API_KEY, "Content-Type": "application/json"}, 421, "x-file-name"),
    ({"x-api-key": API_KEY, "x-file-name": "a.json", "Content-Type": "text/csv"}, 400,
     "Unsupported Content-Type"),
    ({"x-api-key": API_KEY, "x-file-name": "a.json", "Content-Type": "application/json",
      "x-label": "%E0%A4%A"}, 400, "x-label"),
])
def test_header_errors(srv, headers, status, words):
    got, ctype, text = raw_post(srv, "/api/training/data", make_json(1), headers)
    assert got == status and words in text and ctype.startswith("text/plain")
    assert srv.store.count() == 0


def _bad_bodies():
    good_cbor = make_cbor(3)
    return {
        "json syntax": (b'{"protected": {', "application/json"),
        "json not a document": (b'{"hello": 1}', "application/json"),
        "json values not numbers": (
            json.dumps({"protected": {"ver": "v1", "alg": "none"}, "signature": "0" * 64,
                        "payload": {"device_type": "X", "interval_ms": 10, "sensors":
                                    [{"name": "a", "units": "N/A"}],
                                    "values": ["x", "y"]}}).encode(), "application/json"),
        "cbor garbage": (b"\xff\xfe\x00\x01garbage", "application/cbor"),
        "cbor truncated": (good_cbor[: len(good_cbor) // 2], "application/cbor"),
        "cbor not a map": (cbor2.dumps([1, 2, 3]), "application/cbor"),
        "empty": (b"", "application/json"),
    }


@pytest.mark.parametrize("case", sorted(_bad_bodies()))
def test_malformed_bodies_are_400_and_change_nothing(srv, case):
    good = make_json(9)
    assert raw_post(srv, "/api/training/data", good, hdrs())[0] == 200
    body, ctype = _bad_bodies()[case]
    status, _, text = raw_post(srv, "/api/training/data", body, hdrs("bad.x", ctype))
    assert status == 400, text
    assert text.startswith("Invalid message") and len(text) > len("Invalid message: ")
    assert srv.store.hashes() == [sha(good)]
    assert raw_post(srv, "/api/training/data", make_json(10), hdrs())[0] == 200


def test_wrong_hmac_is_stored_marked_invalid_by_default(srv):
    bad = make_json(1, key="not-the-project-key")
    unsigned = make_json(2, alg="none")
    placeholder = make_json(3, alg="HS256", key=None)  # claims HS256, never signed
    for b in (bad, unsigned, placeholder):
        assert raw_post(srv, "/api/training/data", b, hdrs())[0] == 200
    rows = srv.store.list()
    assert [(r["signature_valid"], r["signature_method"]) for r in rows] == [
        (False, "HS256"), (False, "none"), (False, "HS256")]


def test_wrong_hmac_rejected_when_configured():
    with running_server(reject_bad_signatures=True) as srv:
        status, _, text = raw_post(srv, "/api/training/data",
                                   make_cbor(1, key="wrong"), hdrs("a.cbor", "application/cbor"))
        assert status == 400 and "signature verification failed" in text
        assert raw_post(srv, "/api/training/data", make_cbor(2),
                        hdrs("a.cbor", "application/cbor"))[0] == 200
        assert srv.store.count() == 1


def test_oversized_body_is_413_before_reading_it():
    with running_server(max_file_bytes=2000) as srv:
        big = make_json(1, n=200)
        assert len(big) > 2000
        status, _, text = raw_post(srv, "/api/training/data", big, hdrs())
        assert status == 413 and "2000" in text
        assert srv.store.count() == 0
        assert raw_post(srv, "/api/training/data", make_json(2), hdrs())[0] == 200


def test_files_endpoint_per_file_results(srv):
    good1, good2 = make_json(1), make_cbor(2)
    body, ctype = encode_multipart([
        FilePart("idle.1.json", good1, "application/json"),
        FilePart("broken.json", b"{nope", "application/json"),
        FilePart("wave.2.cbor", good2, ""),  # no content type: from the extension
    ])
    status, rtype, text = raw_post(srv, "/api/testing/files", body,
                                   {"x-api-key": API_KEY, "Content-Type": ctype})
    doc = json.loads(text)
    assert status == 200 and rtype == "application/json"
    assert doc["success"] is False and "1 of 3" in doc["error"]
    assert [f["success"] for f in doc["files"]] == [True, False, True]
    assert doc["files"][1]["error"].startswith("Invalid message")
    assert sorted(srv.store.hashes("testing")) == sorted([sha(good1), sha(good2)])
    assert [r["label"] for r in srv.store.list()] == ["idle", "wave"]


@pytest.mark.parametrize("body, ctype, words", [
    (b"whatever", "application/json", "multipart/form-data"),
    (b"--xyz\r\nContent-Disposition: form-data; name=\"data\"; filename=\"a\"\r\n\r\nabc",
     "multipart/form-data; boundary=xyz", "truncated"),
    (b"--xyz--\r\n", "multipart/form-data; boundary=xyz", "no file"),
])
def test_files_bad_requests(srv, body, ctype, words):
    status, rtype, text = raw_post(srv, "/api/training/files", body,
                                   {"x-api-key": API_KEY, "Content-Type": ctype})
    doc = json.loads(text)
    assert status == 400 and doc["success"] is False and words in doc["error"]


def test_files_auth_is_json_401(srv):
    body, ctype = encode_multipart([FilePart("a.json", make_json(1), "application/json")])
    status, rtype, text = raw_post(srv, "/api/training/files", body, {"Content-Type": ctype})
    assert status == 401 and json.loads(text) == {"success": False,
                                                  "error": "Missing x-api-key header"}


def test_files_limit_on_file_count():
    with running_server(max_files=2) as srv:
        parts = [FilePart(f"a{i}.json", make_json(i), "application/json") for i in range(3)]
        body, ctype = encode_multipart(parts)
        status, _, text = raw_post(srv, "/api/training/files", body,
                                   {"x-api-key": API_KEY, "Content-Type": ctype})
        assert status == 400 and "at most 2" in json.loads(text)["error"]
        assert srv.store.count() == 0


def test_unknown_paths_and_methods(srv):
    assert raw_post(srv, "/api/validation/data", make_json(1), hdrs())[0] == 404
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/api/training/data")
    r = conn.getresponse()
    assert r.status == 405 and r.getheader("Allow") == "POST"
    conn.close()


def test_chunked_upload(srv):
    body = make_json(4)
    conn = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    head = (f"POST /api/training/data HTTP/1.1\r\nHost: x\r\nx-api-key: {API_KEY}\r\n"
            "x-file-name: chunk.json\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 50]), body[i:i + 50])
                      for i in range(0, len(body), 50))
    conn.sendall(head + chunks + b"0\r\n\r\n")
    reply = b""
    while True:
        got = conn.recv(4096)
        if not got:
            break
        reply += got
    conn.close()
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"chunk.json")
    assert srv.store.hashes() == [sha(body)]


def test_garbage_and_stalled_connections_do_not_hurt_the_server():
    with running_server(request_timeout=0.5) as srv:
        stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        stalled.sendall(b"POST /api/training/data HTTP/1.1\r\nContent-Length: 1000\r\n"
                        b"x-api-key: " + API_KEY.encode() + b"\r\n\r\nab")
        unauth = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        unauth.sendall(b"POST /api/training/data HTTP/1.1\r\nContent-Length: 1000\r\n\r\nab")
        junk = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        junk.sendall(b"BREW /pot " + os.urandom(40).hex().encode() + b"\r\n\r\n")
        assert b"400 Bad request" in junk.recv(100)  # an HTTP/0.9-style error from http.server
        junk.close()
        junk = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        junk.sendall(b"\x16\x03\x01\x02\x00" + os.urandom(200))  # a TLS hello, say
        junk.close()
        t0 = time.monotonic()
        assert raw_post(srv, "/api/training/data", make_json(1), hdrs())[0] == 200
        assert time.monotonic() - t0 < 0.4  # not blocked behind the stalled connection
        stalled.settimeout(3)
        reply = _read_all(stalled)  # the body stopped: 408 after the read timeout, then closed
        assert reply.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 0.5 s" in reply
        stalled.close()
        unauth.settimeout(3)
        reply = _read_all(unauth)  # refused from the headers, without waiting for the body
        assert reply.startswith(b"HTTP/1.1 401 ") and reply.endswith(b"Missing x-api-key header")
        unauth.close()
        assert srv.store.count() == 1


def _read_all(sock) -> bytes:
    out = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return out
        out += chunk


def _reply(sock, timeout: float = 3.0) -> bytes:
    """Status line, headers and body of one response (by its Content-Length)."""
    sock.settimeout(timeout)
    out = b""
    while b"\r\n\r\n" not in out:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {out!r}"
        out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lengths = [h.split(b":")[1] for h in head.split(b"\r\n")
               if h.lower().startswith(b"content-length")]
    n = int(lengths[0]) if lengths else 0  # "100 Continue" has neither length nor body
    while len(body) < n:
        chunk = sock.recv(4096)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body


def _head(path: str, headers: dict) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


def test_refusals_decided_by_headers_are_answered_before_any_body_arrives():
    """A huge declared Content-Length (nothing sent), with or without ``Expect:
    100-continue``, is answered 413 at once - not after the read timeout, and without a
    ``100 Continue`` inviting a body that would be refused; a bad key likewise gets 401."""
    with running_server(max_file_bytes=2000, request_timeout=5.0) as srv:
        base = {"x-api-key": API_KEY, "x-file-name": "a.json",
                "Content-Type": "application/json", "Content-Length": str(10 ** 12)}
        for extra, want in (({}, b"413"), ({"Expect": "100-continue"}, b"413"),
                            ({"x-api-key": "ei_wrong"}, b"401"),
                            ({"x-api-key": "ei_wrong", "Expect": "100-continue"}, b"401")):
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                s.sendall(_head("/api/training/data", {**base, **extra}))
                reply = _reply(s)
            assert time.monotonic() - t0 < 2.0, extra
            assert reply.startswith(b"HTTP/1.1 " + want), (extra, reply)
            assert b"100 Continue" not in reply
            if want == b"413":
                assert reply.endswith(b"body of 1000000000000 bytes exceeds the limit of "
                                      b"2000 bytes")
        # a request that will be accepted still gets 100 Continue, then its answer
        body = make_json(1)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(_head("/api/training/data", {**base, "Content-Length": str(len(body)),
                                                   "Expect": "100-continue"}))
            assert _reply(s).startswith(b"HTTP/1.1 100 Continue")
            s.sendall(body)
            assert _reply(s).startswith(b"HTTP/1.1 200 ")
        assert srv.store.hashes() == [sha(body)]


def test_restart_on_same_port_keeps_data(tmp_path):
    db = str(tmp_path / "samples.db")
    store = SampleStore(db)
    srv = IngestionServer(store, API_KEY, HMAC_KEY).start()
    port = srv.port
    assert raw_post(srv, "/api/training/data", make_json(1), hdrs())[0] == 200
    srv.stop()
    with pytest.raises(OSError):
        raw_post(srv, "/api/training/data", make_json(2), hdrs(), timeout=1)
    srv.start()
    assert srv.port == port
    assert raw_post(srv, "/api/training/data", make_json(3), hdrs())[0] == 200
    srv.close()
    store.close()
    reopened = SampleStore(db)
    assert reopened.hashes() == [sha(make_json(1)), sha(make_json(3))]
    reopened.close()


def test_unauthenticated_oversized_upload_gets_401(srv):
    with running_server(max_file_bytes=1000) as small:
        big = make_json(1, n=100)
        status, _, text = raw_post(small, "/api/training/data", big,
                                   {"x-file-name": "a.json", "Content-Type": "application/json"})
        assert (status, text) == (401, "Missing x-api-key header")
        assert small.store.count() == 0


def test_slowloris_header_drip_is_cut_off_at_the_request_timeout():
    """A client that sends a header line every 0.3 s never trips the per-read timeout (1 s);
    the deadline for the headers as a whole closes the connection anyway."""
    with running_server(request_timeout=1.0) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            t0 = time.monotonic()
            s.sendall(b"POST /api/training/data HTTP/1.1\r\n")
            cut = None
            for i in range(20):  # up to 6 s of dripping
                time.sleep(0.3)
                try:
                    s.sendall(b"x-drip-%d: 1\r\n" % i)
                    s.settimeout(0.01)
                    if s.recv(100) == b"":
                        cut = time.monotonic() - t0
                        break
                except socket.timeout:
                    continue
                except OSError:
                    cut = time.monotonic() - t0
                    break
            assert cut is not None and 0.9 <= cut < 3.0, cut
        assert raw_post(srv, "/api/training/data", make_json(1), hdrs())[0] == 200


def test_files_binary_part_without_content_type_is_stored_as_octet_stream(srv):
    from .ingest_helpers import make_binary_i16
    pcm = make_binary_i16([5, -5, 7])
    body, ctype = encode_multipart([FilePart("audio.01.cbor", pcm, ""),
                                    FilePart("plain.cbor", make_cbor(3), "")])
    status, _, text = raw_post(srv, "/api/training/files", body,
                               {"x-api-key": API_KEY, "Content-Type": ctype})
    assert status == 200 and json.loads(text)["success"] is True, text
    assert [(r["filename"], r["content_type"], r["signature_valid"]) for r in srv.store.list()] \
        == [("audio.01.cbor", "application/octet-stream", True),
            ("plain.cbor", "application/cbor", True)]


def _read_reply_or_close(s: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes (or ``timeout``)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def test_connections_over_the_cap_get_a_fast_503_with_retry_after():
    """Idle connections hold their threads (up to the header deadline); once
    ``max_connections`` are open, further connections are answered 503 + Retry-After at
    once (JSON on /files, text on /data) without a thread; a freed slot serves again."""
    with running_server(max_connections=2, request_timeout=10.0) as srv:
        idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(2)]
        try:
            deadline = time.monotonic() + 5
            while srv.active_connections < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert srv.active_connections == 2
            body = make_json(1)
            for path, ctype in (("/api/training/data", "text/plain"),
                                ("/api/training/files", "application/json")):
                t0 = time.monotonic()
                with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                    s.sendall(_head(path, {**hdrs(), "Content-Length": str(len(body)),
                                           "Connection": "close"}) + body)
                    reply = _read_reply_or_close(s, 5.0)
                assert time.monotonic() - t0 < 1.0
                head, _, text = reply.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 503 "), reply[:200]
                assert b"\r\nRetry-After: 1\r\n" in head
                assert ctype.encode() in head
                if ctype == "application/json":
                    doc = json.loads(text)
                    assert doc["success"] is False and "busy" in doc["error"]
                else:
                    assert b"busy" in text and b"2 connections" in text
            assert srv.refused_busy == 2 and srv.store.count() == 0
            # a client that does not send anything also gets the answer
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                assert _read_reply_or_close(s, 2.0).startswith(b"HTTP/1.1 503 ")
            idle.pop().close()  # frees a slot (the handler sees EOF and ends)
            deadline = time.monotonic() + 5
            while srv.active_connections > 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert raw_post(srv, "/api/training/data", body, hdrs())[0] == 200
            assert srv.store.count() == 1
        finally:
            for s in idle:
                s.close()


def test_body_trickling_under_the_read_timeout_gets_408_at_the_body_deadline():
    """A body sent a byte every 0.25 s never trips the 1 s per-read timeout; the deadline for
    the body as a whole (``body_timeout``) answers 408 and frees the thread."""
    with running_server(request_timeout=1.0, body_timeout=1.5) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(_head("/api/training/data", {**hdrs(), "Content-Length": "1000"}))
            t0 = time.monotonic()
            reply = b""
            while time.monotonic() - t0 < 6.0:  # bounded: without the deadline this would
                s.settimeout(0.25)               # go on for 250 s
                try:
                    chunk = s.recv(4096)
                    reply += chunk
                    if not chunk or b"\r\n\r\n" in reply:
                        break
                except socket.timeout:
                    pass
                try:
                    s.sendall(b"{")
                except OSError:
                    break
            elapsed = time.monotonic() - t0
            reply += _read_reply_or_close(s, 1.0)
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
        assert b"deadline of 1.5 s" in reply
        assert 1.4 <= elapsed < 3.5, elapsed
        deadline = time.monotonic() + 5
        while srv.active_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.active_connections == 0
        assert raw_post(srv, "/api/training/data", make_json(1), hdrs())[0] == 200


def test_connection_limits_are_validated():
    from edgert.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="max_connections"):
        IngestionServer(max_connections=0)
    with pytest.raises(ConfigurationError, match="body_timeout"):
        IngestionServer(body_timeout=0)


def test_json_and_cbor_documents_over_max_document_bytes_get_413():
    """A JSON/CBOR document over ``max_document_bytes`` is refused with 413 (from the
    headers on /data, before the body is read; per file inside /files); the binary int16
    variant is not limited by its raw samples, only by its CBOR part."""
    from .ingest_helpers import make_binary_i16
    small_cbor, small_json = make_cbor(1), make_json(1)
    cap = max(len(small_cbor), len(small_json)) + 100
    big_cbor = make_cbor(2, n=400)
    big_json = make_json(2, n=400)
    assert len(big_cbor) > cap and len(big_json) > cap
    audio = make_binary_i16(list(range(-2000, 2000)))  # 8000 raw bytes after a small header
    assert len(audio) > cap
    with running_server(max_document_bytes=cap) as srv:
        assert raw_post(srv, "/api/training/data", small_cbor,
                        hdrs("a.cbor", "application/cbor"))[0] == 200
        assert raw_post(srv, "/api/training/data", small_json, hdrs("b.json"))[0] == 200
        for body, ctype in ((big_cbor, "application/cbor"), (big_json, "application/json"),
                            (big_cbor, "application/octet-stream"),
                            (big_json, "application/octet-stream")):
            status, rtype, text = raw_post(srv, "/api/training/data", body,
                                           hdrs("big.x", ctype))
            assert status == 413, (ctype, status, text)
            assert f"at most {cap} bytes" in text and "max_document_bytes" in text
        assert raw_post(srv, "/api/training/data", audio,
                        hdrs("audio.cbor", "application/octet-stream"))[0] == 200
        # a flood after the binary marker makes the CBOR part itself too long: refused
        i = audio.index(b"\x9f")
        flooded = audio[:i] + b"\x9f" + b"\x80" * (2 * cap) + b"\xff"
        assert raw_post(srv, "/api/training/data", flooded,
                        hdrs("flood.bin", "application/octet-stream"))[0] == 413
        mp_body, mp_type = encode_multipart([FilePart("ok.cbor", make_cbor(3), "application/cbor"),
                                             FilePart("big.cbor", big_cbor, "application/cbor")])
        status, _, text = raw_post(srv, "/api/training/files", mp_body,
                                   {"x-api-key": API_KEY, "Content-Type": mp_type})
        doc = json.loads(text)
        assert status == 200 and [f["success"] for f in doc["files"]] == [True, False]
        assert "max_document_bytes" in doc["files"][1]["error"]
        assert srv.store.count() == 4
    # None: only max_file_bytes applies
    with running_server(max_document_bytes=None) as srv:
        assert raw_post(srv, "/api/training/data", big_cbor,
                        hdrs("big.cbor", "application/cbor"))[0] == 200

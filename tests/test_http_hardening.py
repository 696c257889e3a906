"""Defects of the HTTP layer found by fuzzing and first use (issue 8), held against the
ingestion server on a real socket, and against the gateway daemon's stack:

* a chunked body whose chunk size is ``-1`` (or not hex) is a 400 at once - not a read until
  the client hangs up - and the body limit holds for every transfer encoding;
* log lines never echo what the network sent raw (control bytes are escaped) and never hold
  header values (API keys, signatures);
* ``edgert ingest serve`` stops promptly on SIGTERM, also with connections open.
"""
from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time

import pytest

from .ingest_helpers import (API_KEY, HMAC_KEY, make_json, raw_post, running_server,
                             uploader_cmd)


def _head(path: str, headers: dict) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


def _first_reply(sock: socket.socket, timeout: float) -> bytes:
    """What the server sends within ``timeout`` s (until it closes or goes quiet)."""
    sock.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                lengths = [int(h.split(b":")[1]) for h in head.split(b"\r\n")
                           if h.lower().startswith(b"content-length")]
                if lengths and len(body) >= lengths[0]:
                    break
    except (socket.timeout, ConnectionResetError):
        pass
    return out


CHUNKED = {"x-api-key": API_KEY, "x-file-name": "a.json", "Content-Type": "application/json",
           "Transfer-Encoding": "chunked"}


@pytest.mark.parametrize("parser", ["httptools", "h11"])
@pytest.mark.parametrize("size_line", [b"-1", b"zz", b"-0x10", b"1g"])
def test_bad_chunk_size_is_a_400_at_once(size_line, parser):
    """The client keeps the connection open and keeps quiet after the bad size line: the
    answer must not wait for it to hang up (it used to read until then, without bound).
    Both of uvicorn's parsers (llhttp, the default; h11 without httptools)."""
    with running_server(http=parser) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            t0 = time.monotonic()
            s.sendall(_head("/api/training/data", CHUNKED) + size_line + b"\r\n" + b"x" * 100)
            reply = _first_reply(s, 3.0)
            elapsed = time.monotonic() - t0
        assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
        assert elapsed < 1.0, elapsed
        assert srv.store.count() == 0
        assert raw_post(srv, "/api/training/data", make_json(1), {
            "x-api-key": API_KEY, "x-file-name": "b.json",
            "Content-Type": "application/json"})[0] == 200


def test_chunked_body_over_the_limit_is_413_without_reading_the_rest():
    """Many small chunks add up past max_file_bytes: 413 once the limit is passed, while the
    client is still sending (the server does not buffer the rest)."""
    with running_server(max_file_bytes=4000, max_document_bytes=None) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(_head("/api/training/data", CHUNKED))
            reply = b""
            for _ in range(40):  # 40 x 500 bytes = 20000 > 4000; stop once answered
                try:
                    s.sendall(b"1f4\r\n" + b" " * 500 + b"\r\n")
                except OSError:
                    break
                s.settimeout(0.05)
                try:
                    reply += s.recv(4096)
                except socket.timeout:
                    pass
                if b"\r\n\r\n" in reply:
                    break
            reply += _first_reply(s, 2.0)
        assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
        assert b"4000" in reply
        assert srv.store.count() == 0


def test_chunked_body_within_the_limit_is_stored():
    body = make_json(3)
    with running_server() as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            half = len(body) // 2
            s.sendall(_head("/api/training/data", CHUNKED)
                      + b"%x\r\n" % half + body[:half] + b"\r\n"
                      + b"%x;ext=1\r\n" % (len(body) - half) + body[half:] + b"\r\n0\r\n\r\n")
            reply = _first_reply(s, 3.0)
        assert reply.startswith(b"HTTP/1.1 200 "), reply[:300]
        assert reply.endswith(b"a.json")
        assert srv.store.count() == 1


def _records_text(caplog) -> list[str]:
    out = []
    for r in caplog.records:
        out.append(r.getMessage())
        if r.exc_text:
            out.append(r.exc_text)
    return out


def test_logs_escape_network_bytes_and_never_hold_header_values(caplog):
    secret_in_line = "ei_leaked_request_line_key"
    with caplog.at_level(logging.DEBUG):
        with running_server() as srv:
            # a malformed request line with terminal escapes, NUL and a key in it
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                s.sendall(b"GET /a\x1b[2J\x00b HTTP/1.1 " + secret_in_line.encode()
                          + b"\r\n\r\n")
                _first_reply(s, 2.0)
            # a path with encoded control bytes (a fake log line after a newline)
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                s.sendall(b"POST /api/training/x%0a%1b[31mFAKE%20LOG%20LINE HTTP/1.1\r\n"
                          b"Host: t\r\nx-api-key: " + API_KEY.encode()
                          + b"\r\nContent-Length: 0\r\n\r\n")
                _first_reply(s, 2.0)
            # valid and invalid requests carrying the key and a signature in headers/body
            body = make_json(7)
            signature = json.loads(body)["signature"]
            raw_post(srv, "/api/training/data", body, {
                "x-api-key": API_KEY, "x-file-name": "a.json",
                "Content-Type": "application/json", "x-label": "lbl\x7f"})
            raw_post(srv, "/api/training/data", body, {
                "x-api-key": "ei_wrong_key_value_123", "x-file-name": "a.json",
                "Content-Type": "application/json"})
            raw_post(srv, "/api/training/data", b"{broken", {
                "x-api-key": API_KEY, "x-file-name": "b.json",
                "Content-Type": "application/json"})
    texts = _records_text(caplog)
    assert texts, "nothing was logged at all (the check would be empty)"
    for t in texts:
        bad = [c for c in t if ord(c) < 0x20 and c not in "\n" or ord(c) == 0x7f]
        assert not bad, f"control bytes logged raw: {t!r}"
        for secret in (API_KEY, HMAC_KEY, "ei_wrong_key_value_123", secret_in_line, signature):
            assert secret not in t, f"a header value / key was logged: {t!r}"
        assert "FAKE LOG LINE" not in t.split("\n", 1)[-1] or "\n" not in t


def _serve(tmp_path):
    _, root, env = uploader_cmd("", "", 0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgert", "ingest", "serve", "--port", "0", "--db",
         str(tmp_path / "s.db"), "--api-key", API_KEY, "--hmac-key", HMAC_KEY, "--json"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text = ""
    while True:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        text += line
        if line.startswith("}"):
            return proc, json.loads(text)["url"]


def test_ingest_serve_stops_promptly_on_sigterm_with_connections_open(tmp_path):
    """Idle, keep-alive and stalled-mid-body connections must not hold the exit: the
    stored sample is on disk and the process is gone within a second."""
    proc, url = _serve(tmp_path)
    port = int(url.rsplit(":", 1)[1])
    socks = []
    try:
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(idle)
        keep = socket.create_connection(("127.0.0.1", port), timeout=5)
        body = make_json(1)
        keep.sendall(_head("/api/training/data", {
            "x-api-key": API_KEY, "x-file-name": "a.json", "Content-Type": "application/json",
            "Content-Length": str(len(body))}) + body)
        assert _first_reply(keep, 3.0).startswith(b"HTTP/1.1 200 ")
        socks.append(keep)
        stalled = socket.create_connection(("127.0.0.1", port), timeout=5)
        stalled.sendall(_head("/api/training/data", {
            "x-api-key": API_KEY, "x-file-name": "b.json", "Content-Type": "application/json",
            "Content-Length": "1000"}) + b"{")
        socks.append(stalled)
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(10)
        elapsed = time.monotonic() - t0
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, proc.stderr.read()
    assert elapsed < 1.0, elapsed
    from edgert.ingestion import SampleStore
    store = SampleStore(str(tmp_path / "s.db"))
    assert store.count() == 1
    store.close()


@pytest.mark.parametrize("head", [
    # both framings: a request-smuggling vector, refused rather than guessed
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    # a Content-Length that is not a number, or two that disagree
    b"Content-Length: 12abc\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
])
def test_ambiguous_framing_is_a_400(head):
    with running_server() as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"POST /api/training/data HTTP/1.1\r\nHost: t\r\nx-api-key: "
                      + API_KEY.encode() + b"\r\nx-file-name: a.json\r\n" + head
                      + b"\r\n0\r\n\r\n")
            reply = _first_reply(s, 3.0)
        assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
        assert json.loads(reply.partition(b"\r\n\r\n")[2])["success"] is False
        assert srv.store.count() == 0


def test_a_refused_connection_gets_one_answer_however_it_sends():
    """Over the connection cap: the 503 is sent once, whatever arrives after it (it is read
    and discarded until the connection closes)."""
    with running_server(max_connections=1, request_timeout=5.0) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as idle:
            deadline = time.monotonic() + 5
            while srv.active_connections < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                s.sendall(b"POST /api/training/data HTTP/1.1\r\n")
                time.sleep(0.2)
                for i in range(5):
                    try:
                        s.sendall(b"x-more-%d: 1\r\n" % i)
                    except OSError:
                        break
                    time.sleep(0.05)
                reply = _first_reply(s, 2.0)
                s.settimeout(2.0)
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
                except (socket.timeout, ConnectionResetError):
                    pass
            assert reply.count(b"HTTP/1.1 503 ") == 1, reply
            assert idle.fileno() >= 0
        assert srv.refused_busy == 1


def test_uncaught_errors_are_a_json_500_naming_the_request_id(caplog):
    """An endpoint that raises (Starlette's handler answers) and an ASGI callable that raises
    before answering (the access log answers): the same JSON 500, naming the exception's type
    and the request id its log line carries."""
    import re

    import httpx
    from starlette.applications import Starlette

    from edgert.web.app import AccessLog, internal_error_handler, route
    from edgert.web.server import HttpServer

    async def boom(request):
        raise RuntimeError("kaput")

    routed = Starlette(routes=[route("/boom", boom, ["GET"])],
                       exception_handlers={Exception: internal_error_handler})

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/raw":
            raise KeyError("x")
        await routed(scope, receive, send)

    server = HttpServer(AccessLog(app, prefix="t")).start()
    try:
        with caplog.at_level(logging.ERROR, logger="edgert.web"):
            for path, kind in (("/boom", "RuntimeError"), ("/raw", "KeyError")):
                r = httpx.get(server.url + path, timeout=10)
                assert r.status_code == 500, r.text
                doc = r.json()
                got = re.fullmatch(rf"internal error \({kind}\); the server log has the "
                                   r"details under request id (t-\d+)", doc["error"])
                assert doc["success"] is False and got, doc
                line = f"request {got.group(1)} (GET {path}): internal error {kind}"
                deadline = time.monotonic() + 5  # (Starlette's answer goes out before the log)
                while line not in caplog.text and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert line in caplog.text
    finally:
        server.stop()

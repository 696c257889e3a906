"""edgert.ingestion.client and protocol helpers: wire format checked against independent
parsers (the email package, urllib3), every response class produced by a real server."""
import email.parser
import email.policy
import email.utils
import random
import time

import pytest

from edgert.errors import ConfigurationError
from edgert.acquisition.labels import infer_label
from edgert.ingestion import IngestionClient, RetryPolicy, parse_retry_after, FilePart
from edgert.ingestion import protocol as P

from .ingest_helpers import API_KEY, make_cbor, make_json, running_server, sha


@pytest.mark.parametrize("name, label", [
    ("idle.01", "idle"), ("idle.01.json", "idle"), ("my run-3_b.7.cbor", "my run-3_b"),
    ("dir/wave.cbor", "wave"), (".json", None), ("é-label.json", None), ("up-down", "up-down"),
])
def test_infer_label(name, label):
    assert infer_label(name) == label


@pytest.mark.parametrize("label, encoded", [
    # values of JavaScript's encodeURIComponent for these strings
    ("idle", "idle"), ("wave é/1", "wave%20%C3%A9%2F1"), ("a&b=c?", "a%26b%3Dc%3F"),
    ("keep-_.!~*'()", "keep-_.!~*'()"), ("日本", "%E6%97%A5%E6%9C%AC"),
])
def test_label_encoding_matches_encodeURIComponent(label, encoded):
    assert P.encode_label(label) == encoded
    assert P.decode_label(encoded) == label


def test_multipart_parsed_by_the_email_package():
    parts = [FilePart("a.json", make_json(1), "application/json"),
             FilePart('we"ird.cbor', make_cbor(2), "application/cbor")]
    body, ctype = P.encode_multipart(parts)
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    got = [(p.get_param("name", header="content-disposition"), p.get_content_type(),
            p.get_payload(decode=True)) for p in msg.iter_parts()]
    assert got == [("data", "application/json", parts[0].body),
                   ("data", "application/cbor", parts[1].body)]
    back = P.decode_multipart(body, ctype)
    assert [(p.name, p.filename, p.content_type, p.body) for p in back] == [
        ("data", "a.json", "application/json", parts[0].body),
        ("data", 'we"ird.cbor', "application/cbor", parts[1].body)]


def test_multipart_from_urllib3_is_decoded():
    urllib3 = pytest.importorskip("urllib3")
    body, ctype = urllib3.encode_multipart_formdata([
        ("data", ("x.cbor", make_cbor(3), "application/cbor")),
        ("note", "hello"),
        ("data", ("y.json", make_json(4), "application/json"))])
    back = P.decode_multipart(body, ctype)
    assert [(p.name, p.filename, p.body) for p in back] == [
        ("data", "x.cbor", make_cbor(3)), ("note", None, b"hello"),
        ("data", "y.json", make_json(4))]


def test_parse_retry_after():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28.0 <= parse_retry_after(date, now=now) <= 31.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_backoff_is_capped_exponential_with_full_jitter():
    pol = RetryPolicy(base=0.1, cap=1.0)
    rng = random.Random(1)
    for attempt, bound in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (40, 1.0)]:
        xs = [pol.delay(attempt, rng=rng) for _ in range(400)]
        assert 0.0 <= min(xs) and max(xs) <= bound
        assert min(xs) < 0.1 * bound and max(xs) > 0.9 * bound  # spread over the whole range
    assert all(pol.delay(1, retry_after=3.0, rng=rng) >= 3.0 for _ in range(50))
    capped = RetryPolicy(base=0.1, cap=1.0, max_retry_after=2.0)
    assert capped.delay(1, retry_after=1e6, rng=rng) <= 2.0
    with pytest.raises(ConfigurationError):
        RetryPolicy(base=2.0, cap=1.0)


def test_client_configuration_errors():
    with pytest.raises(ConfigurationError, match="http"):
        IngestionClient("ftp://x", API_KEY)
    with pytest.raises(ConfigurationError, match="API key"):
        IngestionClient("http://127.0.0.1:1", "")
    c = IngestionClient("http://127.0.0.1:1", API_KEY)
    with pytest.raises(ConfigurationError, match="category"):
        c.upload_data(b"{}", category="validation", filename="a.json")


def test_outcome_classes_from_a_real_server():
    with running_server() as srv:
        c = IngestionClient(srv.url, API_KEY, timeout=2.0)
        body = make_json(1)
        out = c.upload_data(body, category="training", filename="idle.1.json", label="wave é")
        assert (out.kind, out.status, out.filename) == ("stored", 200, "idle.1.json")
        assert srv.store.list()[0]["label"] == "wave é"
        dup = c.upload_data(body, category="training", filename="idle.1.json",
                            disallow_duplicates=True)
        assert dup.kind == "duplicate" and dup.delivered
        bad = c.upload_data(b"{broken", category="training", filename="b.json")
        assert bad.kind == "permanent" and bad.status == 400 and "Invalid message" in bad.message
        key = IngestionClient(srv.url, "ei_nope").upload_data(make_json(2), category="training",
                                                              filename="c.json")
        assert (key.kind, key.status, key.message) == ("permanent", 401, "Invalid API key")
        srv.faults.fail_next(1, 503, retry_after=email.utils.formatdate(time.time() + 20,
                                                                        usegmt=True))
        busy = c.upload_data(make_json(3), category="training", filename="d.json")
        assert busy.kind == "retry" and busy.status == 503 and 17 <= busy.retry_after <= 21
        srv.faults.fail_next(1, 429, retry_after="2")
        rate = c.upload_data(make_json(3), category="training", filename="d.json")
        assert (rate.kind, rate.status, rate.retry_after) == ("retry", 429, 2.0)
        srv.faults.reset_next(1)
        reset = c.upload_data(make_json(3), category="training", filename="d.json")
        assert reset.kind == "retry" and reset.status is None and "reset" in reset.message
        srv.faults.set_delay(before=1.0)
        slow = IngestionClient(srv.url, API_KEY, timeout=0.2).upload_data(
            make_json(4), category="training", filename="e.json")
        assert slow.kind == "retry" and "timed out" in slow.message
        srv.faults.set_delay()
        assert srv.store.hashes() == [sha(body)]
        url = srv.url
    down = IngestionClient(url, API_KEY, timeout=1.0).upload_data(
        make_json(5), category="training", filename="f.json")
    assert down.kind == "retry" and "refused" in down.message


def test_files_upload_classifies_each_file():
    with running_server(max_file_bytes=3000) as srv:
        c = IngestionClient(srv.url, API_KEY)
        c.upload_data(make_json(7), category="testing", filename="seen.json")
        files = [FilePart("a.json", make_json(1), "application/json"),
                 FilePart("b.json", b"[1,2", "application/json"),
                 FilePart("big.json", make_json(2, n=300), "application/json"),
                 FilePart("seen.json", make_json(7), "application/json"),
                 FilePart("c.cbor", make_cbor(3), "application/cbor")]
        outs = c.upload_files(files, category="testing", disallow_duplicates=True)
        assert [o.kind for o in outs] == ["stored", "permanent", "permanent", "duplicate",
                                          "stored"]
        assert "over the limit of 3000" in outs[2].message
        assert sorted(srv.store.hashes()) == sorted(sha(b) for b in
                                                    (make_json(7), make_json(1), make_cbor(3)))
        srv.faults.fail_next(1, 500)
        assert [o.kind for o in c.upload_files(files[:2], category="testing")] == ["retry"] * 2
        bad = IngestionClient(srv.url, "wrong").upload_files(files[:2], category="testing")
        assert [(o.kind, o.status, o.message) for o in bad] == [
            ("permanent", 401, "Invalid API key")] * 2


def test_client_goes_through_a_proxy_from_the_environment(monkeypatch):
    """Gateways behind corporate networks set HTTP(S)_PROXY: the client honours it. The
    'proxy' here is the ingestion server itself (it serves absolute-form request targets),
    and the upstream host name does not even resolve: the sample can only arrive through
    the proxy."""
    with running_server() as srv:
        monkeypatch.setenv("HTTP_PROXY", srv.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        c = IngestionClient("http://upstream.invalid", API_KEY, timeout=2.0)
        out = c.upload_data(make_json(1), category="training", filename="p.json")
        assert out.kind == "stored", out
        assert srv.store.hashes() == [sha(make_json(1))]
        direct = IngestionClient("http://upstream.invalid", API_KEY, timeout=2.0,
                                 trust_env=False)
        assert direct.upload_data(make_json(2), category="training",
                                  filename="q.json").kind == "retry"
        c.close()


def test_client_verifies_tls_certificates_by_default(tmp_path):
    """A server with a self-signed certificate: refused by default (retry, the reason
    said), accepted when its CA is given (verify=...)."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the test's TLS peer only
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"p.json")

        def log_message(self, *a):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    try:
        refused = IngestionClient(url, API_KEY, timeout=2.0).upload_data(
            make_json(1), category="training", filename="p.json")
        assert refused.kind == "retry" and "certificate verification failed" in refused.message
        ok = IngestionClient(url, API_KEY, timeout=2.0, verify=str(cert)).upload_data(
            make_json(1), category="training", filename="p.json")
        assert (ok.kind, ok.filename) == ("stored", "p.json")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_connections_are_reused_between_uploads():
    with running_server() as srv:
        c = IngestionClient(srv.url, API_KEY, timeout=2.0)
        for i in range(5):
            assert c.upload_data(make_json(i), category="training",
                                 filename=f"r{i}.json").kind == "stored"
            # one keep-alive connection carries them all (one per request would be closed)
            assert srv.active_connections == 1
        c.close()
        from .ingest_helpers import wait_for
        assert wait_for(lambda: srv.active_connections == 0, 5)

"""`edgert ingest serve/upload/status/requeue` end to end: the server as a real subprocess
(stopped with SIGTERM), the uploader through edgert.cli.main."""
import json
import signal
import subprocess
import sys

from edgert.cli import main
from edgert.ingestion import SampleStore

from .ingest_helpers import API_KEY, HMAC_KEY, make_cbor, make_json, sha, uploader_cmd


def _start_server(tmp_path):
    _, root, env = uploader_cmd("", "", 0)
    db = str(tmp_path / "samples.db")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgert", "ingest", "serve", "--port", "0", "--db", db,
         "--api-key", API_KEY, "--hmac-key", HMAC_KEY, "--json"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text = ""
    while True:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        text += line
        if line.startswith("}"):
            return proc, json.loads(text)["url"], db


def test_serve_upload_status_requeue(tmp_path, capsys):
    proc, url, db = _start_server(tmp_path)
    try:
        files = []
        for name, body in [("idle.01.json", make_json(1)), ("wave.02.cbor", make_cbor(2)),
                           ("broken.json", b'{"protected": ')]:
            p = tmp_path / name
            p.write_bytes(body)
            files.append(str(p))
        outbox = str(tmp_path / "ob.db")
        code = main(["-q", "ingest", "upload", *files, "--category", "testing", "--url", url,
                     "--api-key", API_KEY, "--outbox", outbox, "--timeout", "20", "--json"])
        out = json.loads(capsys.readouterr().out)
        assert code == 1  # one file dead-lettered
        assert out["status"]["sent"] == 2 and len(out["dead_lettered_ids"]) == 1
        assert main(["ingest", "status", "--outbox", outbox, "--dead", "--json"]) == 0
        st = json.loads(capsys.readouterr().out)
        (dead,) = st["dead_letters"]
        assert dead["filename"] == "broken.json" and dead["http_status"] == 400
        assert dead["reason"].startswith("Invalid message")
        # re-running the same upload queues nothing new and sends nothing twice
        assert main(["-q", "ingest", "upload", *files[:2], "--url", url, "--api-key", API_KEY,
                     "--outbox", outbox, "--timeout", "5"]) == 0
        assert main(["ingest", "requeue", "--outbox", outbox]) == 0
        assert "requeued 1" in capsys.readouterr().out
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    store = SampleStore(db)
    assert sorted(store.hashes("testing")) == sorted([sha(make_json(1)), sha(make_cbor(2))])
    assert sorted(r["label"] for r in store.list()) == ["idle", "wave"]
    store.close()


def test_upload_timeout_keeps_samples_queued(tmp_path, capsys):
    p = tmp_path / "a.json"
    p.write_bytes(make_json(5))
    outbox = str(tmp_path / "ob.db")
    # nothing listens on port 9 of 127.0.0.1 (discard service is not running in CI images)
    code = main(["-q", "ingest", "upload", str(p), "--url", "http://127.0.0.1:9",
                 "--api-key", API_KEY, "--outbox", outbox, "--timeout", "0.5",
                 "--request-timeout", "0.5"])
    assert code == 3
    assert main(["ingest", "status", "--outbox", outbox, "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["depth"] == 1 and st["sent"] == 0 and "refused" in st["last_error"]


def test_missing_api_key_is_a_clear_error(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("EDGERT_API_KEY", raising=False)
    monkeypatch.delenv("EI_API_KEY", raising=False)
    p = tmp_path / "a.json"
    p.write_bytes(make_json(5))
    assert main(["ingest", "upload", str(p), "--outbox", str(tmp_path / "o.db")]) == 1
    assert "no API key" in caplog.text

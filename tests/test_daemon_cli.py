"""`edgert daemon` as users run it: flags and the TOML config (flags win, keys mirror the
flags), errors as one `edgert: ERROR:` line with exit 1, JSON log lines (one per request, no
key or signature in any line), and a graceful, prompt stop on SIGTERM with requests in
flight."""
from __future__ import annotations

import json
import signal
import socket
import time

import httpx
import pytest

from edgert.cli import main
from edgert.daemon.config import build, load_file
from edgert.errors import ConfigurationError

from .daemon_helpers import (API_KEY, BUNDLE, DATASET, DATASET_KEY, recording_values,
                             start_daemon_process, stop_process, write_config)


def test_config_file_keys_mirror_the_flags_and_flags_win(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "etc").mkdir()
    cfg_path = write_config(tmp_path / "etc" / "daemon.toml", bundle=str(BUNDLE),
                            db="gw.db", host="127.0.0.1", port=4900, api_key="from-file",
                            hmac_key="h", upstream="https://ingestion.example.com",
                            upstream_api_key="up", webhook=["http://127.0.0.1:1/a"],
                            log_format="json", limits={"max_connections": 7,
                                                       "webhook_timeout_s": 1.5})
    cfg = build({"config": str(cfg_path)}, environ={})
    assert (cfg.port, cfg.api_key, cfg.log_format, cfg.limits.max_connections) == (
        4900, "from-file", "json", 7)
    assert cfg.db == str(tmp_path / "etc" / "gw.db")  # relative to the file's folder
    assert cfg.outbox_path == str(tmp_path / "etc" / "gw.outbox.db")
    assert cfg.samples_dir == str(tmp_path / "etc" / "gw.samples")
    over = build({"config": str(cfg_path), "port": 5000, "api_key": "from-flag",
                  "webhook": ["http://127.0.0.1:2/b"]}, environ={})
    assert (over.port, over.api_key, over.webhook) == (5000, "from-flag",
                                                       ["http://127.0.0.1:2/b"])
    env = build({"bundle": str(BUNDLE), "db": "x.db"},
                environ={"EDGERT_API_KEY": "from-env", "EDGERT_HMAC_KEY": "hk"})
    assert (env.api_key, env.hmac_key, env.port, env.host) == ("from-env", "hk", 4800,
                                                               "127.0.0.1")


@pytest.mark.parametrize("text, words", [
    ("bundle = 'x'\ncolour = 1\n", "unknown key(s) colour"),
    ("[limits]\nmax_conections = 3\n", "unknown limit(s) max_conections"),
    ("[limits]\nmax_connections = 0\n", "limits.max_connections must be positive"),
    ("[limits]\nmax_connections = 2.5\n", "whole number"),
    ("port = 'eighty'\n", "port must be a whole number"),
    ("webhook = 3\n", "webhook must be a URL"),
    ("bundle = [\n", "not valid TOML"),
])
def test_bad_config_files_say_what_is_wrong(tmp_path, text, words):
    p = tmp_path / "d.toml"
    p.write_text(text)
    with pytest.raises(ConfigurationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        flags = {"config": str(p), "bundle": str(BUNDLE), "db": str(tmp_path / "g.db"),
                 "api_key": "k"}
        load_file(str(p))
        build(flags, environ={})


WHOLE_LIMITS = ("max_connections", "max_classify_bytes", "max_file_bytes", "max_document_bytes",
                "classify_threads", "inline_max_bytes", "inline_max_windows", "io_threads",
                "max_results", "webhook_max_attempts", "outbox_max_bytes")


def test_counted_limits_are_whole_numbers_and_timed_ones_may_be_fractions():
    from edgert.daemon.config import Limits
    for name in WHOLE_LIMITS:
        with pytest.raises(ConfigurationError, match=f"limits.{name} must be a whole number"):
            Limits(**{name: 2.5}).validate()
        got = getattr(Limits(**{name: 3.0}).validate(), name)
        assert got == 3 and type(got) is int, name
    for name in ("request_timeout", "body_timeout", "classify_sync_max_ms",
                 "results_retention_s", "webhook_timeout_s", "webhook_backoff_s",
                 "webhook_backoff_cap_s", "outbox_request_timeout_s", "outbox_retry_base_s",
                 "outbox_retry_cap_s", "graceful_timeout_s"):
        assert getattr(Limits(**{name: 2.5}).validate(), name) == 2.5, name


@pytest.mark.parametrize("argv, words", [
    (["--db", "g.db", "--api-key", "k"], "no bundle"),
    (["--bundle", "nowhere", "--db", "g.db", "--api-key", "k"], "no such file or folder"),
    (["--bundle", str(BUNDLE), "--api-key", "k"], "no database"),
    (["--bundle", str(BUNDLE), "--db", "g.db"], "no API key"),
    (["--bundle", str(BUNDLE), "--db", "g.db", "--api-key", "k", "--upstream", "ftp://x"],
     "http:// or https://"),
    (["--bundle", str(BUNDLE), "--db", "g.db", "--api-key", "k", "--upstream",
      "https://ingestion.edgeimpulse.com"], "--upstream-api-key"),
    (["--bundle", str(BUNDLE), "--db", "g.db", "--api-key", "k", "--webhook", "hook"],
     "--webhook 'hook'"),
    (["--bundle", str(BUNDLE), "--db", "missing-dir/g.db", "--api-key", "k"],
     "does not exist"),
    (["--config", "nope.toml"], "config file nope.toml"),
])
def test_cli_errors_are_one_line_and_exit_1(tmp_path, monkeypatch, capsys, caplog, argv,
                                           words):
    monkeypatch.chdir(tmp_path)
    for var in ("EDGERT_API_KEY", "EDGERT_HMAC_KEY", "EDGERT_UPSTREAM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert main(["daemon", *argv]) == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and words in errors[0].getMessage(), caplog.text
    assert "Traceback" not in capsys.readouterr().err


def test_help_lists_the_contract_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["daemon", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--bundle", "--db", "--host", "--port", "--api-key", "--hmac-key",
                 "--upstream", "--upstream-api-key", "--webhook", "--config", "--log-format"):
        assert flag in out
    with pytest.raises(SystemExit) as exc:  # usage errors: argparse's exit 2
        main(["daemon", "--port", "eighty"])
    assert exc.value.code == 2


def test_json_logs_and_a_prompt_graceful_stop(tmp_path):
    """One JSON object per request; no key, HMAC key or signature in any line; SIGTERM
    while a request's body is still arriving and another is idle: the process exits 0
    within a second or so, and a result finished before is still there after a restart."""
    cfg = write_config(tmp_path / "d.toml", bundle=str(BUNDLE), db=str(tmp_path / "g.db"),
                       port=0, api_key=API_KEY, hmac_key=DATASET_KEY, log_format="json")
    log = tmp_path / "daemon.log"
    proc, url = start_daemon_process(cfg, log_path=log)
    c = httpx.Client(base_url=url, headers={"x-api-key": API_KEY})
    try:
        done = c.post("/api/classify", json={"values": recording_values(),
                                             "interval_ms": 16}).json()
        body = (DATASET / "testing" / "wave.00.json").read_bytes()
        signature = json.loads(body)["signature"]
        assert c.post("/api/testing/data", content=body, headers={
            "x-file-name": "wave.00.json", "content-type": "application/json"}).status_code \
            == 200
        assert httpx.get(url + "/healthz", headers={"x-api-key": "ei_nope"}).status_code == 403
        port = int(url.rsplit(":", 1)[1])
        idle = socket.create_connection(("127.0.0.1", port))
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(b"POST /api/classify HTTP/1.1\r\nHost: x\r\nx-api-key: "
                        + API_KEY.encode() + b"\r\ncontent-type: application/json\r\n"
                        b"content-length: 100\r\n\r\n{")
        time.sleep(0.3)
        t0 = time.monotonic()
        code = stop_process(proc, signal.SIGTERM)
        elapsed = time.monotonic() - t0
        stalled.settimeout(2)
        reply = stalled.recv(4096)
        idle.close()
        stalled.close()
    finally:
        c.close()
        if proc.poll() is None:
            stop_process(proc, signal.SIGKILL)
    assert code == 0 and elapsed < 1.5, (code, elapsed)
    assert reply.startswith(b"HTTP/1.1 503 ") and b"retry" in reply
    lines = log.read_text().splitlines()
    docs = [json.loads(ln) for ln in lines]  # every line is one JSON object
    access = [d for d in docs if d["logger"] == "edgert.web.access"]
    assert [(d["method"], d["route"], d["status"]) for d in access] == [
        ("POST", "/api/classify", 200), ("POST", "/api/{category}/{endpoint}", 200),
        ("GET", "(unmatched)", 403), ("POST", "/api/classify", 499)]  # 499: cut by the stop
    assert all(d["duration_ms"] >= 0 and d["request_id"] for d in access)
    text = log.read_text()
    for secret in (API_KEY, DATASET_KEY, signature):
        assert secret not in text
    # the result finished before the stop is there after a restart
    proc, url = start_daemon_process(cfg, log_path=log)
    try:
        got = httpx.get(f"{url}/api/result/{done['id']}", headers={"x-api-key": API_KEY})
        assert got.json() == done
    finally:
        assert stop_process(proc) == 0


def test_a_second_daemon_on_the_same_database_is_refused(tmp_path):
    from .daemon_helpers import running_daemon
    with running_daemon(tmp_path):
        flags = {"bundle": str(BUNDLE), "db": str(tmp_path / "gateway.db"), "port": 0,
                 "api_key": "k"}
        from edgert.daemon.app import Gateway
        with pytest.raises(Exception, match="in use by another process"):
            Gateway(build(flags, environ={}))


def test_the_sample_config_and_unit_in_deploy(tmp_path):
    """deploy/daemon.toml has every key and limit the daemon knows (with their defaults
    where a number is given), and the systemd unit runs it with --config."""
    import dataclasses
    from pathlib import Path
    from edgert.daemon.config import FILE_KEYS, Limits
    deploy = Path(__file__).resolve().parents[1] / "deploy"
    doc = load_file(str(deploy / "daemon.toml"))
    assert set(doc) <= set(FILE_KEYS) and {"bundle", "db", "host", "port", "upstream",
                                            "webhook", "log_format", "limits"} <= set(doc)
    defaults = Limits()
    assert set(doc["limits"]) == {f.name for f in dataclasses.fields(Limits)}
    for k, v in doc["limits"].items():
        assert v == getattr(defaults, k), k
    unit = (deploy / "edgert-daemon.service").read_text()
    assert "ExecStart=/opt/edgert/venv/bin/edgert daemon --config /etc/edgert/daemon.toml" \
        in unit and "KillSignal=SIGTERM" in unit
    flags = {"config": str(deploy / "daemon.toml"), "bundle": str(BUNDLE),
             "db": str(tmp_path / "g.db"), "api_key": "k", "upstream_api_key": "u"}
    cfg = build(flags, environ={})
    assert cfg.upstream == "https://ingestion.edgeimpulse.com" and cfg.port == 4800

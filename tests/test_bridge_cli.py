"""`edgert bridge` as a user runs it (a subprocess, boards emulated on ptys in this process):
the JSON line contracts, sampling to a file, SIGINT/SIGTERM ending cleanly (the board's loop
stopped with 'b', the outbox closed with every queued sample in it), usage errors."""
from __future__ import annotations

import json
import signal
import subprocess

import pytest

from edgert.acquisition import decode
from edgert.ingestion import Outbox
from firmware_bridge.emulator import AtFirmware, ForwarderBoard

from .bridge_helpers import DEMO, bridge_cmd, bridge_env, ROOT, start_bridge, wait_for


def scripted(index, values):
    scores = {"idle": 0.5, "snake": 0.25, "updown": 0.125, "wave": 0.125}
    return scores, (0.9 if index % 3 == 1 else -0.2)


def _run(*args, timeout=60):
    return subprocess.run(bridge_cmd(*args), cwd=str(ROOT), env=bridge_env(),
                          capture_output=True, text=True, timeout=timeout)


def _read_lines(proc, n, timeout=30):
    lines = []
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    import time
    deadline = time.monotonic() + timeout
    while len(lines) < n and time.monotonic() < deadline:
        if sel.select(0.2):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
    return lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_loses_nothing_queued(tmp_path, sig):
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01, results=scripted).start()
    db = tmp_path / "outbox.db"
    # nothing listens on this port: every upload stays queued in the outbox
    proc = start_bridge("--port", fw.device, "--json", "--upload", "http://127.0.0.1:9",
                        "--api-key", "ei_x", "--db", str(db), "--hang-timeout", "5")
    try:
        lines = _read_lines(proc, 8)
        assert len(lines) == 8, proc.stderr.read() if proc.poll() is not None else lines
        assert wait_for(lambda: fw.commands.count("AT+RUNIMPULSE") >= 3, 20)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        fw.close()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    summary = json.loads(stdout.strip().splitlines()[-1])["summary"]
    board = summary["boards"][0]
    # the board's loop was stopped with 'b' and it is back at its prompt
    assert fw.breaks >= 1 and not fw._busy
    assert "edgert: summary: ttyACM0 (c4:7f:51:01:02:03)" in stderr
    # every capture the bridge made is in the outbox, none lost, none sent
    fetched = [c for c in fw.commands if c.startswith("AT+READFILE=")]
    with Outbox(str(db)) as ob:
        status = ob.status()
    assert board["uploads_queued"] == len(fetched) == status.pending >= 1
    assert summary["outbox"]["pending"] + summary["outbox"]["inflight"] == status.pending


def test_json_lines_contract_at_and_forwarder(tmp_path):
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01, results=scripted).start()
    try:
        r = _run("--port", fw.device, "--json", "--duration", "2")
    finally:
        fw.close()
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    results, summary = objs[:-1], objs[-1]
    assert len(results) >= 3 and set(summary) == {"summary"}
    for o in results:
        assert set(o) == {"classification", "anomaly", "timing_us", "port", "device"}
        assert o["classification"] == {"idle": 0.5, "snake": 0.25, "updown": 0.125,
                                       "wave": 0.125}
        assert set(o["timing_us"]) == {"dsp", "classification", "anomaly"}
        assert o["port"] == fw.device and o["device"] == "c4:7f:51:01:02:03"

    board = ForwarderBoard(str(tmp_path / "ttyUSB0"), n_axes=3, frequency=62.5).start()
    try:
        r = _run("--port", board.device, "--forwarder", "--bundle", str(DEMO),
                 "--axes", "accX,accY,accZ", "--frequency", "62.5", "--json",
                 "--duration", "3")
    finally:
        board.close()
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    windows = objs[:-1]
    assert len(windows) >= 5
    for n, o in enumerate(windows):
        assert set(o) == {"window", "start_ms", "classification", "anomaly", "port", "device"}
        assert o["window"] == n and set(o["classification"]) == {"idle", "snake", "updown",
                                                                 "wave"}
    # text mode: one line per result, summary on stderr
    fw = AtFirmware(str(tmp_path / "ttyACM1"), time_scale=0.01, results=scripted).start()
    try:
        r = _run("--port", fw.device, "--duration", "1.5")
    finally:
        fw.close()
    assert r.returncode == 0
    first = r.stdout.splitlines()[0]
    assert first.startswith("ttyACM1 c4:7f:51:01:02:03  idle 0.500  snake 0.250")
    assert "edgert: summary: ttyACM1" in r.stderr


def test_sample_to_a_file(tmp_path):
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01).start()
    out = tmp_path / "wave.cbor"
    try:
        r = _run("--port", fw.device, "--sample", "accelerometer", "--label", "wave",
                 "--length-ms", "2000", "--output", str(out), "--hmac-key", "k2", "--json")
    finally:
        fw.close()
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["signature_valid"] is True and info["samples"] == 125   # 62.5 Hz
    assert info["board_file"] == "/fs/wave.0" and info["axes"] == ["accX", "accY", "accZ"]
    assert out.read_bytes() == fw.recorded["/fs/wave.0"].data
    assert decode(out.read_bytes()).n_samples == 125 and "/fs/wave.0" not in fw.files


@pytest.mark.parametrize("args,code,message", [
    ([], 2, "give a board with --port"),
    (["--port", "/dev/null", "--forwarder"], 2, "--forwarder needs --bundle"),
    (["--port", "/dev/null", "--sample", "acc"], 2, "--sample needs --label, --length-ms"),
    (["--port", "/dev/null", "--bundle", "x"], 2, "go with --forwarder"),
    (["--port", "/nonexistent/tty"], 1, "/nonexistent/tty: no such serial port"),
    (["--port", "/dev/null"], 1, "/dev/null: cannot open the port (Could not configure"),
])
def test_bad_usage_is_one_error_line(args, code, message):
    r = _run(*args, timeout=30)
    assert r.returncode == code
    errors = [line for line in r.stderr.splitlines() if line.startswith("edgert: ERROR:")]
    assert errors and message in errors[0], r.stderr
    assert "Traceback" not in r.stderr


def test_not_an_at_board(tmp_path):
    """A board that only prints readings, opened in AT mode: one clear error, exit 1."""
    board = ForwarderBoard(str(tmp_path / "ttyUSB0"), n_axes=3, frequency=62.5).start()
    try:
        r = _run("--port", board.device, timeout=40)
    finally:
        board.close()
    assert r.returncode == 1
    assert "use --forwarder" in r.stderr and "Traceback" not in r.stderr


def test_list_json():
    r = _run("--list", "--json")
    assert r.returncode == 0
    ports = json.loads(r.stdout)["ports"]
    for p in ports:
        assert set(p) == {"port", "kind", "vid_pid", "description", "serial_number"}


def test_closed_stdout_stops_the_bridge(tmp_path):
    """`edgert bridge ... | head -2`: the bridge ends when its reader goes away."""
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01).start()
    try:
        r = subprocess.run(" ".join(bridge_cmd("--port", fw.device, "--json")) + " | head -2",
                           shell=True, cwd=str(ROOT), env=bridge_env(), capture_output=True,
                           text=True, timeout=60)
        assert len(r.stdout.splitlines()) == 2
        assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr
        assert wait_for(lambda: not fw._busy, 10)   # the loop was stopped with 'b'
    finally:
        fw.close()

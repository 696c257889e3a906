"""A generated ``.eim`` driven as applications drive Edge Impulse's: by the official Python
client (``edge_impulse_linux``'s ``ImpulseRunner``, unmodified) over the plain socket and over
shared memory, and by raw sockets for what that client cannot send (bad bytes, 32 MiB
requests, continuous mode, half requests). Every runner must leave no socket file, no
shared-memory segment and no zombie behind, whatever the client does."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgert import Impulse, load_recording
from edgert.cli import main
from edgert.eim import write_eim
from edgert.eim.writer import EimCheckError

from .eim_helpers import (RawClient, eim_segments, official_runner_module, process_state,
                          processes_running, stop_and_reap, wait_for)

DATA = Path(__file__).parent / "data"
DEMO = DATA / "motion-demo"
SAMPLES = DEMO / "samples"
RECORDINGS = ("idle.01.json", "snake.01.json", "updown.01.json", "updown.02.csv",
              "wave.01.json", "wave.02.cbor")
MIB32 = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def eim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eim") / "motion.eim"
    written = write_eim(DEMO, out)
    assert written.path == out and os.access(out, os.X_OK)
    return out


@pytest.fixture(scope="module")
def impulse():
    return Impulse.load(DEMO)


@pytest.fixture(scope="module")
def official():
    return official_runner_module()


def assert_left_nothing(proc: subprocess.Popen, eim: Path, socket_path: Path = None) -> None:
    assert process_state(proc.pid) is None, "the runner is still in the process table"
    assert eim_segments(proc.pid) == set()
    assert processes_running(eim) == []
    if socket_path is not None:
        assert not socket_path.exists()


def classification(resp: dict, labels) -> np.ndarray:
    return np.array([resp["result"]["classification"][lab] for lab in labels],
                    dtype=np.float32)


@pytest.mark.parametrize("shared_memory", [True, False], ids=["shm", "socket"])
def test_official_client_every_window_of_every_recording(eim, impulse, official,
                                                         shared_memory):
    runner = official.ImpulseRunner(str(eim), allow_shm=shared_memory)
    info = runner.init()
    proc = runner._runner
    try:
        assert (runner._input_shm is not None) == shared_memory
        shm_name = info["features_shm"]["name"].lstrip("/")
        assert (Path("/dev/shm") / shm_name).exists()
        assert info["features_shm"]["elements"] == 375
        W = impulse.window_samples
        n = 0
        for name in RECORDINGS:
            res = impulse.classify(load_recording(SAMPLES / name))
            for w, start in enumerate(res.start_rows):
                out = runner.classify(res.data[start:start + W].reshape(-1).astype(float)
                                      .tolist())
                np.testing.assert_array_equal(classification(out, impulse.labels),
                                              res.probabilities[w], err_msg=f"{name} {w}")
                assert np.float32(out["result"]["anomaly"]) == res.anomaly[w]
                assert out["prediction"] == res.predictions[w]
                assert set(out["timing"]) >= {"dsp", "classification", "anomaly", "dsp_us",
                                              "classification_us", "anomaly_us"}
                n += 1
        assert n == 76 + 51 + 76 + 76 + 26 + 26
        with pytest.raises(Exception, match="Invalid number of features in 'classify', "
                                            "expected 375 but got 3"):
            runner.classify([1.0, 2.0, 3.0]) if not shared_memory else \
                runner.send_msg({"classify": [1.0, 2.0, 3.0]})
        assert runner.set_threshold({"id": 3, "min_score": 0.9}) == {}
    finally:
        runner.stop()
    assert proc.wait(timeout=30) == -signal.SIGINT     # ended by the client's SIGINT
    assert not (Path("/dev/shm") / shm_name).exists()
    assert_left_nothing(proc, eim)


def test_the_sdks_own_windows(eim, official):
    """The 30 raw windows Edge Impulse's C++ SDK classified (ei-sdk-reference.json): the same
    top label, probabilities within 2/256 (the int8 output step)."""
    sdk = json.loads((DEMO / "ei-sdk-reference.json").read_text())["windows"]
    runner = official.ImpulseRunner(str(eim))
    info = runner.init()
    labels = info["model_parameters"]["labels"]
    try:
        for w in sdk:
            out = runner.classify(w["raw"])
            got = classification(out, labels)
            ref = np.array([w["classification"][lab] for lab in labels])
            assert labels[int(np.argmax(got))] == labels[int(np.argmax(ref))], w["index"]
            assert np.max(np.abs(got - ref)) <= 2 / 256 + 1e-9, w["index"]
    finally:
        stop_and_reap(runner)


def test_print_info_prints_the_hello_document(eim, official):
    proc = subprocess.run([str(eim), "--print-info"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc.pop("id") == 1 and doc.pop("success") is True
    runner = official.ImpulseRunner(str(eim))
    try:
        hello = runner.init()
    finally:
        stop_and_reap(runner)
    assert "features_shm" in hello and "features_shm" not in doc   # no segment for print-info
    hello.pop("features_shm")
    assert doc == hello
    assert proc.stdout.decode().startswith("{\n")                  # JSON only, pretty


def test_bad_requests_and_32_mib(eim, tmp_path):
    sock = tmp_path / "runner.sock"
    c = RawClient(eim, sock)
    try:
        # removed as soon as the one connection is accepted
        wait_for(lambda: not sock.exists(), what="the socket file to go")
        c.send(b"some bytes before the first brace }} ")
        c.send(b'{"classify": [1, 2,, 3], "id": 41}')
        r = c.response()
        assert r["success"] is False and r["id"] == 41
        assert r["error"].startswith("Failed to parse message as JSON: Expecting value")
        assert c.request({"classify": [0.0] * 375, "id": 1}) == {
            "id": 1, "success": False, "error": "Invalid message, should initialize first"}
        hello = c.request({"hello": 1, "id": 2})
        seg = hello["features_shm"]["name"].lstrip("/")
        assert seg in eim_segments(c.proc.pid)
        assert c.request({"classify": [0.0] * 374, "id": 3})["error"] == \
            "Invalid number of features in 'classify', expected 375 but got 374"
        values = json.dumps([0.5] * 375).encode()
        # exactly 32 MiB is served; one byte more is refused and the connection goes on
        head, tail = b'{"classify":' + values, b',"id":4}'
        exact = head + b" " * (MIB32 - len(head) - len(tail)) + tail
        assert len(exact) == MIB32
        c.send(exact)
        r = c.response()
        assert r["success"] is True and r["id"] == 4, r
        head = b'{"id":5,"classify":' + values
        over = head + b" " * (MIB32 - len(head)) + b"}"
        assert len(over) == MIB32 + 1
        c.send(over)
        r = c.response()
        assert r == {"id": 5, "success": False,
                     "error": "Invalid message, received more than 33554432 bytes, and no "
                              "valid JSON message detected"}
        # two requests in one write, answered in order
        c.send(b'{"classify":' + values + b',"id":6}{"set_threshold":{"id":3,"min_score":'
                                          b'0.7},"id":7}')
        assert c.response()["id"] == 6 and c.response() == {"id": 7, "success": True}
        assert c.request({"hello": 1, "id": 8})["error"] == \
            "Invalid message 'hello', already initialized"
        assert c.close() == 0
    finally:
        c.kill()
    assert seg not in eim_segments()
    assert_left_nothing(c.proc, eim, sock)


def test_continuous_over_the_socket(eim, impulse, tmp_path):
    c = RawClient(eim, tmp_path / "s.sock")
    try:
        c.request({"hello": 1, "id": 1})
        rec = load_recording(SAMPLES / "wave.01.json").values.astype(np.float32)
        results = [c.request({"classify_continuous": rec[i * 31:(i + 1) * 31].reshape(-1)
                              .tolist(), "id": 10 + i}) for i in range(8)]
        assert all(r["success"] for r in results)
        assert not classification(results[3], impulse.labels).any()     # 124 rows < 125
        # results 4 and 5: windows ending at rows 155 and 186, averaged over two results
        p4 = impulse.classify(rec[155 - 125:155]).probabilities[0]
        p5 = impulse.classify(rec[186 - 125:186]).probabilities[0]
        np.testing.assert_array_equal(classification(results[4], impulse.labels),
                                      p4 / np.float32(2))
        np.testing.assert_array_equal(classification(results[5], impulse.labels),
                                      (p4 + p5) / np.float32(2))
        assert c.request({"classify_continuous": [0.0] * 3, "id": 99})["error"] == \
            "Invalid number of features in 'classify_continuous', expected 93 but got 3"
        assert c.close() == 0
    finally:
        c.kill()


def test_client_disconnecting_mid_request(eim, tmp_path):
    c = RawClient(eim, tmp_path / "s.sock")
    try:
        c.request({"hello": 1, "id": 1})
        assert eim_segments(c.proc.pid)
        c.send(b'{"classify":[' + b"0.25," * 200)
        assert c.close() == 0           # half a request, then gone: a clean exit
    finally:
        c.kill()
    assert_left_nothing(c.proc, eim)


def test_sigterm_while_waiting_for_the_client(eim, tmp_path):
    sock = tmp_path / "s.sock"
    proc = subprocess.Popen([str(eim), str(sock)], stdin=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, what="socket")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_left_nothing(proc, eim, sock)


@pytest.mark.parametrize("when", ["mid-message", "busy"])
def test_sigterm_during_a_request(eim, tmp_path, when):
    c = RawClient(eim, tmp_path / "s.sock")
    try:
        c.request({"hello": 1, "id": 1})
        assert eim_segments(c.proc.pid)
        if when == "mid-message":
            c.send(b'{"classify":[0.5,')
            time.sleep(0.2)
            c.proc.send_signal(signal.SIGTERM)
        else:
            big = b'{"classify":' + json.dumps([0.5] * 375).encode() + b" " * (MIB32 - 4000) \
                + b',"id":2}'
            def send() -> None:
                try:
                    c.sock.sendall(big)
                except OSError:          # the runner is gone before reading it all
                    pass
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            time.sleep(0.05)
            c.proc.send_signal(signal.SIGTERM)      # while the runner reads and parses it
            sender.join(30)
        assert c.proc.wait(timeout=30) == -signal.SIGTERM
    finally:
        c.kill()
    assert_left_nothing(c.proc, eim)


def test_segments_of_killed_runners_are_removed_by_the_next(eim, tmp_path):
    """SIGKILL leaves a runner no chance to clean up (as for any process); its segment is
    removed when the next runner creates its own."""
    c = RawClient(eim, tmp_path / "a.sock")
    try:
        seg = c.request({"hello": 1, "id": 1})["features_shm"]["name"].lstrip("/")
        c.proc.kill()
        c.proc.wait(timeout=30)
    finally:
        c.kill()
    assert seg in eim_segments()
    d = RawClient(eim, tmp_path / "b.sock")
    try:
        mine = d.request({"hello": 1, "id": 1})["features_shm"]["name"].lstrip("/")
        assert seg not in eim_segments() and mine in eim_segments(d.proc.pid)
        assert d.close() == 0
    finally:
        d.kill()
    assert mine not in eim_segments()


def test_unread_output_pipes_cannot_hang_the_runner(eim, tmp_path):
    """The SDK's runner hangs when its stdout pipe fills: here nothing goes to stdout and
    stderr is written only when it can take it without blocking."""
    c = RawClient(eim, tmp_path / "s.sock", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        c.request({"hello": 1, "id": 1})
        values = [0.5] * 375
        for i in range(400):      # ~1 KB of debug output each: far more than a pipe holds
            assert c.request({"classify": values, "id": i + 2, "debug": True})["success"]
        assert c.close() == 0
    finally:
        c.kill()
        c.proc.stdout.close()
        c.proc.stderr.close()


HARNESS = """
import ctypes, json, os, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(36, 1, 0, 0, 0) == 0          # PR_SET_CHILD_SUBREAPER: orphans come here
client = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
info = json.loads(client.stdout.readline())
client.wait()
t0 = time.monotonic()
status = None
while time.monotonic() - t0 < 20:
    pid, st = os.waitpid(info["runner_pid"], os.WNOHANG)
    if pid:
        status = os.waitstatus_to_exitcode(st)
        break
    time.sleep(0.02)
info.update(status=status, seconds=time.monotonic() - t0,
            socket_exists=os.path.exists(info["socket"]),
            shm_exists=os.path.exists("/dev/shm/" + info.get("shm", "none")))
print(json.dumps(info))
"""

CLIENT_KILLED = """
import importlib.util, json, os, signal, sys
spec = importlib.util.spec_from_file_location("r", {runner!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
r = m.ImpulseRunner({eim!r})
hello = r.init()
r.classify([0.5] * 375)
print(json.dumps({{"runner_pid": r._runner.pid, "shm": hello["features_shm"]["name"].lstrip("/"),
                  "socket": os.path.join(r._tempdir, "runner.sock")}}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

CLIENT_NEVER_CONNECTS = """
import json, os, subprocess, sys, time
sock = {sock!r}
p = subprocess.Popen([{eim!r}, sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while not os.path.exists(sock):
    time.sleep(0.02)
print(json.dumps({{"runner_pid": p.pid, "socket": sock}}), flush=True)
os._exit(0)
"""


def run_harness(client_code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", HARNESS, client_code], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_client_killed_with_sigkill(eim, official):
    info = run_harness(CLIENT_KILLED.format(runner=official.__file__, eim=str(eim)))
    assert info["status"] == 0, info          # EOF on its connection: a clean exit
    assert not info["shm_exists"] and not info["socket_exists"]
    assert process_state(info["runner_pid"]) is None


def test_client_dying_before_connecting(eim, tmp_path):
    info = run_harness(CLIENT_NEVER_CONNECTS.format(sock=str(tmp_path / "s.sock"),
                                                    eim=str(eim)))
    assert info["status"] == 1, info          # "the process that started the runner exited"
    assert info["seconds"] < 5
    assert not info["socket_exists"]
    assert process_state(info["runner_pid"]) is None


def test_stdin_mode(eim):
    reqs = b'{"hello":1,"id":1}\n{"classify":' + json.dumps([0.5] * 375).encode() + \
        b',"id":2}\n{"oops"}'
    proc = subprocess.run([str(eim), "stdin"], input=reqs, capture_output=True, timeout=60)
    assert proc.returncode == 0
    lines = proc.stdout.decode().splitlines()
    assert [json.loads(x)["success"] for x in lines] == [True, True, False]
    assert "features_shm" not in json.loads(lines[0])


def test_usage_and_unknown_options(eim):
    proc = subprocess.run([str(eim)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("usage: motion.eim SOCKET_PATH")
    proc = subprocess.run([str(eim), "--bogus"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == ("motion.eim: ERROR: unknown option --bogus (expected SOCKET_PATH, "
                           "--print-info or stdin)\n")


def test_edgert_directory_gone_falls_back_to_the_interpreters_edgert(tmp_path, impulse):
    """The directory recorded in eim.json no longer holds edgert: the interpreter's own
    edgert (here the test environment's installed one) runs the file."""
    from edgert.eim.launcher import FORMAT
    from edgert.eim.writer import build_eim
    own = subprocess.run([sys.executable, "-I", "-c", "import edgert.eim"], capture_output=True,
                         cwd=tmp_path)
    if own.returncode != 0:
        pytest.skip("this interpreter's installed edgert has no edgert.eim (a development "
                    "environment whose editable install points at another checkout)")
    config = {"format": FORMAT, "edgert_version": "0.0.1", "edgert_path": str(tmp_path / "gone"),
              "python": sys.executable, "variant": "int8", "backend": "auto",
              "slices_per_window": 4, "average_over": 2, "sensor": "accelerometer"}
    eim = tmp_path / "moved.eim"
    eim.write_bytes(build_eim(impulse, config, sys.executable))
    eim.chmod(0o755)
    proc = subprocess.run([str(eim), "--print-info"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model_parameters"]["input_features_count"] == 375
    assert "made with edgert 0.0.1 and runs with edgert" in proc.stderr


# ------------------------------------------------------------------ a runner that cannot run
def test_interpreter_gone(tmp_path):
    link = tmp_path / "python"
    link.symlink_to(sys.executable)
    eim = tmp_path / "gone.eim"
    write_eim(DEMO, eim, python=str(link), check=False)
    link.unlink()
    proc = subprocess.run([str(eim), "--print-info"], capture_output=True, timeout=60)
    assert proc.returncode == 127
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err == (f"gone.eim: ERROR: the Python interpreter this runner was made for is gone: "
                   f"{link}. Make the runner again with 'edgert eim BUNDLE -o gone.eim' where "
                   "edgert is installed.\n")


@pytest.fixture()
def without_edgert(tmp_path) -> Path:
    """An interpreter that finds edgert's directory but not its dependencies (site-packages
    off): edgert cannot be imported."""
    wrapper = tmp_path / "python-no-site"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_edgert_gone(tmp_path, without_edgert, official):
    eim = tmp_path / "broken.eim"
    with pytest.raises(EimCheckError, match="edgert cannot be imported by"):
        write_eim(DEMO, eim, python=str(without_edgert))
    assert not eim.exists() and list(tmp_path.glob(".broken.eim.*")) == []
    write_eim(DEMO, eim, python=str(without_edgert), check=False)
    proc = subprocess.run([str(eim), "--print-info"], capture_output=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == b""
    err = proc.stderr.decode()
    assert err.startswith("broken.eim: ERROR: edgert cannot be imported by ")
    assert "No module named" in err and "Traceback" not in err
    # the official client gets the reason as the error of its hello instead of waiting
    runner = official.ImpulseRunner(str(eim))
    with pytest.raises(Exception, match="edgert cannot be imported by"):
        runner.init()
    stop_and_reap(runner)
    assert processes_running(eim) == []


def test_damaged_bundle_is_reported_to_the_client(tmp_path, official):
    eim = tmp_path / "damaged.eim"
    write_eim(DEMO, eim)
    data = eim.read_bytes()
    i = data.index(b"bundle/nn-i8.tflite")          # break the model member's name
    eim.write_bytes(data[:i] + b"bundle/xx-i8.tflite" + data[i + 19:])
    runner = official.ImpulseRunner(str(eim))
    with pytest.raises(Exception, match="cannot load the impulse inside"):
        runner.init()
    stop_and_reap(runner)


# --------------------------------------------------------------------------- command line
def test_cli(tmp_path, capsys):
    out = tmp_path / "m.eim"
    assert main(["eim", str(DEMO), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"wrote {out} (") and "try: " in text
    assert os.access(out, os.X_OK) and out.read_bytes().startswith(b"#!/bin/sh\n")
    assert main(["eim", str(DEMO), "-o", str(out), "--json", "--no-check",
                 "--slices-per-window", "5", "--moving-average", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model_parameters"]["slice_size"] == 75
    assert doc["settings"]["average_over"] == 1 and doc["python"] == sys.executable


@pytest.mark.parametrize("argv, message", [
    (["eim", "nope", "-o", "x.eim"], "nope: no such bundle"),
    (["eim", str(DEMO), "-o", "x.eim", "--variant", "float32"], "has no float32 model"),
    (["eim", str(DEMO), "-o", "x.eim", "--python", "/no/such/python"],
     "/no/such/python is not an executable file"),
    (["eim", str(DEMO), "-o", "x.eim", "--slices-per-window", "500"],
     "slices per window must be 1..125"),
])
def test_cli_errors(tmp_path, argv, message):
    import edgert
    env = dict(os.environ, PYTHONPATH=str(Path(edgert.__file__).parents[1]))
    proc = subprocess.run([sys.executable, "-m", "edgert", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    err = proc.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("edgert: ERROR: ") and message in err[0], err
    assert list(tmp_path.iterdir()) == []

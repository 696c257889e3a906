"""Shared pieces of the ``.eim`` tests: the official client (Edge Impulse's
``edge_impulse_linux`` package, its ``runner.py`` loaded on its own: the package's
``__init__`` imports its audio and image modules, which need PyAudio and OpenCV, and the
runner needs neither), a raw socket client for requests the official client cannot send, and
checks of the process table and /dev/shm."""
from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import pytest

SHM_DIR = Path("/dev/shm")
SHM_PREFIX = "edgert-eim-"


def official_runner_module() -> Any:
    """``edge_impulse_linux/runner.py`` of the installed package, unmodified, as a module
    (the test extra installs ``edge_impulse_linux``)."""
    spec = importlib.util.find_spec("edge_impulse_linux")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the official client (pip install edge_impulse_linux) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "runner.py"
    mspec = importlib.util.spec_from_file_location("edge_impulse_linux_runner", path)
    assert mspec is not None and mspec.loader is not None
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module


def eim_segments(pid: Optional[int] = None) -> set[str]:
    """Shared-memory segments made by edgert runners (of process ``pid``, or any)."""
    prefix = SHM_PREFIX + (f"{pid}-" if pid is not None else "")
    return {p.name for p in SHM_DIR.iterdir() if p.name.startswith(prefix)}


def process_state(pid: int) -> Optional[str]:
    """The state letter of ``pid`` in the process table (``Z`` for a zombie), None when the
    process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def processes_running(path: Path) -> list[int]:
    """Pids of processes whose command line names ``path`` (a runner still alive)."""
    found = []
    needle = str(path).encode()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle in (d / "cmdline").read_bytes():
                found.append(int(d.name))
        except OSError:
            continue
    return found


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class RawClient:
    """A runner started by hand and a plain socket to it: any bytes can be sent."""

    def __init__(self, eim: Path, socket_path: Path, **popen: Any):
        self.socket_path = socket_path
        self.proc = subprocess.Popen([str(eim), str(socket_path)], stdin=subprocess.DEVNULL,
                                     **popen)
        wait_for(lambda: socket_path.exists() or self.proc.poll() is not None,
                 what="the runner's socket")
        assert self.proc.poll() is None, f"runner exited with {self.proc.returncode}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(str(socket_path))
        self._pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> dict[str, Any]:
        """The next response (reads up to its NUL terminator)."""
        while b"\0" not in self._pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the runner closed the connection")
            self._pending += chunk
        raw, self._pending = self._pending.split(b"\0", 1)
        assert raw.endswith(b"\n"), raw[-50:]
        return json.loads(raw)

    def request(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps(msg).encode())
        return self.response()

    def close(self) -> int:
        """Close the connection; the runner's exit status (it ends after its one
        connection)."""
        self.sock.close()
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        """Stop the runner if it still runs (SIGTERM, so that it cleans up; SIGKILL if it
        does not end)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.sock.close()


def stop_and_reap(runner: Any) -> Optional[int]:
    """The official client's ``stop()`` (it sends SIGINT and forgets the process), then wait
    for the runner to end, so that no zombie is left: its exit status."""
    proc = runner._runner
    runner.stop()
    return proc.wait(timeout=30) if proc is not None else None

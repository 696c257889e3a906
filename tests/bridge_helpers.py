"""Shared pieces of the serial-bridge tests: emulated boards on real ptys (opened by real
pyserial through a symlink, as /dev/serial/by-id/ links), a bounded wait, a result collector,
and running `edgert bridge` as a subprocess."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path(__file__).parent / "data" / "motion-demo"


def wait_for(pred, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


class Collector(io.StringIO):
    """An OutputSink stream that keeps the JSON lines."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.objects: List[dict] = []

    def write(self, s: str) -> int:
        with self._lock:
            for line in s.splitlines():
                if line.strip():
                    self.objects.append(json.loads(line))
        return len(s)

    def flush(self) -> None:
        pass

    def by_port(self, port: str) -> List[dict]:
        with self._lock:
            return [o for o in self.objects if o.get("port") == port]


def bridge_cmd(*args: str) -> List[str]:
    return [sys.executable, "-m", "edgert", "bridge", *args]


def bridge_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start_bridge(*args: str) -> subprocess.Popen:
    return subprocess.Popen(bridge_cmd(*args), cwd=str(ROOT), env=bridge_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

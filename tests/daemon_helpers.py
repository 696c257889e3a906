"""Shared pieces of the gateway daemon tests: the daemon in this process (a real uvicorn
server on 127.0.0.1 in a thread) or as a subprocess (for SIGKILL and SIGTERM), TOML configs,
recordings from the test dataset, and HTTP receivers for webhooks."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLE = HERE / "data" / "motion-demo"
DATASET = HERE / "data" / "dataset" / "motion"
DATASET_KEY = "dataset-test-hmac-key"  # the key the test dataset's documents are signed with
API_KEY = "ei_gateway_test_key_0123"


def recording_values(name: str = "testing/idle.01.json", rows: Optional[int] = 125) -> list:
    doc = json.loads((DATASET / name).read_bytes())
    values = doc["payload"]["values"]
    return values if rows is None else values[:rows]


def dataset_files(*names: str) -> List[Path]:
    return [DATASET / n for n in names]


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def write_config(path: Path, limits: Optional[Dict[str, Any]] = None, **keys: Any) -> Path:
    lines = [f"{k} = {toml_value(v)}" for k, v in keys.items() if v is not None]
    if limits:
        lines.append("\n[limits]")
        lines += [f"{k} = {toml_value(v)}" for k, v in limits.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class LocalDaemon:
    """A daemon in this process: ``url``, ``gw`` (the Gateway), ``client`` (httpx with the
    key), ``server`` (its HttpServer)."""

    def __init__(self, gw: Any, server: Any) -> None:
        self.gw = gw
        self.server = server
        self.url = server.url
        self.client = httpx.Client(base_url=self.url, headers={"x-api-key": API_KEY},
                                   timeout=30.0)

    def close(self) -> None:
        self.client.close()
        self.server.stop()
        self.gw.close()


def local_config(tmp_path: Path, db: str = "gateway.db", limits: Optional[dict] = None,
                 **overrides: Any) -> Any:
    from edgert.daemon.config import build
    flags = {"bundle": str(BUNDLE), "db": str(tmp_path / db), "port": 0,
             "api_key": API_KEY, "hmac_key": DATASET_KEY}
    flags.update(overrides)
    cfg = build(flags, environ={})
    if limits:
        for k, v in limits.items():
            setattr(cfg.limits, k, v)
        cfg.limits.validate()
    return cfg


@contextlib.contextmanager
def running_daemon(tmp_path: Path, **kw: Any) -> Iterator[LocalDaemon]:
    from edgert.daemon.app import Gateway, create_app
    from edgert.web.server import HttpServer
    cfg = local_config(tmp_path, **kw)
    gw = Gateway(cfg)
    lim = cfg.limits
    server = HttpServer(create_app(gw), host=cfg.host, port=0,
                        max_connections=lim.max_connections,
                        request_timeout=lim.request_timeout, body_timeout=lim.body_timeout,
                        graceful_timeout=lim.graceful_timeout_s, lifespan="on")
    gw.guard = server.guard
    try:
        server.start()
    except BaseException:
        gw.close()
        raise
    d = LocalDaemon(gw, server)
    try:
        yield d
    finally:
        d.close()


def upload(d: Any, *paths: Path, category: str = "testing", key: str = API_KEY,
           **headers: str) -> List[httpx.Response]:
    """POST each file to the daemon's /api/{category}/data as a device would."""
    out = []
    for p in paths:
        ctype = "application/json" if p.suffix == ".json" else "application/cbor"
        h = {"x-api-key": key, "x-file-name": p.name, "content-type": ctype}
        h.update(headers)
        out.append(httpx.post(f"{d.url}/api/{category}/data", content=p.read_bytes(),
                              headers=h, timeout=30.0))
    return out


# --- the daemon as a subprocess -------------------------------------------------------------

def daemon_cmd(config: Path, *extra: str) -> List[str]:
    return [sys.executable, "-m", "edgert", "daemon", "--config", str(config), "--json",
            *extra]


def start_daemon_process(config: Path, *extra: str, log_path: Optional[Path] = None,
                         timeout: float = 60.0):
    """(process, url) of `edgert daemon --config FILE --json`, once it listens."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH",
                                                                                ""))
    err = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(daemon_cmd(config, *extra), cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=err, text=True)
    if log_path:
        err.close()
    text = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            proc.wait(5)
            raise AssertionError(f"the daemon exited ({proc.returncode}) before listening; "
                                 f"log: {log_path and Path(log_path).read_text()[-3000:]}")
        text += line
        if line.startswith("}"):
            return proc, json.loads(text)["url"]
    proc.kill()
    raise AssertionError("the daemon did not start in time")


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0
                 ) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(pred, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


# --- webhook receivers -------------------------------------------------------------------------

class Receiver:
    """A real HTTP receiver on 127.0.0.1 (Starlette on uvicorn, as the daemon): records every
    request (headers, body, time) and answers with the status ``plan`` gives for the n-th
    request (``fail_first`` 500s, then 200)."""

    def __init__(self, fail_first: int = 0, status: int = 500, port: int = 0) -> None:
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route, Router
        from edgert.web.server import HttpServer

        self.requests: List[Dict[str, Any]] = []
        self.fail_first = fail_first
        self.status = status
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                n = len(self.requests)
                self.requests.append({"headers": dict(request.headers), "body": body,
                                      "t": time.monotonic()})
            if n < self.fail_first:
                return Response("not now", status_code=self.status)
            return Response("ok")

        self.server = HttpServer(Router(routes=[Route("/hook", hook, methods=["POST"])]),
                                 port=port)
        self.server.start()
        self.url = self.server.url + "/hook"

    def close(self) -> None:
        self.server.stop()


class SilentReceiver:
    """Accepts connections and reads requests, never answers (until closed)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.connections: List[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for c in self.connections:
            c.close()
        self.sock.close()


def copy_bundle(tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(BUNDLE, dst)
    return dst

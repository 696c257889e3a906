"""The gateway daemon: one process holding an impulse, accepting data from devices,
classifying it, keeping results, and forwarding anomalies upstream without losing any.

:class:`Gateway` owns the state (impulse, database, dataset of ingested samples, outbox,
thread pools, webhook sender, jobs); :func:`create_app` builds the ASGI application:

* the Studio-compatible subset under ``/v1/api/{projectId}`` (:mod:`.studio`);
* the ingestion endpoints ``/api/{training,testing,anomaly}/{data,files}``
  (:class:`~edgert.ingestion.asgi.IngestionEndpoint` over the gateway's dataset; every stored
  sample is scanned for anomaly events);
* live classification ``POST /api/classify``, ``GET /api/result/{id}`` (:mod:`.live`);
* ``GET /api/outbox``, ``GET /healthz``, ``GET /metrics``, ``GET /openapi.json``.

Every endpoint needs ``x-api-key`` (compared in constant time): a missing or wrong key gets
401 on the ingestion endpoints (as upstream) and 403 with seed 002's JSON elsewhere. Every
other error is JSON ``{"success": false, "error": "..."}`` saying what to fix. C work runs
on the classification threads, except short synchronous one-window requests (under
``limits.inline_max_bytes`` / ``inline_max_windows``), which the event loop classifies itself:
a hand-off to a thread would cost more than the ~10 us of work. SQLite and file work runs on the
I/O threads.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional, Set

from .._version import __version__
from ..dataset import Dataset
from ..engine.reader import release_schema
from ..errors import ConfigurationError, EdgertError
from ..ingestion import IngestionClient, Outbox, RetryPolicy
from ..ingestion.asgi import IngestionEndpoint, ingestion_routes, INGESTION_PATHS
from ..ingestion.service import IngestionService
from ..runtime.impulse import Impulse
from ..web.app import (AccessLog, ROUTE_KEY, UNMATCHED, error_response, internal_error_handler,
                       json_response, route, send_bytes, send_error, send_json)
from ..web.body import (BodyError, ClientDisconnected, declared_length, parse_content_length,
                        read_body)
from ..web.logs import escape
from .anomalies import EventQueue
from .classify import Classifier
from .config import DaemonConfig
from .db import GatewayDB
from .jobs import JobRunner
from .live import LiveInputError, LiveService
from .metrics import DaemonMetrics
from .samples import AnomalyScanner, DatasetStore
from .studio import ApiError, StudioApi
from .webhooks import WebhookSender

log = logging.getLogger("edgert.daemon")

#: The 403 of every non-ingestion endpoint (seed 002).
FORBIDDEN = {"success": False,
             "error": "no access to current endpoint, make sure you are using correct API key"}
LIVE_PATH = "/api/classify"
#: Largest body of the small JSON endpoints (start a classify job).
SMALL_BODY = 64 * 1024
_PRUNE_EVERY_S = 30.0
#: The interpreter's thread switch interval in the daemon process (see serve()).
_SWITCH_INTERVAL_S = 0.001
#: How often the loop checks whether the worker threads are behind, what counts as behind
#: (results waiting longer, log records queued), and how long it then leaves them the GIL
#: (see Gateway._share_gil).
_SHARE_EVERY_S = 0.005
_BACKLOG_S = 0.02
_LOG_BACKLOG = 200
_HANDOFF_S = 0.0002


class Gateway:
    """Everything the daemon holds (see the module docstring)."""

    def __init__(self, cfg: DaemonConfig) -> None:
        self.cfg = cfg
        lim = cfg.limits
        self.started_at = time.time()
        self.impulse = Impulse.load(cfg.bundle)
        # the one-window plan built now (not by the first request)
        reason = self.impulse.plan_unsupported_reason()
        if reason:
            log.info("live requests take the batch path: %s", reason)
        bundle = self.impulse.bundle
        self.project_id = int(bundle.project.get("id", 0) or 0)
        self.project_name = str(bundle.project.get("name", ""))
        self.impulse_id = int(bundle.impulse_id)
        self._fingerprint: Optional[str] = None
        self.metrics = DaemonMetrics(self.project_name, str(self.impulse_id))
        self.guard: Any = None  # the server's connection guard, once serving
        self._stop = threading.Event()
        self.db = GatewayDB(cfg.db)
        self._closers: List[Any] = [self.db.close]
        try:
            self._open(cfg, lim)
        except OSError as exc:  # a folder it cannot write to, a full disk...
            self.close()
            raise ConfigurationError(f"{exc.filename or cfg.db}: {exc.strerror or exc}; the "
                                     "daemon keeps its outbox and samples next to --db and "
                                     "must be able to write there") from None
        except BaseException:
            self.close()
            raise

    def _open(self, cfg: DaemonConfig, lim: Any) -> None:
        self.classifier = Classifier(self.impulse, self.metrics)
        self.classify_pool = ThreadPoolExecutor(lim.threads, "edgert-classify")
        self.io_pool = ThreadPoolExecutor(lim.io_threads, "edgert-io")
        self._closers += [lambda: self.classify_pool.shutdown(wait=True),
                          lambda: self.io_pool.shutdown(wait=True)]
        Path(cfg.samples_dir).mkdir(parents=True, exist_ok=True)
        self.dataset = Dataset(cfg.samples_dir, hmac_key=cfg.hmac_key,
                               index_path=cfg.index_path)
        self._closers.insert(0, self.dataset.close)
        self.client = (IngestionClient(cfg.upstream, cfg.upstream_api_key or "",
                                       timeout=lim.outbox_request_timeout_s)
                       if cfg.upstream else None)
        self.outbox = Outbox(cfg.outbox_path, self.client, max_bytes=lim.outbox_max_bytes,
                             retry=RetryPolicy(base=lim.outbox_retry_base_s,
                                               cap=lim.outbox_retry_cap_s))
        self._closers.insert(0, self.outbox.close)
        if self.client is not None:
            self._closers.insert(0, self.client.close)
        self.events = EventQueue(self.outbox, cfg.hmac_key, self.metrics)
        self.scanner = AnomalyScanner(self.dataset, self.db, self.classifier, self.events)
        self.ingestion = IngestionService(
            DatasetStore(self.dataset, self.scanner.scan), cfg.api_key, cfg.hmac_key,
            max_file_bytes=lim.max_file_bytes, max_document_bytes=lim.max_document_bytes)
        self.webhooks = WebhookSender(
            self.db, cfg.webhook_key, executor=self.io_pool,
            max_attempts=lim.webhook_max_attempts, timeout=lim.webhook_timeout_s,
            backoff=lim.webhook_backoff_s, backoff_cap=lim.webhook_backoff_cap_s,
            concurrency=max(4, 2 * len(cfg.webhook)), metrics=self.metrics)
        self.live = LiveService(impulse=self.impulse, classifier=self.classifier, db=self.db,
                                events=self.events, webhook_urls=cfg.webhook,
                                hmac_key=cfg.hmac_key, on_delivery=self.webhooks.notify,
                                metrics=self.metrics)
        self.jobs = JobRunner(self.db)
        self.studio = StudioApi(self)
        self.metrics.add_state(self._outbox_status, lambda: self.guard,
                               self.db.delivery_counts)
        self._api_key = cfg.api_key.encode("utf-8")
        self._queue: Optional[asyncio.Queue] = None
        self._tasks: Set[asyncio.Task] = set()

    @property
    def fingerprint(self) -> str:
        """The impulse's fingerprint (bundle files, backend, edgert version): the key of
        cached classifications (computed on first use)."""
        if self._fingerprint is None:
            from ..dataset.classify_all import impulse_fingerprint
            self._fingerprint = impulse_fingerprint(self.impulse)
        return self._fingerprint

    def _outbox_status(self) -> Any:
        try:
            return self.outbox.status()
        except EdgertError:
            return None

    def close(self) -> None:
        """Release everything (after the server stopped): pools finish their work, the
        outbox's senders stop (what is queued stays on disk), databases close."""
        self._stop.set()
        jobs = getattr(self, "jobs", None)
        if jobs is not None:
            jobs.close(wait=False)
        for close in self._closers:
            try:
                close()
            except Exception:  # noqa: BLE001 - close the rest anyway
                log.exception("daemon: error while closing")
        self._closers = []

    # -- auth --------------------------------------------------------------------------------
    def key_ok(self, headers: List[Any]) -> bool:
        for k, v in headers:
            if k == b"x-api-key":
                return secrets.compare_digest(v.strip(), self._api_key)
        return False

    # -- async side ---------------------------------------------------------------------------
    async def read_small_body(self, request: Any) -> bytes:
        lim = self.cfg.limits
        length = declared_length(request.headers)
        if length is not None and length > SMALL_BODY:
            raise ApiError(413, f"body of {length} bytes exceeds the limit of {SMALL_BODY} "
                           "bytes of this endpoint")
        try:
            return await read_body(request.receive, limit=SMALL_BODY,
                                   read_timeout=lim.request_timeout, deadline=lim.body_timeout)
        except BodyError as exc:
            raise ApiError(exc.status, exc.message) from None

    def submit_async(self, rid: str) -> None:
        if self._queue is not None:
            self._queue.put_nowait(rid)

    async def _async_worker(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            rid = await self._queue.get()
            try:
                await loop.run_in_executor(self.classify_pool, self.live.process, rid)
            except Exception:  # noqa: BLE001 - the next request must still run
                log.exception("result %s: processing failed", rid)

    async def _share_gil(self) -> None:
        """Keep the worker threads from starving while the loop thread is saturated.

        The loop thread holds the GIL for nearly all the Python work; it lets go of it at
        every C call and every system call, but takes it straight back, before a woken
        worker thread is even running - and each such hand-back also restarts the wait after
        which a worker may demand the GIL (the switch interval). A saturated loop thread can
        so keep the results writer and the log writer from running for hundreds of
        milliseconds while their queues, and the process's memory, grow. So: when either is
        behind, the loop thread leaves the GIL for a moment (a short sleep), long enough for
        a waiting thread to take it. Below saturation the loop waits for I/O often enough
        and this never triggers."""
        from ..web import logs
        while True:
            await asyncio.sleep(_SHARE_EVERY_S)
            if self.db.backlog_age() > _BACKLOG_S or logs.backlog() > _LOG_BACKLOG:
                time.sleep(_HANDOFF_S)

    async def _pruner(self) -> None:
        loop = asyncio.get_running_loop()
        lim = self.cfg.limits
        while True:
            await asyncio.sleep(_PRUNE_EVERY_S)
            try:
                n = await loop.run_in_executor(self.io_pool, self.db.prune_results,
                                               time.time() - lim.results_retention_s,
                                               lim.max_results)
                if n:
                    log.info("pruned %d old result(s)", n)
            except Exception:  # noqa: BLE001
                log.exception("pruning results failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        n = self.db.interrupt_jobs()
        if n:
            log.info("%d job(s) interrupted by the last stop are marked failed", n)
        self._queue = asyncio.Queue()
        for _ in range(self.cfg.limits.threads):
            self._spawn(self._async_worker())
        self._spawn(self._pruner())
        self._spawn(self._share_gil())
        for rid in await loop.run_in_executor(self.io_pool, self.live.unfinished):
            self._queue.put_nowait(rid)
        self.webhooks.start()
        if self.client is not None:
            self.outbox.start()
        else:
            st = self.outbox.status()
            log.warning("no --upstream: anomaly events are kept in the outbox %s (%d queued) "
                        "until one is configured", self.cfg.outbox_path, st.depth)
        # samples stored but not scanned when the daemon last stopped
        loop.run_in_executor(self.io_pool, self._rescan)
        log.info("gateway ready: project %d (%s), impulse %d, %s, db %s", self.project_id,
                 escape(self.project_name), self.impulse_id,
                 f"upstream {self.cfg.upstream}" if self.cfg.upstream else "no upstream",
                 self.cfg.db)
        try:
            yield
        finally:
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.webhooks.stop()
            log.info("gateway stopping: outbox %s", self.outbox.status().to_dict())

    def _rescan(self) -> None:
        try:
            n = self.scanner.scan_unscanned(self._stop)
            if n:
                log.info("%d anomaly event(s) queued from samples stored before the restart",
                         n)
        except Exception:  # noqa: BLE001
            log.exception("scanning stored samples for anomalies failed")


# --- endpoints ----------------------------------------------------------------------------------

_FLAG_TRUE = frozenset((b"true", b"1", b"yes"))
_FLAG_FALSE = frozenset((b"false", b"0", b"no"))


def _query_flag(scope: Dict[str, Any], name: str, default: bool) -> bool:
    raw = scope.get("query_string", b"")
    if name.encode("ascii") not in raw:
        return default
    key, sep, value = raw.partition(b"=")      # the common case: ?sync=true, nothing else
    if sep and b"&" not in value and b"%" not in value and b"+" not in value and \
            key == name.encode("ascii"):
        v = value.strip().lower()
        if v in _FLAG_TRUE:
            return True
        if v in _FLAG_FALSE:
            return False
    from urllib.parse import parse_qs
    values = parse_qs(raw.decode("latin-1")).get(name)
    if not values:
        return default
    v = values[-1].strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ApiError(400, f"{name}={values[-1]!r}: use {name}=true or {name}=false")


class LiveEndpoint:
    """``POST /api/classify`` (raw ASGI: the body is read with limits and deadlines).

    A synchronous request that is cheap and free of I/O runs on the event loop: a body of at
    most ``limits.inline_max_bytes`` whose recording is in the impulse's columns and rate with
    at most ``limits.inline_max_windows`` windows - the typical device request, one window:
    parsing it, one C call and the answer take tens of microseconds, less than handing it to a
    worker thread and back (and no thread then competes with the loop for the GIL). What it
    still has to write - anomaly events (a committed outbox write), webhook deliveries - runs
    on a worker thread; so does every other request (large bodies, long recordings,
    resampling), so the loop is never held for long."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        lim = gw.cfg.limits
        self.inline_bytes = lim.inline_max_bytes if lim.inline_max_windows > 0 else 0
        self.inline_windows = lim.inline_max_windows

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        gw = self.gw
        lim = gw.cfg.limits
        try:
            sync = _query_flag(scope, "sync", True)
        except ApiError as exc:
            await send_error(send, exc.status, exc.message, close=True)
            return
        ctype = meta = raw_length = None
        for k, v in scope["headers"]:   # the three headers this endpoint reads
            if k == b"content-length":
                raw_length = v
            elif k == b"content-type":
                ctype = v.decode("latin-1")
            elif k == b"x-metadata":
                meta = v.decode("latin-1")
        length = parse_content_length(raw_length)
        if length is not None and length > lim.max_classify_bytes:
            await send_error(send, 413, f"body of {length} bytes exceeds the limit of "
                             f"{lim.max_classify_bytes} bytes (limits.max_classify_bytes); "
                             "classify a long recording in parts", close=True)
            return
        try:
            body = await read_body(receive, limit=lim.max_classify_bytes,
                                   read_timeout=lim.request_timeout, deadline=lim.body_timeout)
        except ClientDisconnected:
            return
        except BodyError as exc:
            await send_error(send, exc.status, exc.message, close=True)
            return
        live = gw.live
        loop = asyncio.get_running_loop()
        try:
            if sync:
                if len(body) <= self.inline_bytes:
                    req = live.parse_sync(body, ctype, meta)
                    if live.quick(req, self.inline_windows):
                        live.classify_sync(req)
                        if not live.finish_needs_io(req):
                            text = live.finish_sync(req)
                            await send_bytes(send, 200, text, "application/json")
                            return
                    text = await loop.run_in_executor(gw.classify_pool, live.finish_sync, req)
                else:
                    text = await loop.run_in_executor(gw.classify_pool, live.run_sync, body,
                                                      ctype, meta)
                await send_bytes(send, 200, text, "application/json")
                return
            rid, created = await loop.run_in_executor(gw.io_pool, live.accept, body,
                                                      ctype, meta)
        except LiveInputError as exc:
            await send_error(send, exc.status, str(exc))
            return
        except EdgertError as exc:
            await send_error(send, 400, f"cannot classify this recording: {exc}")
            return
        gw.submit_async(rid)
        await send_json(send, 202, {"id": rid, "accepted_at": created})


class GateEndpoints:
    """``x-api-key`` on every endpoint: the ingestion endpoints check it themselves (401 in
    their format); everything else is refused here with the seed's 403. ``POST
    /api/classify``, the busiest route by far, goes straight to its endpoint (the router
    would find it too, after its middleware)."""

    def __init__(self, app: Any, gw: Gateway, live: Any) -> None:
        self.app = app
        self.gw = gw
        self.live = live
        self.open_paths = frozenset(INGESTION_PATHS)

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path not in self.open_paths and not self.gw.key_ok(scope["headers"]):
                scope.setdefault(ROUTE_KEY, UNMATCHED)
                await send_json(send, 403, FORBIDDEN, close=True)
                return
            if path == LIVE_PATH and scope["method"] == "POST":
                scope[ROUTE_KEY] = LIVE_PATH
                await self.live(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _api_error(request: Any, exc: Exception) -> Any:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message)


async def _http_error(request: Any, exc: Exception) -> Any:
    status = getattr(exc, "status_code", 500)
    headers = dict(getattr(exc, "headers", None) or {})
    method, path = request.method, escape(request.url.path, limit=200)
    if status == 404:
        msg = f"no endpoint {method} {path}; the endpoints are listed in GET /openapi.json"
    elif status == 405:
        allowed = [m.strip() for m in headers.get("Allow", "").split(",") if m.strip()]
        shown = [m for m in allowed if m != "HEAD"] or allowed or ["another method"]
        msg = f"{method} is not allowed on {path}; use {' or '.join(shown)}"
    else:
        msg = str(getattr(exc, "detail", "")) or f"HTTP {status}"
    return error_response(status, msg, headers)


def create_app(gw: Gateway) -> Any:
    """The daemon's ASGI application (lifespan included) for ``gw``."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException

    ingest = IngestionEndpoint(gw.ingestion, executor=gw.io_pool,
                               request_timeout=gw.cfg.limits.request_timeout,
                               body_timeout=gw.cfg.limits.body_timeout)

    async def result(request: Any) -> Any:
        rid = request.path_params["id"]
        got = await asyncio.get_running_loop().run_in_executor(gw.io_pool, gw.live.get, rid)
        if got is None:
            raise ApiError(404, f"no result with id {escape(rid, limit=64)}; results are kept "
                           f"{gw.cfg.limits.results_retention_s:g} s")
        return json_response(got)

    async def outbox(request: Any) -> Any:
        st = await asyncio.get_running_loop().run_in_executor(gw.io_pool, gw.outbox.status)
        d = st.to_dict()
        doc = {"success": True, "upstream": gw.cfg.upstream, "depth": d["depth"],
               "pending": d["pending"], "inflight": d["inflight"],
               "oldest_age_s": d["oldest_age_s"], "sent": d["sent"],
               "dead_lettered": d["dead_lettered"], "last_error": d["last_error"],
               "retries": d["retries"], "duplicates": d["duplicates"], "bytes": d["bytes"],
               "max_bytes": d["max_bytes"], "rejected": d["rejected"]}
        return json_response(doc)

    async def healthz(request: Any) -> Any:
        return json_response({"success": True, "status": "ok", "version": __version__,
                              "uptime_s": round(time.time() - gw.started_at, 3),
                              "project": gw.project_id, "impulse": gw.impulse_id})

    async def metrics(request: Any) -> Any:
        from starlette.responses import Response
        body = await asyncio.get_running_loop().run_in_executor(gw.io_pool,
                                                                gw.metrics.exposition)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi(request: Any) -> Any:
        from .openapi import document
        return json_response(document(gw))

    live = LiveEndpoint(gw)
    routes = [route(LIVE_PATH, live, ["POST"])] + gw.studio.routes() + [
        route("/api/result/{id}", result, ["GET"]),
        route("/api/outbox", outbox, ["GET"]),
        route("/healthz", healthz, ["GET"]),
        route("/metrics", metrics, ["GET"]),
        route("/openapi.json", openapi, ["GET"]),
    ] + ingestion_routes(ingest)
    app = Starlette(routes=routes, lifespan=gw.lifespan,
                    exception_handlers={ApiError: _api_error, HTTPException: _http_error,
                                        Exception: internal_error_handler})
    return AccessLog(GateEndpoints(app, gw, live), gw.metrics.http, prefix="gw")


#: glibc's mallopt parameter number for the arena count (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8


def _cap_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before the daemon starts its threads.

    By default glibc gives each thread that allocates concurrently an arena of its own, up to
    eight per core; the daemon's dozen threads can then each keep a mostly idle heap. Two
    arenas are plenty when the event loop does most allocation. deploy/edgert-daemon.service
    sets MALLOC_ARENA_MAX=2 too; this gives a daemon started any other way the same bound. A
    MALLOC_ARENA_MAX the operator set wins; other libcs (musl) have no arenas and are left
    alone.
    """
    import platform
    if os.environ.get("MALLOC_ARENA_MAX") or platform.system() != "Linux":
        return
    if platform.libc_ver()[0] != "glibc":
        return
    import ctypes
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):  # pragma: no cover - no mallopt in this libc
        log.debug("mallopt unavailable; malloc arenas left as they are")


def serve(cfg: DaemonConfig, on_started: Any = None) -> None:
    """Run the daemon in this thread until SIGTERM/SIGINT, then stop gracefully: requests in
    progress finish, then the outbox and databases close (what is queued stays on disk)."""
    from ..web.server import HttpServer

    _cap_malloc_arenas()
    gw = Gateway(cfg)
    # Every model is compiled: the model reader's schema package is forgotten (~3 MB less).
    # Only here, in the daemon's own process: code that embeds a Gateway (tests, other
    # applications) may hold the tflite modules, and would then see two copies of them.
    release_schema()
    lim = cfg.limits
    # This process is the daemon: everything it keeps is loaded now. What the loading left
    # is collected, and the rest moved out of the collector's sight (a full collection would
    # otherwise walk ~50,000 long-lived objects: a ~10 ms pause in the middle of requests).
    gc.collect()
    gc.freeze()
    # The event loop thread runs most of the Python code; the other threads (the results
    # writer, the log writer, SQLite and webhook workers) need the GIL only briefly, but when
    # the loop thread is busy they get it only when it is forced to let go - after the switch
    # interval, 5 ms by default, at every acquisition: under load they fall behind (memory
    # grows) and each takeover holds the loop up. 1 ms bounds both.
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    try:
        server = HttpServer(create_app(gw), host=cfg.host, port=cfg.port,
                            max_connections=lim.max_connections,
                            request_timeout=lim.request_timeout, body_timeout=lim.body_timeout,
                            graceful_timeout=lim.graceful_timeout_s, lifespan="on")
        gw.guard = server.guard

        def started(s: Any) -> None:
            log.info("edgert daemon %s listening on %s (pid %d)", __version__, s.url,
                     os.getpid())
            if on_started is not None:
                on_started(s)

        server.run(on_started=started)
    finally:
        gw.close()


__all__ = ["FORBIDDEN", "Gateway", "create_app", "serve"]

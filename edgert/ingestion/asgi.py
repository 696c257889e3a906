"""The ingestion endpoints as an ASGI application: :class:`IngestionService` (no sockets) behind
the HTTP stack of :mod:`edgert.web`, shared by :class:`~edgert.ingestion.IngestionServer`
(``edgert ingest serve``) and the gateway daemon.

Per request: the answer that the headers decide (404, 405, 401, 413 from Content-Length) is
sent before any body is read, with ``Connection: close`` (the server then drains what the
client still sends); otherwise the body is read with :func:`edgert.web.body.read_body` (its
size limit holds for every transfer encoding; 408 after ``request_timeout`` of silence or
``body_timeout`` in all) and handed to :meth:`IngestionService.handle` on a worker thread
(decoding and the SQLite commit must not block the event loop). A
:class:`~edgert.ingestion.faults.FaultControl` makes the real server misbehave on the wire
for fault tests.
"""
from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from typing import Any, Callable, Dict, List, Optional

from ..web.app import UNMATCHED, AccessLog, ROUTE_KEY, send_bytes
from ..web.body import BodyError, ClientDisconnected, declared_length, read_body
from . import protocol as P
from .faults import FaultControl
from .service import IngestionService, Response

#: The ingestion API's paths, in the order of the route table.
INGESTION_PATHS = tuple(f"/api/{c}/{e}" for c in P.CATEGORIES for e in P.ENDPOINTS)
ROUTE_TEMPLATE = "/api/{category}/{endpoint}"


def _headers(scope: Dict[str, Any]) -> Dict[str, str]:
    """Request headers as a dict of lower-case names (the last of repeated ones)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def send_response(send: Callable[..., Any], resp: Response, close: bool = False) -> None:
    await send_bytes(send, resp.status, resp.body, resp.content_type, resp.headers.items(),
                     close=close)


class IngestionEndpoint:
    """ASGI app of ``/api/{training,testing,anomaly}/{data,files}`` (any method; unknown paths
    get the service's 404). ``after_store(new_sample_info)`` hooks are the daemon's."""

    def __init__(self, service: IngestionService, *, executor: Executor,
                 request_timeout: float = 30.0, body_timeout: float = 300.0,
                 faults: Optional[FaultControl] = None,
                 after_store: Optional[Callable[[], None]] = None) -> None:
        self.service = service
        self.executor = executor
        self.request_timeout = float(request_timeout)
        self.body_timeout = float(body_timeout)
        self.faults = faults
        self.after_store = after_store

    async def _in_thread(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kw))

    async def __call__(self, scope: Dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        service = self.service
        method, path = scope["method"], scope["path"]
        headers = _headers(scope)
        conn = scope.get("edgert.connection")
        route = service.route(path)
        scope.setdefault(ROUTE_KEY, ROUTE_TEMPLATE if route else UNMATCHED)
        endpoint = route[1] if route else "data"
        faults = self.faults
        fault = None
        if faults is not None and method == "POST":
            fault = faults.on_request()
            if fault is not None and fault.kind == "down":
                self._reset(conn)
                return
            if faults.has_delay_before():
                await self._in_thread(faults.delay_before)
                if faults.released:  # released from a stall by stop(): drop the request
                    self._reset(conn)
                    return
        length = declared_length(headers)
        if fault is not None and fault.kind == "reset" and fault.midway:
            try:  # half of the body, then the reset
                await read_body(receive, limit=max(1, (length or 0) // 2),
                                read_timeout=self.request_timeout, deadline=self.body_timeout)
            except BodyError:
                pass
            self._reset(conn)
            return
        early = service.refusal(method, path, headers, length)
        if early is not None:
            await send_response(send, early, close=True)
            return
        try:
            body = await read_body(receive, limit=service.body_limit(endpoint),
                                   read_timeout=self.request_timeout,
                                   deadline=self.body_timeout)
        except ClientDisconnected:
            return
        except BodyError as exc:
            message = exc.message if exc.status == 408 else f"Payload too large: {exc.message}"
            await send_response(send, service.error(endpoint, exc.status, message), close=True)
            return
        if fault is not None and fault.kind == "fail":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            await send_response(send, service.error(endpoint, fault.status, fault.message,
                                                    **extra))
            return
        if fault is not None and fault.kind == "reset" and not fault.after_store:
            self._reset(conn)
            return
        after = self._after_store_hooks()
        resp = await self._in_thread(service.handle, "POST", path, headers, body,
                                     after_store=after)
        if fault is not None and fault.kind == "reset":  # after_store: the 200 is lost
            self._reset(conn)
            return
        await send_response(send, resp)

    def _after_store_hooks(self) -> Optional[Callable[[], None]]:
        hooks: List[Callable[[], None]] = []
        if self.faults is not None and self.faults.has_delay_after_store():
            hooks.append(self.faults.delay_after_store)
        if self.after_store is not None:
            hooks.append(self.after_store)
        if not hooks:
            return None
        if len(hooks) == 1:
            return hooks[0]

        def run_all() -> None:
            for hook in hooks:
                hook()
        return run_all

    @staticmethod
    def _reset(conn: Any) -> None:
        if conn is not None and hasattr(conn, "reset_connection"):
            conn.reset_connection()


def ingestion_routes(endpoint: IngestionEndpoint) -> List[Any]:
    """Starlette routes of the ingestion paths (every method: the endpoint answers 405)."""
    from starlette.routing import Route
    return [Route(p, endpoint, name=f"ingestion {p}") for p in INGESTION_PATHS]


def build_ingestion_app(service: IngestionService, *, executor: Executor,
                        request_timeout: float = 30.0, body_timeout: float = 300.0,
                        faults: Optional[FaultControl] = None, metrics: Any = None) -> Any:
    """The ingestion endpoints alone (``edgert ingest serve``): any other path gets the
    service's 404 in the ingestion API's text format."""
    from starlette.routing import Router

    endpoint = IngestionEndpoint(service, executor=executor, request_timeout=request_timeout,
                                 body_timeout=body_timeout, faults=faults)
    # every other path goes to the endpoint too, which answers it 404 (text)
    return AccessLog(Router(routes=ingestion_routes(endpoint), default=endpoint), metrics,
                     prefix="ingest")


__all__ = ["INGESTION_PATHS", "IngestionEndpoint", "build_ingestion_app", "ingestion_routes",
           "send_response"]

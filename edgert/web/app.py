"""Pieces every edgert HTTP application shares: JSON answers, the access log (one line per
request, with metrics), route templates for logs and metrics, and uncaught errors turned into
a JSON 500 that says where to look.

Applications are Starlette apps (routing, requests/responses); endpoints that need control of
the body (limits, deadlines, early refusals) are plain ASGI callables.
"""
from __future__ import annotations

import itertools
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .logs import escape

access_log = logging.getLogger("edgert.web.access")
log = logging.getLogger("edgert.web")

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Scope key of the route template (``/api/result/{id}``) a request was routed to.
ROUTE_KEY = "edgert.route"
#: Scope key of the request id the access log line carries.
REQUEST_ID_KEY = "edgert.request_id"
UNMATCHED = "(unmatched)"
#: Status logged (and counted) for a request whose connection closed before the application
#: answered (the client went away, fault injection, or a stop cut an upload short), as nginx.
CLOSED_WITHOUT_ANSWER = 499


try:  # the daemon extra installs orjson: ~10x faster both ways (request bodies of sensor
    # values, result pages); the standard library's json is the fallback, same documents
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None


def json_bytes(doc: Any) -> bytes:
    """Compact JSON (UTF-8). NaN and infinities are refused (they are not JSON)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(doc)
        except TypeError:  # a type orjson does not take (an int beyond 64 bits...)
            pass
    return json.dumps(doc, separators=(",", ":"), allow_nan=False,
                      ensure_ascii=False).encode("utf-8")


def json_loads(data: bytes) -> Any:
    """Parse JSON text; ``ValueError`` for anything that is not JSON (NaN/Infinity tokens
    included)."""
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError as exc:
            raise ValueError(str(exc)) from None
    return json.loads(data, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def error_doc(message: str) -> Dict[str, Any]:
    """The body of every JSON error: ``{"success": false, "error": message}``."""
    return {"success": False, "error": message}


async def send_bytes(send: Send, status: int, body: bytes, content_type: str,
                     headers: Iterable[Tuple[str, str]] = (), close: bool = False) -> None:
    """Send a whole response (``close``: ``Connection: close``; the server then lingers to
    drain what the client still sends, see :mod:`edgert.web.guard`)."""
    raw: List[Tuple[bytes, bytes]] = [(b"content-type", content_type.encode("latin-1")),
                                      (b"content-length", str(len(body)).encode("ascii"))]
    raw += [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, doc: Any,
                    headers: Iterable[Tuple[str, str]] = (), close: bool = False) -> None:
    await send_bytes(send, status, json_bytes(doc), "application/json", headers, close)


async def send_error(send: Send, status: int, message: str,
                     headers: Iterable[Tuple[str, str]] = (), close: bool = False) -> None:
    await send_json(send, status, error_doc(message), headers, close)


def json_response(doc: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Any:
    """A Starlette response with ``doc`` as compact JSON."""
    from starlette.responses import Response
    return Response(json_bytes(doc), status_code=status, media_type="application/json",
                    headers=headers)


def error_response(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> Any:
    return json_response(error_doc(message), status, headers)


class RouteTag:
    """Route middleware recording the route's template in the scope (for logs and metrics:
    bounded label values, no ids)."""

    def __init__(self, app: ASGIApp, template: str) -> None:
        self.app = app
        self.template = template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ROUTE_KEY] = self.template
        await self.app(scope, receive, send)


def _internal_error_message(exc: BaseException, request_id: str) -> str:
    """The message of every 500: the exception's type and where to look in the log."""
    return (f"internal error ({type(exc).__name__}); the server log has the details under "
            f"request id {request_id}")


async def internal_error_handler(request: Any, exc: Exception) -> Any:
    """Starlette's handler for uncaught exceptions: a JSON 500 naming the request id (the
    exception itself is logged by :class:`AccessLog`, which sees it re-raised)."""
    rid = request.scope.get(REQUEST_ID_KEY, "-")
    return error_response(500, _internal_error_message(exc, rid))


def route(path: str, endpoint: Any, methods: Optional[Sequence[str]] = None,
          name: Optional[str] = None) -> Any:
    """A Starlette ``Route`` that tags requests with its template."""
    from starlette.middleware import Middleware
    from starlette.routing import Route
    return Route(path, endpoint, methods=list(methods) if methods else None, name=name,
                 middleware=[Middleware(RouteTag, template=path)])


class HttpMetrics:
    """What the access log records in Prometheus form (a registry of the application's own,
    so two applications in one process do not share counters)."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Histogram
        self.requests = Counter("edgert_http_requests", "HTTP requests by route template, "
                                "method and status", ["route", "method", "status"],
                                registry=registry)
        self.duration = Histogram("edgert_http_request_duration_seconds", "Time from the "
                                  "request's headers to the end of its response", ["route"],
                                  registry=registry,
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25, 0.5, 1.0, 2.5, 10.0))

        self._children: Dict[Tuple[str, str, int], Tuple[Any, Any]] = {}

    def observe(self, route_name: str, method: str, status: int, seconds: float) -> None:
        key = (route_name, method, status)
        child = self._children.get(key)
        if child is None:  # label lookups once per route, method and status
            child = (self.requests.labels(route_name, method, str(status)),
                     self.duration.labels(route_name))
            if len(self._children) < 10_000:  # (methods and statuses are few)
                self._children[key] = child
        child[0].inc()
        child[1].observe(seconds)


_request_ids = itertools.count(1)


class AccessLog:
    """Outermost middleware: one log line per request (``edgert.web.access``, INFO) with
    the client, method, escaped path (never the query string or a header), route template,
    status (499: closed before an answer), response size and duration; metrics; and any
    uncaught exception answered ``500`` JSON naming the request id to look for in the
    log."""

    def __init__(self, app: ASGIApp, metrics: Optional[HttpMetrics] = None,
                 prefix: str = "req") -> None:
        self.app = app
        self.metrics = metrics
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        rid = f"{self.prefix}-{next(_request_ids)}"
        scope[REQUEST_ID_KEY] = rid
        state = [0, 0]  # status, body bytes

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                state[0] = message["status"]
            elif message["type"] == "http.response.body":
                state[1] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:  # noqa: BLE001 - the server answers, always
            log.error("request %s (%s %s): internal error %s: %s", rid, scope.get("method"),
                      escape(scope.get("path", "")), type(exc).__name__, escape(exc),
                      exc_info=True)
            if state[0] == 0:
                try:
                    await send_error(send_wrapper, 500, _internal_error_message(exc, rid),
                                     close=True)
                except Exception:  # noqa: BLE001 - the connection is gone
                    pass
        finally:
            seconds = time.perf_counter() - t0
            if state[0] == 0:
                state[0] = CLOSED_WITHOUT_ANSWER
            route_name = scope.get(ROUTE_KEY, UNMATCHED)
            method = scope.get("method", "-")
            if self.metrics is not None:
                self.metrics.observe(route_name, method, state[0], seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                path = escape(scope.get("path", ""))
                # made directly: the caller's file and line (a stack walk) say nothing here
                access_log.handle(access_log.makeRecord(
                    access_log.name, logging.INFO, __file__, 0,
                    '%s:%s "%s %s" %d %dB %.2fms %s',
                    (client[0], client[1], method, path, state[0], state[1], seconds * 1000.0,
                     rid), None, extra={"fields": {
                         "client": f"{client[0]}:{client[1]}", "method": method, "path": path,
                         "route": route_name, "status": state[0], "bytes": state[1],
                         "duration_ms": round(seconds * 1000.0, 3), "request_id": rid}}))


__all__ = ["AccessLog", "HttpMetrics", "REQUEST_ID_KEY", "ROUTE_KEY", "json_loads", "RouteTag", "UNMATCHED", "error_doc",
           "error_response", "internal_error_handler", "json_bytes", "json_response", "route", "send_bytes",
           "send_error", "send_json"]

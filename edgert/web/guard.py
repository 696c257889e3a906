"""Connection-level protections for uvicorn, as a mixin over its HTTP protocol classes.

uvicorn parses HTTP (llhttp through ``httptools``, or ``h11``) and runs the ASGI application;
what it does not bound is the connection around a request. :class:`GuardedProtocol` adds, per
connection, what a gateway facing devices and the internet needs:

* **Connection cap.** At most ``max_connections`` connections are served at once. A further
  connection costs one small object: it is answered ``503 Service Unavailable`` with
  ``Retry-After`` (waiting at most :data:`REFUSE_WAIT_S` for its request line, so the answer
  can be in the endpoint's format, e.g. JSON on ``/files``) and closed. uvicorn's own
  ``limit_concurrency`` answers only after the headers arrive and without ``Retry-After``.
* **Header deadline** (slowloris). A connection must deliver a request's line and headers
  within ``header_timeout`` of being opened or of its previous response; a client dripping a
  header byte now and then is cut off there. (The body has its own deadlines, enforced where
  it is read: :mod:`edgert.web.body`.)
* **Lingering close.** When uvicorn closes a connection after a response (``Connection:
  close``, e.g. a request refused from its headers), the socket is first half-closed and what
  the client still sends is read and discarded - at most ``max_drain_bytes``, within
  ``body_timeout``, and while it keeps sending at least every ``header_timeout`` - so a client
  still uploading reads the answer instead of a connection reset. (Apache and nginx call this
  lingering close.)
* **Malformed requests** (a bad request line, header or chunk size such as ``-1``) are
  answered ``400`` with a JSON body saying so, at once, and the connection closed without
  reading more. Nothing the peer sent is logged.
* **Shutdown.** :meth:`ConnectionGuard.begin_stop` closes idle and lingering connections and
  answers uploads still in progress ``503`` (retry later); requests whose body has arrived
  finish normally (uvicorn waits for them).
* **Fault injection**: :meth:`GuardedProtocol.reset_connection` aborts the connection with a
  TCP RST (``SO_LINGER`` 0), for tests against genuine network failures.

The ASGI application finds the connection of a request at ``scope["edgert.connection"]``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from typing import Any, Callable, Optional, Set, Tuple

log = logging.getLogger("edgert.web")

#: How long a refused connection may take to send its request line (from its accept).
REFUSE_WAIT_S = 0.1
#: How long a refused connection is read and discarded after its answer before it is closed.
REFUSED_LINGER_S = 1.0
#: At most this much of a refused connection's first bytes is kept to find its path.
_PEEK_BYTES = 8192

BusyBody = Callable[[Optional[str], "ConnectionGuard"], Tuple[str, bytes]]


def default_busy_body(path: Optional[str], guard: "ConnectionGuard") -> Tuple[str, bytes]:
    """The 503 body: JSON ``{"success": false, "error": ...}``."""
    doc = {"success": False, "error": f"server busy: {guard.max_connections} connections are "
           f"open; retry after {guard.busy_retry_after} s"}
    return "application/json", json.dumps(doc).encode("utf-8")


class ConnectionGuard:
    """The limits and counters shared by every connection of one server."""

    def __init__(self, *, max_connections: int = 64, header_timeout: float = 30.0,
                 body_timeout: float = 300.0, max_drain_bytes: int = 256 * 1024 * 1024,
                 busy_retry_after: int = 1, busy_body: Optional[BusyBody] = None) -> None:
        self.max_connections = int(max_connections)
        self.header_timeout = float(header_timeout)
        self.body_timeout = float(body_timeout)
        self.max_drain_bytes = int(max_drain_bytes)
        self.busy_retry_after = int(busy_retry_after)
        self.busy_body: BusyBody = busy_body or default_busy_body
        #: connections being served now (refused ones are not counted)
        self.active = 0
        #: connections answered 503 because ``max_connections`` were open
        self.refused = 0
        #: requests whose line/headers were malformed (answered 400)
        self.malformed = 0
        self.stopping = False
        self.live: Set["GuardedProtocol"] = set()

    def busy_response(self, head: bytes) -> bytes:
        """The whole 503 response for a connection that sent ``head`` so far."""
        path = None
        line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(line) >= 2:
            path = line[1].split(b"?", 1)[0].decode("latin-1")
        ctype, body = self.busy_body(path, self)
        return b"".join([
            b"HTTP/1.1 503 Service Unavailable\r\n",
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n",
            b"Content-Length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"Retry-After: " + str(self.busy_retry_after).encode("ascii") + b"\r\n",
            b"Connection: close\r\n\r\n", body])

    def begin_stop(self) -> None:
        """Start a graceful stop (call on the server's event loop): no new connections are
        served, idle and lingering ones close, uploads still arriving are answered 503."""
        self.stopping = True
        for conn in list(self.live):
            conn.guard_stop()


class _LingeringTransport:
    """The transport uvicorn sees: ``close()`` starts a lingering close instead of closing
    at once; a response's writes go out as one (uvicorn writes a response's head and its
    body separately: two system calls, each running the loopback peer's TCP work too) - when
    the response is complete (:meth:`GuardedProtocol.on_response_complete`), or at the end of
    the event loop's turn for a response still streaming; everything else is the real
    transport's."""

    __slots__ = ("_real", "_proto", "_closing", "_pending")

    def __init__(self, real: asyncio.Transport, proto: "GuardedProtocol") -> None:
        self._real = real
        self._proto = proto
        self._closing = False
        self._pending: Optional[list] = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._proto.loop.call_soon(self.flush)  # type: ignore[attr-defined]
        else:
            self._pending.append(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._real.is_closing():
            self._real.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        size = sum(len(d) for d in self._pending) if self._pending else 0
        return size + self._real.get_write_buffer_size()

    def write_eof(self) -> None:
        self.flush()
        self._real.write_eof()

    def is_closing(self) -> bool:
        return self._closing or self._real.is_closing()

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self.flush()
            self._proto._start_linger()

    def abort(self) -> None:
        self._closing = True
        self._pending = None
        self._real.abort()


class _WithConnection:
    """The ASGI app of one connection: puts the connection into the scope."""

    __slots__ = ("app", "conn")

    def __init__(self, app: Any, conn: "GuardedProtocol") -> None:
        self.app = app
        self.conn = conn

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope["edgert.connection"] = self.conn
        await self.app(scope, receive, send)


_MALFORMED = json.dumps({
    "success": False,
    "error": "malformed HTTP request: the request line, a header or the chunked body framing "
             "is not valid HTTP/1.1 (chunk sizes are hexadecimal digits, e.g. 1f4); the "
             "connection is closed"}).encode("utf-8")


class GuardedProtocol:
    """Mixin over a uvicorn HTTP protocol class; see the module docstring and
    :func:`guarded_protocol_class`."""

    guard: ConnectionGuard  # set on the concrete subclass

    # attributes of the uvicorn protocol this relies on: loop, app, cycle (with
    # response_started, response_complete, more_body, disconnected, message_event),
    # connection_made/data_received/eof_received/connection_lost, on_response_complete,
    # send_400_response, shutdown

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.app = _WithConnection(self.app, self)  # type: ignore[has-type]
        self._real: Optional[asyncio.Transport] = None
        self._writer: Optional[_LingeringTransport] = None
        self._refused = False
        self._timer: Optional[asyncio.TimerHandle] = None
        self._lingering = False
        self._linger_bytes = 0
        self._linger_until = 0.0
        self._seen_cycle: Any = None
        self._peek = b""
        self._answered = False
        self._counted = False

    # -- asyncio protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        g = self.guard
        self._real = transport
        if g.stopping or g.active >= g.max_connections:
            self._refused = True
            g.refused += 1
            self._arm(REFUSE_WAIT_S, self._answer_busy)
            return
        g.active += 1
        g.live.add(self)
        self._counted = True
        self._writer = _LingeringTransport(transport, self)
        super().connection_made(self._writer)  # type: ignore[misc]
        self._arm(g.header_timeout, self._header_deadline)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            if not self._answered and len(self._peek) < _PEEK_BYTES:
                self._peek += data[:_PEEK_BYTES]
                if b"\r\n" in self._peek:
                    self._answer_busy()
            return  # (after the answer: read and discarded until the close)
        if self._lingering:
            self._linger_bytes += len(data)
            if self._linger_bytes > self.guard.max_drain_bytes:
                self._close_now()
            else:
                self._arm_linger()
            return
        super().data_received(data)  # type: ignore[misc]
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle is not self._seen_cycle:
            # a request's headers are complete: its body deadlines are the application's
            self._seen_cycle = cycle
            self._disarm()

    def eof_received(self) -> Optional[bool]:
        if self._refused or self._lingering:
            self._close_now()
            return None
        return super().eof_received()  # type: ignore[misc]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._disarm()
        if self._refused:
            return
        if self._counted:
            self._counted = False
            self.guard.active -= 1
            self.guard.live.discard(self)
        super().connection_lost(exc)  # type: ignore[misc]

    # -- uvicorn hooks ----------------------------------------------------------------------
    def on_response_complete(self) -> None:
        # the whole response out now, in one write: not after whatever else this turn of the
        # loop runs (a burst of requests would otherwise all be answered at its end)
        writer = self._writer
        if writer is not None:
            writer.flush()
        super().on_response_complete()  # type: ignore[misc]
        if self._lingering or self._real is None or self._real.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle is not self._seen_cycle:
            self._seen_cycle = cycle  # a pipelined request started
            return
        if cycle is None or cycle.response_complete:
            self._arm(self.guard.header_timeout, self._header_deadline)

    def send_400_response(self, msg: str) -> None:
        """A malformed request: say so (JSON), close without reading more. The reason phrase
        is the classic one; nothing of the request is echoed."""
        self.guard.malformed += 1
        real = self._real
        if real is None or real.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self._close_now()  # mid-response (a pipelined request broke): just close
            return
        real.write(b"HTTP/1.1 400 Bad request\r\ncontent-type: application/json\r\n"
                   b"content-length: " + str(len(_MALFORMED)).encode("ascii")
                   + b"\r\nconnection: close\r\n\r\n" + _MALFORMED)
        if cycle is not None:
            cycle.disconnected = True
            cycle.message_event.set()
        self._close_now()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown of this connection."""
        if self.guard.stopping and self._lingering:
            self._close_now()
            return
        super().shutdown()  # type: ignore[misc]

    # -- guard ------------------------------------------------------------------------------
    def guard_stop(self) -> None:
        if self._lingering:
            self._close_now()
            return
        cycle = getattr(self, "cycle", None)
        if cycle is None or cycle.response_complete:
            return  # idle: uvicorn's shutdown closes it
        if not cycle.response_started and cycle.more_body and not cycle.disconnected:
            # still uploading: it would hold the shutdown for as long as it takes
            real = self._real
            if real is not None and not real.is_closing():
                body = json.dumps({"success": False, "error": "server shutting down; retry "
                                   f"after {self.guard.busy_retry_after} s"}).encode()
                real.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: "
                           b"application/json\r\ncontent-length: "
                           + str(len(body)).encode() + b"\r\nretry-after: "
                           + str(self.guard.busy_retry_after).encode()
                           + b"\r\nconnection: close\r\n\r\n" + body)
            cycle.disconnected = True
            cycle.message_event.set()
            self._close_now()

    def reset_connection(self) -> None:
        """Abort with a TCP RST (``SO_LINGER`` 0) and no answer (fault injection)."""
        real = self._real
        if real is None:
            return
        sock = real.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        cycle = getattr(self, "cycle", None)
        if cycle is not None:
            cycle.disconnected = True
            cycle.message_event.set()
        self._disarm()
        self._lingering = True
        real.abort()

    @property
    def peer(self) -> str:
        real = self._real
        peer = real.get_extra_info("peername") if real is not None else None
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"{peer[0]}:{peer[1]}"
        return "-"

    # -- internals --------------------------------------------------------------------------
    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(max(0.0, delay), callback)  # type: ignore[attr-defined]

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close_now(self) -> None:
        self._disarm()
        self._lingering = True  # nothing more is fed to the parser
        real = self._real
        if real is not None and not real.is_closing():
            real.close()

    def _answer_busy(self) -> None:
        self._timer = None
        real = self._real
        if self._answered or real is None or real.is_closing():
            return
        self._answered = True
        log.debug("connection from %s refused: %d connections open", self.peer,
                  self.guard.max_connections)
        real.write(self.guard.busy_response(self._peek))
        self._peek = b""
        self._half_close(real)
        self._arm(REFUSED_LINGER_S, self._close_now)

    def _header_deadline(self) -> None:
        self._timer = None
        log.debug("connection from %s: no complete request within %g s; closed", self.peer,
                  self.guard.header_timeout)
        self._close_now()

    def _start_linger(self) -> None:
        """uvicorn asked to close: half-close, then read and discard until the client closes
        (bounded in bytes, total time and silence)."""
        if self._lingering:
            return
        real = self._real
        if real is None or real.is_closing() or self.guard.stopping:
            self._close_now()
            return
        self._lingering = True
        if not self._half_close(real):
            self._close_now()
            return
        try:
            real.resume_reading()  # uvicorn's flow control may have paused it
        except (RuntimeError, AttributeError):
            pass
        self._linger_until = self.loop.time() + self.guard.body_timeout  # type: ignore[attr-defined]
        self._arm_linger()

    def _arm_linger(self) -> None:
        left = self._linger_until - self.loop.time()  # type: ignore[attr-defined]
        if left <= 0:
            self._close_now()
            return
        self._arm(min(self.guard.header_timeout, left), self._close_now)

    @staticmethod
    def _half_close(real: asyncio.Transport) -> bool:
        try:
            if real.can_write_eof():
                real.write_eof()
                return True
        except (OSError, RuntimeError, NotImplementedError):
            pass
        return False


def guarded_protocol_class(guard: ConnectionGuard, http: str = "auto") -> type:
    """A uvicorn HTTP protocol class (pass as ``uvicorn.Config(http=...)``) with ``guard``'s
    protections. ``http``: ``httptools`` (llhttp, the default when installed), ``h11`` or
    ``auto``."""
    if http == "auto":
        import importlib.util
        # the daemon extra installs httptools; h11 comes with uvicorn
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    elif http == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol as base  # type: ignore[assignment]
    else:
        raise ValueError(f"http must be 'httptools', 'h11' or 'auto', got {http!r}")
    return type(f"Guarded{base.__name__}", (GuardedProtocol, base), {"guard": guard})


__all__ = ["ConnectionGuard", "GuardedProtocol", "REFUSE_WAIT_S", "default_busy_body",
           "guarded_protocol_class"]

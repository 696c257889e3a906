"""Running an ASGI application on uvicorn with the protections of :mod:`edgert.web.guard`.

:class:`HttpServer` binds its socket itself (so port 0 is resolved before serving, and a
stopped server can be started again on the same port), then serves either

* in a background thread with its own event loop - :meth:`HttpServer.start` /
  :meth:`HttpServer.stop` (tests, and servers embedded in a program), or
* in the calling (main) thread until SIGTERM/SIGINT - :meth:`HttpServer.run` (the CLI).

Stopping is graceful and prompt: the listener closes, idle and lingering connections close,
uploads still arriving are answered 503 (retry later), requests whose body has arrived finish
(up to ``graceful_timeout``), then the application's lifespan shutdown runs.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from typing import Any, Callable, Iterator, Optional

from ..errors import ConfigurationError
from .guard import BusyBody, ConnectionGuard, guarded_protocol_class

log = logging.getLogger("edgert.web")


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
            return uvloop.new_event_loop()
        except ImportError:
            if kind == "uvloop":
                raise ConfigurationError("loop='uvloop' but uvloop is not installed") from None
    return asyncio.new_event_loop()


def _uvicorn_server_class() -> type:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn's server without its own signal handling (HttpServer installs it)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return _Server


class HttpServer:
    """One ASGI application on one socket (see the module docstring).

    ``request_timeout``: deadline for a request's line and headers, and for silence while a
    refused body is drained; ``body_timeout``: deadline of a lingering close (the application
    enforces body deadlines where it reads bodies, :mod:`edgert.web.body`).
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 max_connections: int = 64, request_timeout: float = 30.0,
                 body_timeout: float = 300.0, max_drain_bytes: int = 256 * 1024 * 1024,
                 busy_retry_after: int = 1, busy_body: Optional[BusyBody] = None,
                 http: str = "auto", loop: str = "auto", graceful_timeout: float = 10.0,
                 lifespan: str = "off") -> None:
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be at least 1, got "
                                     f"{max_connections}")
        if request_timeout <= 0 or body_timeout <= 0:
            raise ConfigurationError("request_timeout and body_timeout must be positive")
        self.app = app
        self.host = host
        self.port = int(port)
        self.request_timeout = float(request_timeout)
        self.guard = ConnectionGuard(max_connections=max_connections,
                                     header_timeout=request_timeout, body_timeout=body_timeout,
                                     max_drain_bytes=max_drain_bytes,
                                     busy_retry_after=busy_retry_after, busy_body=busy_body)
        self.http = http
        self.loop_kind = loop
        self.graceful_timeout = float(graceful_timeout)
        self.lifespan = lifespan
        self._server: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None

    # -- facts ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- setup ----------------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise ConfigurationError(f"cannot resolve the address {self.host!r} to listen on "
                                     f"({exc.strerror}); give an IP address or host name") \
                from None
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            sock.close()
            raise ConfigurationError(f"cannot listen on {self.host}:{self.port}: "
                                     f"{exc.strerror}; is another server using the port?") \
                from None
        sock.listen(2048)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    def _make_server(self) -> Any:
        import uvicorn
        self.guard.stopping = False
        config = uvicorn.Config(
            self.app, http=guarded_protocol_class(self.guard, self.http), lifespan=self.lifespan,
            log_config=None, access_log=False, proxy_headers=False, server_header=False,
            # idle connections are closed by the guard's header deadline; uvicorn's own
            # keep-alive timer is only a backstop
            timeout_keep_alive=int(self.request_timeout) + 5,
            timeout_graceful_shutdown=max(1, int(round(self.graceful_timeout))))
        return _uvicorn_server_class()(config)

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await self._server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits when the lifespan startup fails
            self._error = ConfigurationError(f"the application failed to start (exit "
                                             f"{exc.code}); see the log above")

    def _begin_stop(self) -> None:
        """On the server's loop: start the graceful stop."""
        self.guard.begin_stop()
        if self._server is not None:
            self._server.should_exit = True

    # -- background thread --------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> "HttpServer":
        """Serve in a background thread; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        sock = self._bind()
        self._server = self._make_server()
        self._error = None
        ready = threading.Event()

        def main() -> None:
            loop = _new_loop(self.loop_kind)
            self._loop = loop
            asyncio.set_event_loop(loop)
            ready.set()
            try:
                loop.run_until_complete(self._serve(sock))
            except BaseException as exc:  # noqa: BLE001 - reported to start()/stop()
                self._error = exc
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()
                    sock.close()

        self._thread = threading.Thread(target=main, name=f"edgert-http-{self.port}",
                                        daemon=True)
        self._thread.start()
        ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread.join(1.0)
                self._thread = None
                self._server = None
                err = self._error or ConfigurationError(
                    f"the HTTP server on {self.url} did not start within {timeout:g} s")
                raise err
            time.sleep(0.005)
        return self

    def stop(self, timeout: Optional[float] = None) -> None:
        """Graceful stop of a server started with :meth:`start` (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._begin_stop)
            except RuntimeError:  # the loop closed meanwhile
                pass
        thread.join(timeout if timeout is not None else self.graceful_timeout + 5.0)
        if thread.is_alive():
            log.warning("HTTP server on %s did not stop within the graceful timeout", self.url)
        self._thread = None
        self._loop = None
        self._server = None

    # -- main thread ----------------------------------------------------------------------
    def run(self, on_started: Optional[Callable[["HttpServer"], None]] = None,
            signals: tuple = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Serve in this thread until one of ``signals`` arrives, then stop gracefully.
        ``on_started`` is called once the server accepts connections."""
        sock = self._bind()
        self._server = self._make_server()
        loop = _new_loop(self.loop_kind)
        self._loop = loop
        asyncio.set_event_loop(loop)
        for sig in signals:
            loop.add_signal_handler(sig, self._begin_stop)

        async def main() -> None:
            serving = asyncio.ensure_future(self._serve(sock))
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.005)
            if self._server.started and on_started is not None:
                on_started(self)
            await serving

        try:
            loop.run_until_complete(main())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            loop.close()
            sock.close()
            self._loop = None
            self._server = None
        if self._error is not None:
            raise self._error


__all__ = ["HttpServer"]

"""The local ingestion server: the ingestion endpoints (:mod:`edgert.ingestion.service`) alone
on a socket, on the same Starlette application and uvicorn server as the gateway daemon
(:mod:`edgert.ingestion.asgi`, :mod:`edgert.web`). ``edgert ingest serve`` runs it; the
ingestion, outbox and fault tests (and other faces' tests) use it as a real peer. Needs the
``daemon`` extra.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, Sequence, Union

from ..errors import ConfigurationError
from . import protocol as P
from .faults import FaultControl
from .service import (DEFAULT_MAX_DOCUMENT_BYTES, Inspect, IngestionService,
                      inspect_document)
from .store import SampleStore

log = logging.getLogger("edgert.ingestion.server")


class IngestionServer:
    """The ingestion API on a local socket.

    >>> with IngestionServer(api_keys="ei_test", hmac_key="secret") as srv:
    ...     client = IngestionClient(srv.url, "ei_test")

    ``store`` is a :class:`SampleStore` or a database path (``":memory:"`` by default).
    ``stop()`` then ``start()`` again rebinds the same port (to simulate an outage).
    ``request_timeout``: per silence while a body arrives, and for the request line and
    headers as a whole (slowloris); ``body_timeout`` (default ``max(60, 10 x
    request_timeout)``): for a whole body, and for draining a refused one.
    """

    def __init__(self, store: Union[SampleStore, str] = ":memory:",
                 api_keys: Union[str, Sequence[str]] = "ei_local",
                 hmac_key: Optional[str] = None, *, host: str = "127.0.0.1", port: int = 0,
                 max_file_bytes: int = P.MAX_FILE_BYTES, max_request_bytes: Optional[int] = None,
                 max_files: int = P.MAX_FILES_PER_REQUEST, reject_bad_signatures: bool = False,
                 request_timeout: float = 30.0, faults: Optional[FaultControl] = None,
                 max_drain_bytes: int = 256 * 1024 * 1024, inspect: Inspect = inspect_document,
                 max_connections: int = 64, body_timeout: Optional[float] = None,
                 busy_retry_after: int = 1,
                 max_document_bytes: Optional[int] = DEFAULT_MAX_DOCUMENT_BYTES,
                 workers: int = 8, http: str = "auto") -> None:
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be at least 1, got "
                                     f"{max_connections}")
        if request_timeout <= 0 or (body_timeout is not None and body_timeout <= 0):
            raise ConfigurationError("request_timeout and body_timeout must be positive")
        self.store = store if isinstance(store, SampleStore) else SampleStore(store)
        self._owns_store = not isinstance(store, SampleStore)
        self.service = IngestionService(self.store, api_keys, hmac_key,
                                        max_file_bytes=max_file_bytes, max_files=max_files,
                                        reject_bad_signatures=reject_bad_signatures,
                                        inspect=inspect, max_document_bytes=max_document_bytes,
                                        max_request_bytes=max_request_bytes)
        self.host = host
        self.port = port
        self.max_request_bytes = self.service.max_request_bytes
        self.request_timeout = float(request_timeout)
        self.body_timeout = float(body_timeout if body_timeout is not None
                                  else max(60.0, 10.0 * request_timeout))
        self.max_drain_bytes = int(max_drain_bytes)
        self.max_connections = int(max_connections)
        self.busy_retry_after = int(busy_retry_after)
        self.faults = faults or FaultControl()
        self.workers = int(workers)
        self.http_parser = http  # uvicorn's parser: httptools (llhttp), h11, or auto
        self._http: Any = None
        self._executor: Optional[ThreadPoolExecutor] = None
        self._refused_before = 0  # refusals counted by earlier runs (stop/start)

    # -- what the tests and the CLI read ---------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._http is not None

    @property
    def stopping(self) -> bool:
        return self._http is None or self._http.guard.stopping

    @property
    def active_connections(self) -> int:
        """Connections being served right now."""
        return self._http.guard.active if self._http is not None else 0

    @property
    def refused_busy(self) -> int:
        """Connections answered 503 because ``max_connections`` were open."""
        return self._refused_before + (self._http.guard.refused if self._http else 0)

    def build_server(self) -> Any:
        """The :class:`~edgert.web.server.HttpServer` of this configuration (not started)."""
        from ..web.server import HttpServer
        from .asgi import build_ingestion_app

        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers,
                                                thread_name_prefix="edgert-ingestion")
        app = build_ingestion_app(self.service, executor=self._executor,
                                  request_timeout=self.request_timeout,
                                  body_timeout=self.body_timeout, faults=self.faults)
        service = self.service
        return HttpServer(
            app, host=self.host, port=self.port, max_connections=self.max_connections,
            request_timeout=self.request_timeout, body_timeout=self.body_timeout,
            max_drain_bytes=self.max_drain_bytes, busy_retry_after=self.busy_retry_after,
            busy_body=lambda path, g: service.busy_body(path, g.max_connections,
                                                        g.busy_retry_after),
            http=self.http_parser)

    def start(self) -> "IngestionServer":
        if self._http is not None:
            return self
        self.faults.rearm()
        http = self.build_server()
        http.start()
        self.port = http.port
        self._http = http
        log.info("ingestion server listening on %s", self.url)
        return self

    def run(self, on_started: Optional[Callable[["IngestionServer"], None]] = None) -> None:
        """Serve in this (main) thread until SIGTERM/SIGINT, then stop gracefully."""
        http = self.build_server()

        def started(h: Any) -> None:
            self.port = h.port
            self._http = h
            if on_started is not None:
                on_started(self)

        try:
            http.run(on_started=started)
        finally:
            self._http = None
            self.faults.release()

    def stop(self) -> None:
        """Stop listening (stalled fault delays are released). The store stays open."""
        http, self._http = self._http, None
        if http is None:
            return
        self.faults.release()
        self._refused_before += http.guard.refused
        http.stop()

    def close(self) -> None:
        self.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "IngestionServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

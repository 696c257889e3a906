"""Fault injection for the local ingestion server (tests and chaos drills).

A :class:`FaultControl` is a switchboard the server consults on every request; flipping a
switch changes what the *real* server does on the wire - it resets TCP connections (RST via
``SO_LINGER`` 0), answers 500/429 with Retry-After, stalls before or after storing - so clients
are tested against genuine network behaviour, not mocks. Thread-safe; all delays wake early on
:meth:`release` so a server can always stop promptly.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional


@dataclass(frozen=True)
class Fault:
    """One scheduled misbehaviour for one request.

    kind: ``fail`` (answer ``status`` with ``message`` and optional Retry-After, nothing
    stored), ``reset`` (read the request, then reset the connection; ``midway`` resets after
    half of the body arrived; ``after_store`` stores the sample first, i.e. the 200 is lost on
    the way back).
    """

    kind: str
    status: int = 500
    retry_after: Optional[str] = None
    message: str = "injected fault: internal server error"
    after_store: bool = False
    midway: bool = False


class FaultControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: Deque[Fault] = deque()
        self._down = False
        self._delay_before = 0.0
        self._delay_after_store = 0.0
        self._released = threading.Event()
        self.counts: Dict[str, int] = {"requests": 0, "down": 0, "fail": 0, "reset": 0,
                                       "delayed": 0}

    # -- switches -------------------------------------------------------------------------
    @property
    def down(self) -> bool:
        return self._down

    @down.setter
    def down(self, value: bool) -> None:
        """While down, every connection is reset before the request is read."""
        self._down = bool(value)

    def set_delay(self, before: float = 0.0, after_store: float = 0.0) -> None:
        """Stall each request ``before`` seconds before handling it, and/or ``after_store``
        seconds after storing but before answering (a client timeout then loses the 200)."""
        with self._lock:
            self._delay_before = max(0.0, before)
            self._delay_after_store = max(0.0, after_store)

    def fail_next(self, n: int = 1, status: int = 500, retry_after: Optional[str] = None,
                  message: Optional[str] = None) -> None:
        with self._lock:
            for _ in range(n):
                self._queue.append(Fault("fail", status, retry_after,
                                         message or f"injected fault: HTTP {status}"))

    def reset_next(self, n: int = 1, after_store: bool = False, midway: bool = False) -> None:
        with self._lock:
            for _ in range(n):
                self._queue.append(Fault("reset", after_store=after_store, midway=midway))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._down = False
            self._delay_before = self._delay_after_store = 0.0

    def release(self) -> None:
        """Wake every stalled request (used by ``IngestionServer.stop``)."""
        self._released.set()

    def rearm(self) -> None:
        self._released.clear()

    @property
    def released(self) -> bool:
        """True after :meth:`release` (the server is stopping) until :meth:`rearm`."""
        return self._released.is_set()

    def has_delay_before(self) -> bool:
        return self._delay_before > 0

    def has_delay_after_store(self) -> bool:
        return self._delay_after_store > 0

    # -- consulted by the server ------------------------------------------------------------
    def on_request(self) -> Optional[Fault]:
        """Called once per request; returns the fault to apply (or None) and counts it."""
        with self._lock:
            self.counts["requests"] += 1
            if self._down:
                self.counts["down"] += 1
                return Fault("down")
            fault = self._queue.popleft() if self._queue else None
            if fault is not None:
                self.counts[fault.kind] += 1
            return fault

    def delay_before(self) -> None:
        self._sleep(self._delay_before)

    def delay_after_store(self) -> None:
        self._sleep(self._delay_after_store)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self.counts["delayed"] += 1
            self._released.wait(seconds)

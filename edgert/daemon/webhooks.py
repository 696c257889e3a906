"""Webhook delivery: every live classification result is POSTed to each configured URL.

* **Durable**: a delivery is a row of the daemon's database, written in the same transaction
  as its result, so results finished before a crash are still delivered after the restart.
* **Signed**: ``x-edgert-signature: sha256=<hex>``, the HMAC-SHA256 of the exact body bytes
  with the project HMAC key (the daemon's API key when no HMAC key is configured). A receiver
  recomputes it over the raw body and compares in constant time. Also sent:
  ``x-edgert-delivery`` (the delivery's id, the same on every attempt: receivers de-duplicate
  on it), ``x-edgert-result-id``, ``x-edgert-attempt``.
* **Bounded retries**: any answer but 2xx, a timeout or a connection error is retried with
  capped exponential backoff and full jitter, at most ``webhook_max_attempts`` attempts of at
  most ``webhook_timeout_s`` each; then the delivery is ``failed`` (kept, counted in
  ``edgert_webhook_failures_total``, its last error logged). Redirects are not followed.
* **No stall elsewhere**: deliveries run concurrently, at most one at a time per URL (in
  order), so a receiver that never answers holds only its own queue - never the others, the
  classification endpoints or the event loop.

HTTP is httpx (TLS verified, proxies from the environment, connections reused).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from typing import Any, Dict, Optional, Set

from .._version import __version__
from ..web.logs import escape

log = logging.getLogger("edgert.daemon.webhooks")

SIGNATURE_HEADER = "x-edgert-signature"


def signature(key: str, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER` for ``body``."""
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(key: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(signature(key, body), header or "")


class WebhookSender:
    def __init__(self, db: Any, key: str, *, executor: Any, max_attempts: int = 6,
                 timeout: float = 5.0, backoff: float = 1.0, backoff_cap: float = 60.0,
                 concurrency: int = 8, metrics: Any = None) -> None:
        self.db = db
        self.key = key
        self.executor = executor
        self.max_attempts = int(max_attempts)
        self.timeout = float(timeout)
        self.backoff = float(backoff)
        self.backoff_cap = float(backoff_cap)
        self.concurrency = int(concurrency)
        self.metrics = metrics
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._wake: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self._inflight: Dict[int, str] = {}
        self._tasks: Set[asyncio.Task] = set()
        self._client: Any = None

    async def _db(self, fn: Any, *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self.executor, fn, *args)

    # -- lifecycle (on the event loop) ---------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    def _http(self) -> Any:
        """The client, created for the first delivery (a daemon without webhooks never
        imports httpx for them)."""
        if self._client is None:
            import httpx
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), follow_redirects=False,
                headers={"user-agent": f"edgert-daemon/{__version__}",
                         "content-type": "application/json"},
                limits=httpx.Limits(max_connections=self.concurrency * 2,
                                    max_keepalive_connections=self.concurrency,
                                    keepalive_expiry=2.0))
        return self._client

    async def stop(self) -> None:
        """Stop delivering; deliveries in flight are abandoned (still pending: retried after
        the next start)."""
        if self._task is not None:
            self._task.cancel()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(self._task, *self._tasks, return_exceptions=True)
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def notify(self) -> None:
        """New deliveries were stored (callable from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed meanwhile
                pass

    # -- the worker ----------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            free = self.concurrency - len(self._inflight)
            due = []
            if free > 0:
                try:
                    due = await self._db(self.db.due_deliveries, time.time(),
                                         set(self._inflight.values()), set(self._inflight),
                                         free)
                except Exception:  # noqa: BLE001 - a locked database: try again soon
                    log.exception("webhooks: cannot read the deliveries")
            for did, rid, url, body, attempts in due:
                self._inflight[did] = url
                task = asyncio.ensure_future(self._deliver(did, rid, url, body, attempts))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            wait = 1.0
            try:
                nxt = await self._db(self.db.next_delivery_at)
            except Exception:  # noqa: BLE001
                nxt = None
            if nxt is not None:
                wait = min(wait, max(0.01, nxt - time.time()))
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass

    def _delay(self, attempts: int) -> float:
        return random.uniform(0.0, min(self.backoff_cap,
                                       self.backoff * 2.0 ** max(0, attempts - 1)))

    async def _deliver(self, did: int, rid: str, url: str, body: bytes, attempts: int) -> None:
        import httpx
        attempts += 1
        status: Optional[int] = None
        error: Optional[str] = None
        try:
            resp = await self._http().post(url, content=body, headers={
                "x-edgert-signature": signature(self.key, body),
                "x-edgert-delivery": str(did), "x-edgert-result-id": rid,
                "x-edgert-attempt": str(attempts)})
            status = resp.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.TimeoutException:
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        try:
            if error is None:
                await self._db(self.db.delivery_done, did, attempts, status)
                if self.metrics is not None:
                    self.metrics.webhook_deliveries.labels("delivered").inc()
                return
            if self.metrics is not None:
                self.metrics.webhook_failures.inc()
            if attempts >= self.max_attempts:
                await self._db(self.db.delivery_failed, did, attempts, status, error, None)
                if self.metrics is not None:
                    self.metrics.webhook_deliveries.labels("failed").inc()
                log.warning("webhook %s: result %s not delivered after %d attempts (last: "
                            "%s); given up", escape(url), rid, attempts, escape(error))
                return
            delay = self._delay(attempts)
            await self._db(self.db.delivery_failed, did, attempts, status, error,
                           time.time() + delay)
            log.info("webhook %s: result %s attempt %d failed (%s); retry in %.1f s",
                     escape(url), rid, attempts, escape(error), delay)
        finally:
            self._inflight.pop(did, None)
            if self._wake is not None:
                self._wake.set()


__all__ = ["SIGNATURE_HEADER", "WebhookSender", "signature", "verify_signature"]

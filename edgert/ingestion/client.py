"""HTTP client of the ingestion API, with the outcome of every request classified.

The client never raises on HTTP or network failures: each upload returns an
:class:`UploadOutcome` whose ``kind`` says what the caller (the outbox) should do with the
sample - it was stored, the server already had it, it can never succeed (dead-letter it with the
server's reason) or it should be retried later (with ``retry_after`` when the server said so).

HTTP is httpx: TLS certificates are verified by default (the real upstream is HTTPS; pass
``verify=`` a CA bundle path for a private CA, or set ``SSL_CERT_FILE``), proxies come from the
environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) as gateways behind
corporate networks need, and connections are kept alive and reused between uploads (a pool
shared by the outbox's sender threads). httpx never retries by itself: a connection that breaks
mid-request is one ``retry`` outcome, and the pool opens a fresh connection for the next
request, so a reset or a half-read response cannot poison the next upload.
"""
from __future__ import annotations

import email.utils
import errno
import json
import logging
import random
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from . import protocol as P

log = logging.getLogger("edgert.ingestion.client")

STORED = "stored"
DUPLICATE = "duplicate"
PERMANENT = "permanent"
RETRY = "retry"

#: 4xx statuses that are worth retrying (timeouts, rate limits, "too early").
RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class UploadOutcome:
    """What happened to one uploaded sample.

    kind: ``stored`` (200), ``duplicate`` (the server rejected it because it already holds this
    content - the sample *is* on the server), ``permanent`` (400/401/413/421/...: retrying the
    same request cannot help) or ``retry`` (429, 5xx, timeouts, connection errors).
    """

    kind: str
    status: Optional[int]
    message: str
    retry_after: Optional[float] = None
    filename: Optional[str] = None

    @property
    def delivered(self) -> bool:
        """True when the content is on the server (stored now or before)."""
        return self.kind in (STORED, DUPLICATE)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if
    absent or unparseable, never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def is_duplicate_message(message: str) -> bool:
    """Whether a 400 body / per-file error is an x-disallow-duplicates rejection."""
    m = message.strip().lower()
    return m.startswith(P.DUPLICATE_MESSAGE_PREFIX) or "already exists" in m


def classify_status(status: int, message: str, retry_after: Optional[float] = None,
                    filename: Optional[str] = None) -> UploadOutcome:
    """Map an HTTP status (and body) of ``/data`` to an outcome."""
    if 200 <= status < 300:
        return UploadOutcome(STORED, status, message, None, filename or message.strip() or None)
    if status == 400 and is_duplicate_message(message):
        return UploadOutcome(DUPLICATE, status, message)
    if status in RETRYABLE_4XX or status >= 500:
        return UploadOutcome(RETRY, status, message or f"HTTP {status}", retry_after)
    return UploadOutcome(PERMANENT, status, message or f"HTTP {status}")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
    And Jitter"): attempt n waits uniform(0, min(cap, base * 2**n)) seconds. A server's
    Retry-After is honoured as a lower bound (capped at ``max_retry_after`` so a hostile or
    broken header cannot park the queue for days). ``max_attempts`` None = never give up."""

    base: float = 0.5
    cap: float = 60.0
    max_retry_after: float = 3600.0
    max_attempts: Optional[int] = None

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0 or self.cap < self.base:
            raise ConfigurationError(
                f"RetryPolicy needs 0 < base <= cap, got base={self.base} cap={self.cap}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigurationError("RetryPolicy.max_attempts must be >= 1 or None")

    def delay(self, attempt: int, retry_after: Optional[float] = None,
              rng: Optional[random.Random] = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        rng = rng or random
        exp = min(self.cap, self.base * (2.0 ** max(0, min(attempt - 1, 62))))
        wait = rng.uniform(0.0, exp)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


class IngestionClient:
    """Uploads samples to an ingestion server (upstream ``https://ingestion.edgeimpulse.com``,
    or an :class:`~edgert.ingestion.server.IngestionServer`).

    ``timeout`` bounds the connect and every read and write, so a stalled server turns into a
    ``retry`` outcome instead of a hung sender thread. ``verify``: True (the system's CA
    bundle as httpx finds it), a CA bundle path, or an ``ssl.SSLContext``; False only for a
    lab. ``trust_env``: proxies and CA settings from the environment. The connection pool is
    created on first use and shared by threads; :meth:`close` releases it.
    """

    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0,
                 user_agent: str = "edgert-ingestion", *,
                 verify: Union[bool, str, ssl.SSLContext] = True, trust_env: bool = True,
                 max_connections: int = 8) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"ingestion URL must be http(s)://host[:port], got {base_url!r}")
        if not api_key:
            raise ConfigurationError("an API key is required (x-api-key); pass api_key=...")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.user_agent = user_agent
        self.verify = verify
        self.trust_env = trust_env
        self.max_connections = int(max_connections)
        self._client: Any = None  # an httpx.Client, created on first use
        self._lock = threading.Lock()

    # -- low level ------------------------------------------------------------------------
    def _http(self) -> Any:
        client = self._client
        if client is None:
            import httpx  # imported on first use: a process that never uploads skips it
            with self._lock:
                if self._client is None:
                    verify: Any = self.verify
                    if isinstance(verify, str):
                        verify = ssl.create_default_context(cafile=verify)
                    self._client = httpx.Client(
                        base_url=self.base_url, timeout=httpx.Timeout(self.timeout),
                        verify=verify, trust_env=self.trust_env, follow_redirects=False,
                        headers={"User-Agent": self.user_agent},
                        # idle connections are dropped before a server's keep-alive timer
                        # (uvicorn's default is 5 s) can close them under a new request
                        limits=httpx.Limits(max_connections=self.max_connections,
                                            max_keepalive_connections=self.max_connections,
                                            keepalive_expiry=2.0))
                client = self._client
        return client

    def close(self) -> None:
        """Close the pooled connections (the client opens new ones if used again)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> "IngestionClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, path: str, body: bytes, headers: Dict[str, Any]):
        """POST and read the whole response; returns (status, headers, body) or raises
        httpx.TransportError."""
        resp = self._http().post(path, content=body, headers=headers)
        return resp.status_code, resp.headers, resp.content

    def _headers(self, *, label: Optional[str], no_label: bool, disallow_duplicates: bool,
                 add_date_id: bool) -> Dict[str, str]:
        h = {P.H_API_KEY: self.api_key}
        if no_label:
            h[P.H_NO_LABEL] = "1"
        elif label is not None:
            h[P.H_LABEL] = P.encode_label(label)
        if disallow_duplicates:
            h[P.H_DISALLOW_DUPLICATES] = "1"
        if add_date_id:
            h[P.H_ADD_DATE_ID] = "1"
        return h

    @staticmethod
    def _check_category(category: str) -> None:
        if category not in P.CATEGORIES:
            raise ConfigurationError(
                f"category must be one of {', '.join(P.CATEGORIES)}, got {category!r}")

    # -- /data ----------------------------------------------------------------------------
    def upload_data(self, body: bytes, *, category: str, filename: str,
                    content_type: Optional[str] = None, label: Optional[str] = None,
                    no_label: bool = False, disallow_duplicates: bool = False,
                    add_date_id: bool = False) -> UploadOutcome:
        """POST one raw sample to ``/api/{category}/data``."""
        self._check_category(category)
        ctype = content_type or P.guess_content_type(filename, body)
        headers = self._headers(label=label, no_label=no_label,
                                disallow_duplicates=disallow_duplicates, add_date_id=add_date_id)
        headers[P.H_FILE_NAME] = _header_safe(filename)
        headers["Content-Type"] = ctype
        try:
            status, rheaders, data = self._post(f"/api/{category}/data", body, headers)
        except Exception as exc:  # noqa: BLE001 - only network failures are outcomes
            if not _is_transport_error(exc):
                raise
            return _transport_failure(exc)
        text = data.decode("utf-8", "replace")
        return classify_status(status, text, parse_retry_after(rheaders.get("Retry-After")))

    # -- /files ---------------------------------------------------------------------------
    def upload_files(self, files: Sequence[P.FilePart], *, category: str,
                     label: Optional[str] = None, no_label: bool = False,
                     disallow_duplicates: bool = False,
                     add_date_id: bool = False) -> List[UploadOutcome]:
        """POST several files as ``multipart/form-data`` to ``/api/{category}/files``.

        Returns one outcome per file, in order. A whole-request failure (401, 5xx, network)
        gives every file that outcome; a 200 with per-file failures gives successes ``stored``
        and each failure classified on its own message (a duplicate, or permanent unless the
        server reports an internal error, which is retried).
        """
        self._check_category(category)
        if not files:
            return []
        if len(files) > P.MAX_FILES_PER_REQUEST:
            raise ConfigurationError(
                f"at most {P.MAX_FILES_PER_REQUEST} files per request, got {len(files)}")
        body, ctype = P.encode_multipart(files)
        headers = self._headers(label=label, no_label=no_label,
                                disallow_duplicates=disallow_duplicates, add_date_id=add_date_id)
        headers["Content-Type"] = ctype
        try:
            status, rheaders, data = self._post(f"/api/{category}/files", body, headers)
        except Exception as exc:  # noqa: BLE001 - only network failures are outcomes
            if not _is_transport_error(exc):
                raise
            return [_transport_failure(exc)] * len(files)
        retry_after = parse_retry_after(rheaders.get("Retry-After"))
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        if status != 200:
            msg = doc.get("error") if isinstance(doc, dict) and doc.get("error") else \
                data.decode("utf-8", "replace")
            return [classify_status(status, msg, retry_after)] * len(files)
        entries = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(entries, list) or len(entries) != len(files):
            # A 200 we cannot attribute per file: the files may be stored, so re-sending is the
            # safe choice (the outbox re-sends with x-disallow-duplicates).
            return [UploadOutcome(RETRY, status, "unexpected /files response: "
                                  + data[:200].decode("utf-8", "replace"))] * len(files)
        return [_file_outcome(e, f.filename) for e, f in zip(entries, files)]


def _header_safe(value: str) -> bytes:
    """HTTP header values are Latin-1 bytes on the wire: a file name outside Latin-1, or with
    control characters, is sent percent-encoded (UTF-8) instead."""
    try:
        raw = value.encode("latin-1")
        if not any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            return raw
    except UnicodeEncodeError:
        pass
    return P.encode_label(value).encode("ascii")


def _file_outcome(entry: object, filename: str) -> UploadOutcome:
    if not isinstance(entry, dict):
        return UploadOutcome(RETRY, 200, f"unexpected per-file entry {entry!r}")
    if entry.get("success") is True:
        stored = entry.get("fileName") or entry.get("filename") or filename
        return UploadOutcome(STORED, 200, "stored", None, stored)
    msg = str(entry.get("error") or "file rejected without a reason")
    if is_duplicate_message(msg):
        return UploadOutcome(DUPLICATE, 200, msg)
    low = msg.lower()
    if "internal" in low or "try again" in low or "timeout" in low:
        return UploadOutcome(RETRY, 200, msg)
    return UploadOutcome(PERMANENT, 200, msg)


def _causes(exc: BaseException) -> List[BaseException]:
    out: List[BaseException] = []
    seen = set()
    while exc is not None and id(exc) not in seen and len(out) < 8:
        seen.add(id(exc))
        out.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return out


def _is_transport_error(exc: BaseException) -> bool:
    import httpx
    return isinstance(exc, (httpx.TransportError, OSError))


def describe_transport_failure(exc: BaseException) -> str:
    """What went wrong on the wire, in words an operator acts on."""
    import httpx
    chain = _causes(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, (httpx.TimeoutException, TimeoutError)) for e in chain):
        return "timed out waiting for the server"
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) \
            or "certificate verify failed" in text:
        return "TLS certificate verification failed (pass verify= a CA bundle for a private CA)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text \
            or any(getattr(e, "errno", None) == errno.ECONNREFUSED for e in chain):
        return "connection refused (server down?)"
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError, httpx.RemoteProtocolError,
                          httpx.ReadError, httpx.WriteError)) for e in chain) \
            or "reset" in text or "disconnected" in text:
        return "connection reset by the server"
    if any(isinstance(e, httpx.ProxyError) for e in chain):
        return "proxy error (check HTTP(S)_PROXY)"
    return "network error"


def _transport_failure(exc: BaseException) -> UploadOutcome:
    return UploadOutcome(RETRY, None, f"{describe_transport_failure(exc)}: "
                         f"{exc.__class__.__name__}: {exc}")

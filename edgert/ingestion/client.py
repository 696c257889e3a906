"""HTTP client of the ingestion API, with the outcome of every request classified.

The client never raises on HTTP or network failures: each upload returns an
:class:`UploadOutcome` whose ``kind`` says what the caller (the outbox) should do with the
sample - it was stored, the server already had it, it can never succeed (dead-letter it with the
server's reason) or it should be retried later (with ``retry_after`` when the server said so).
Standard library only (``http.client``), one connection per request so that a reset or a
half-read response can never poison the next upload.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence
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

    ``timeout`` bounds the connect and every socket read, so a stalled server turns into a
    ``retry`` outcome instead of a hung sender thread.
    """

    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0,
                 user_agent: str = "edgert-ingestion") -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"ingestion URL must be http(s)://host[:port], got {base_url!r}")
        if not api_key:
            raise ConfigurationError("an API key is required (x-api-key); pass api_key=...")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.user_agent = user_agent

    # -- low level ------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.timeout)

    def _post(self, path: str, body: bytes, headers: Dict[str, str]):
        """POST and read the whole response; returns (status, headers, body) or raises
        OSError/http.client.HTTPException."""
        conn = self._connection()
        try:
            conn.request("POST", self._prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.headers, data
        finally:
            conn.close()

    def _headers(self, *, label: Optional[str], no_label: bool, disallow_duplicates: bool,
                 add_date_id: bool) -> Dict[str, str]:
        h = {P.H_API_KEY: self.api_key, "User-Agent": self.user_agent, "Connection": "close"}
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
        except (OSError, http.client.HTTPException) as exc:
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
        except (OSError, http.client.HTTPException) as exc:
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


def _header_safe(value: str) -> str:
    """HTTP header values are Latin-1 on the wire (http.client refuses anything else): a file
    name outside it, or with control characters, is sent percent-encoded (UTF-8) instead."""
    try:
        value.encode("latin-1")
        if not any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            return value
    except UnicodeEncodeError:
        pass
    return P.encode_label(value)


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


def _transport_failure(exc: BaseException) -> UploadOutcome:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        what = "timed out waiting for the server"
    elif isinstance(exc, ConnectionRefusedError):
        what = "connection refused (server down?)"
    elif isinstance(exc, (ConnectionResetError, http.client.RemoteDisconnected,
                          BrokenPipeError)):
        what = "connection reset by the server"
    else:
        what = "network error"
    return UploadOutcome(RETRY, None, f"{what}: {exc.__class__.__name__}: {exc}")

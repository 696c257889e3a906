"""A local ingestion server with the endpoints and status codes of the Edge Impulse ingestion
service (``ingestion.md``), storing into SQLite.

Two layers, so that the gateway daemon can host the same logic behind its own HTTP server:

* :class:`IngestionService` - ``handle(method, path, headers, body) -> Response``: pure request
  handling (auth, validation, signature check, labels, de-duplication, storage). No sockets.
* :class:`IngestionServer` - a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = any free port)
  with ``start()``/``stop()``, body-size limits enforced before reading, per-connection read
  timeouts, deadlines for the headers and for the body as a whole, at most
  ``max_connections`` connections served at once (the rest answered 503 + Retry-After), and
  a :class:`~edgert.ingestion.faults.FaultControl` for fault-injection tests.

Decisions where the upstream documentation is silent (documented here and in the report):

* **Signatures.** Upstream: "Data with invalid signatures will still show up in the studio,
  but will be marked as such" (docs.edgeimpulse.com, ingestion API). So by default a document
  whose HS256 signature does not verify against the project HMAC key is stored with
  ``signature_valid = 0``; ``reject_bad_signatures=True`` answers 400 "signature verification
  failed ..." instead. ``alg: none`` and a server without an HMAC key store ``signature_valid
  = 0`` (nothing was verified).
* **Oversized bodies** get **413** (Payload Too Large) with a text message naming the limit,
  decided from Content-Length before the body is read: the answer is sent first (so a client
  that waits - ``Expect: 100-continue``, or one that sends nothing - gets it at once), then the
  body is drained so a client still sending reads it instead of a reset. 401 and 404 are
  answered the same way. A body that stops arriving gets **408** after ``request_timeout``. Upstream documents only "100 MB per file"; 413 is what HTTP defines for it
  and it is a permanent failure for :mod:`edgert.ingestion.client`. In ``/files`` a single part
  over the per-file limit is a per-file failure inside a 200.
* **Duplicates** (``x-disallow-duplicates: 1`` and content already stored): 400 on ``/data``,
  a per-file failure on ``/files``; the message starts with "duplicate" and names the stored
  file, so clients can tell "already there" from "invalid".
* **Payloads accepted:** data-acquisition documents (JSON, CBOR, and the binary
  ``Ref-BINARY-i16`` variant as ``application/octet-stream``), validated with
  :func:`edgert.acquisition.decode`. Other media (wav, jpg, csv) are a 400 naming the types
  accepted.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import secrets
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from ..acquisition.labels import infer_label
from ..errors import AcquisitionFormatError, ConfigurationError
from . import protocol as P
from .faults import Fault, FaultControl
from .store import DuplicateSample, NewSample, SampleStore

log = logging.getLogger("edgert.ingestion.server")

_STRING_STATUSES = {421: "Misdirected Request"}

#: Default cap on a JSON/CBOR document body (``max_document_bytes``). Decoding builds Python
#: objects: a valid recording costs ~0.1 us and a few bytes of memory per body byte, but a
#: hostile one (a flood of empty arrays, say) ~0.5-2 us and up to ~85 bytes per byte. 8 MiB -
#: hours of 3-axis motion data, ~100 s of 16 kHz float audio - bounds one such request to
#: ~15 s of CPU and ~700 MB on a gateway; raw int16 audio (Ref-BINARY-i16) is not counted.
DEFAULT_MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
BINARY_I16_REF = "Ref-BINARY-i16"


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, message: str, **headers: str) -> "Response":
        return cls(status, message.encode("utf-8"), headers=dict(headers))

    @classmethod
    def json(cls, status: int, doc: Any) -> "Response":
        return cls(status, json.dumps(doc).encode("utf-8"), "application/json")


class _Reject(Exception):
    """A validation failure of one sample: status + message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class DocumentInfo:
    """What the server extracts from a valid data-acquisition document."""

    signature_valid: bool
    signature_method: Optional[str]
    device_name: Optional[str]
    device_type: Optional[str]
    interval_ms: Optional[float]
    sensors: List[Dict[str, Any]]
    values_count: Optional[int]


def inspect_document(body: bytes, content_type: str, hmac_key: Optional[str]) -> DocumentInfo:
    """Decode (validate) a data-acquisition document and check its signature.

    Raises :class:`AcquisitionFormatError` for anything that is not a valid document.
    """
    from .. import acquisition  # the codec (edgert.acquisition); imported lazily

    doc = acquisition.decode(body, content_type)
    alg = _doc_alg(doc)
    valid = False
    if alg is not None and alg.upper() == "HS256" and hmac_key:
        try:
            valid = bool(acquisition.verify(body, hmac_key, content_type))
        except AcquisitionFormatError:
            # HS256 claimed but not verifiable (placeholder left in, or a CBOR signature not
            # encoded 78 40 + 64 bytes): a document we can read whose signature is not valid.
            valid = False
    sensors = [{"name": getattr(s, "name", None), "units": getattr(s, "units", None)}
               for s in (getattr(doc, "sensors", None) or [])]
    values = getattr(doc, "values", None)
    try:
        count = None if values is None else int(len(values))
    except TypeError:
        count = None
    interval = getattr(doc, "interval_ms", None)
    return DocumentInfo(valid, alg, _opt_str(getattr(doc, "device_name", None)),
                        _opt_str(getattr(doc, "device_type", None)),
                        None if interval is None else float(interval), sensors, count)


def _doc_alg(doc: Any) -> Optional[str]:
    for name in ("alg", "signature_method"):
        v = getattr(doc, name, None)
        if isinstance(v, str):
            return v
    prot = getattr(doc, "protected", None)
    if isinstance(prot, Mapping) and isinstance(prot.get("alg"), str):
        return prot["alg"]
    return None


def _opt_str(v: Any) -> Optional[str]:
    return None if v is None else str(v)


def _date_id_name(filename: str) -> str:
    """``test.wav`` -> ``test.<unique id>`` (what upstream's x-add-date-id does)."""
    base = os.path.basename(filename)
    stem = base.split(".", 1)[0] or "sample"
    return f"{stem}.{secrets.token_hex(4)}"


class IngestionService:
    """Request handling of the ingestion API, independent of the HTTP server hosting it."""

    def __init__(self, store: SampleStore, api_keys: Union[str, Sequence[str]],
                 hmac_key: Optional[str] = None, *, max_file_bytes: int = P.MAX_FILE_BYTES,
                 max_files: int = P.MAX_FILES_PER_REQUEST, reject_bad_signatures: bool = False,
                 inspect: Callable[[bytes, str, Optional[str]], DocumentInfo] = inspect_document,
                 max_document_bytes: Optional[int] = DEFAULT_MAX_DOCUMENT_BYTES) -> None:
        keys = [api_keys] if isinstance(api_keys, str) else list(api_keys)
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise ConfigurationError("the ingestion service needs at least one non-empty API key")
        if max_file_bytes <= 0 or max_files <= 0:
            raise ConfigurationError("max_file_bytes and max_files must be positive")
        if max_document_bytes is not None and max_document_bytes <= 0:
            raise ConfigurationError("max_document_bytes must be positive (or None for no "
                                     "limit beyond max_file_bytes)")
        self.max_document_bytes = None if max_document_bytes is None else int(max_document_bytes)
        self.store = store
        self._api_keys = [k.encode("utf-8") for k in keys]
        self.hmac_key = hmac_key or None
        self.max_file_bytes = int(max_file_bytes)
        self.max_files = int(max_files)
        self.reject_bad_signatures = reject_bad_signatures
        self._inspect = inspect

    # -- routing -------------------------------------------------------------------------
    @staticmethod
    def route(path: str) -> Optional[Tuple[str, str]]:
        """``/api/training/data`` -> ("training", "data"); None for other paths."""
        parts = path.split("?", 1)[0].strip("/").split("/")
        if len(parts) == 3 and parts[0] == "api" and parts[1] in P.CATEGORIES \
                and parts[2] in P.ENDPOINTS:
            return parts[1], parts[2]
        return None

    def check_api_key(self, headers: Mapping[str, str]) -> Optional[str]:
        """None if the x-api-key is valid, else the 401 message."""
        key = headers.get(P.H_API_KEY)
        if not key:
            return "Missing x-api-key header"
        given = key.strip().encode("utf-8", "replace")
        if not any(secrets.compare_digest(given, k) for k in self._api_keys):
            return "Invalid API key"
        return None

    def error(self, endpoint: str, status: int, message: str, **headers: str) -> Response:
        """An error in the endpoint's format (text for /data, JSON for /files)."""
        if endpoint == "files":
            r = Response.json(status, {"success": False, "error": message})
            r.headers.update(headers)
            return r
        return Response.text(status, message, **headers)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
               after_store: Optional[Callable[[], None]] = None) -> Response:
        """Handle one request; never raises. ``headers``: an ``http.server`` header object or
        any mapping (keys are matched case-insensitively). ``after_store`` runs after a sample
        was committed, before the answer (fault injection uses it)."""
        if not hasattr(headers, "get_all"):  # a plain dict: make lookups case-insensitive
            headers = {str(k).lower(): v for k, v in headers.items()}
        route = self.route(path)
        if route is None:
            return Response.text(404, f"Not found: {method} {path.split('?', 1)[0]}; the "
                                 "ingestion API is POST /api/{training,testing,anomaly}/"
                                 "{data,files}")
        category, endpoint = route
        if method != "POST":
            return self.error(endpoint, 405, f"{method} is not allowed here; use POST",
                              Allow="POST")
        try:
            bad_key = self.check_api_key(headers)
            if bad_key:
                return self.error(endpoint, 401, bad_key)
            if endpoint == "data":
                return self._handle_data(category, headers, body, after_store)
            return self._handle_files(category, headers, body, after_store)
        except Exception as exc:  # the server must answer, never die
            log.exception("ingestion: internal error on %s", path)
            return self.error(endpoint, 500, f"Internal server error: {exc.__class__.__name__}")

    # -- helpers -------------------------------------------------------------------------
    def _label(self, headers: Mapping[str, str], filename: str) -> Optional[str]:
        if P.is_truthy_header(headers.get(P.H_NO_LABEL)):
            return None
        raw = headers.get(P.H_LABEL)
        if raw is not None:
            try:
                return P.decode_label(raw)
            except UnicodeDecodeError:
                raise _Reject(400, "x-label is not valid URI-encoded UTF-8 "
                              "(encode it like encodeURIComponent)") from None
        return infer_label(filename)

    def _build(self, category: str, filename: str, label: Optional[str], content_type: str,
               body: bytes) -> NewSample:
        if len(body) > self.max_file_bytes:
            raise _Reject(413, f"File {filename!r} is {len(body)} bytes, over the limit of "
                          f"{self.max_file_bytes} bytes per file")
        if not body:
            raise _Reject(400, f"Invalid message: {filename!r} has an empty body")
        if content_type not in P.DATA_CONTENT_TYPES:
            raise _Reject(400, f"Unsupported Content-Type {content_type or 'none'!r} for "
                          f"{filename!r}; send a data-acquisition document as "
                          f"{', '.join(P.DATA_CONTENT_TYPES)}")
        if self.max_document_bytes is not None and len(body) > self.max_document_bytes \
                and not self._document_fits(body, content_type):
            raise _Reject(413, self.document_too_large(len(body), filename))
        try:
            info = self._inspect(body, content_type, self.hmac_key)
        except AcquisitionFormatError as exc:
            raise _Reject(400, f"Invalid message: {exc}") from None
        except (ValueError, TypeError, KeyError, IndexError, OverflowError,
                RecursionError) as exc:
            # a codec bug must still produce a clear 400, not a 500 or a dead thread
            raise _Reject(400, f"Invalid message: {exc.__class__.__name__}: {exc}") from None
        if (info.signature_method or "").upper() == "HS256" and self.hmac_key \
                and not info.signature_valid and self.reject_bad_signatures:
            raise _Reject(400, f"signature verification failed for {filename!r}: the HS256 "
                          "signature does not match the project HMAC key")
        return NewSample(category=category, filename=filename, label=label,
                         sha256=hashlib.sha256(body).hexdigest(), content_type=content_type,
                         body=body, signature_valid=info.signature_valid,
                         signature_method=info.signature_method, device_name=info.device_name,
                         device_type=info.device_type, interval_ms=info.interval_ms,
                         sensors=info.sensors, values_count=info.values_count)

    def document_too_large(self, size: int, filename: Optional[str] = None) -> str:
        what = f"File {filename!r}" if filename else "Body"
        return (f"{what} is {size} bytes: a JSON/CBOR document may be at most "
                f"{self.max_document_bytes} bytes on this server (max_document_bytes; raw "
                f"int16 samples after a {BINARY_I16_REF} header are not counted); split the "
                f"recording into several files")

    def _document_fits(self, body: bytes, content_type: str) -> bool:
        """For a body over ``max_document_bytes``: True only for the binary int16 variant whose
        CBOR part (what is decoded into Python objects) ends within the limit - checked by a
        structural scan of that prefix, so the cost is bounded by the limit too."""
        if content_type == P.CT_JSON or body[:1] in (b"{", b" ", b"\t", b"\r", b"\n"):
            return False
        from ..acquisition.cbor_codec import cbor_item_end
        try:
            cbor_item_end(body[:self.max_document_bytes])
        except AcquisitionFormatError:
            return False  # the CBOR item does not end within the limit (or is invalid)
        return True

    def _store(self, sample: NewSample, headers: Mapping[str, str]) -> Dict[str, Any]:
        disallow = P.is_truthy_header(headers.get(P.H_DISALLOW_DUPLICATES))
        unique = _date_id_name if P.is_truthy_header(headers.get(P.H_ADD_DATE_ID)) else None
        try:
            return self.store.insert(sample, disallow_duplicates=disallow, unique_name=unique)
        except DuplicateSample as dup:
            raise _Reject(400, f"duplicate: a sample with this content (sha256 "
                          f"{sample.sha256}) already exists as {dup.existing_filename!r} "
                          f"(id {dup.existing_id}); not stored again") from None

    # -- endpoints -----------------------------------------------------------------------
    def _handle_data(self, category: str, headers: Mapping[str, str], body: bytes,
                     after_store: Optional[Callable[[], None]]) -> Response:
        filename = headers.get(P.H_FILE_NAME)
        if not filename or not filename.strip():
            return Response.text(421, "Missing header x-file-name")
        ctype = P.normalise_content_type(headers.get("content-type"))
        try:
            label = self._label(headers, filename)
            sample = self._build(category, filename, label, ctype, body)
            stored = self._store(sample, headers)
        except _Reject as rej:
            return Response.text(rej.status, rej.message)
        if after_store:
            after_store()
        return Response.text(200, stored["filename"])

    def _handle_files(self, category: str, headers: Mapping[str, str], body: bytes,
                      after_store: Optional[Callable[[], None]]) -> Response:
        try:
            parts = P.decode_multipart(body, headers.get("content-type") or "",
                                       max_parts=self.max_files + 100)
        except P.MultipartError as exc:
            return Response.json(400, {"success": False, "error": f"Invalid message: {exc}"})
        files = [p for p in parts if p.name == "data"]
        if not files:
            return Response.json(400, {"success": False, "error":
                                       "Invalid message: no file in field 'data'"})
        if len(files) > self.max_files:
            return Response.json(400, {"success": False, "error":
                                       f"Too many files: {len(files)} in one request, at most "
                                       f"{self.max_files}"})
        results: List[Dict[str, Any]] = []
        stored_any = False
        for part in files:
            name = part.filename
            try:
                if not name:
                    raise _Reject(400, "file part without a filename")
                ctype = P.normalise_content_type(part.content_type)
                if ctype in ("", P.CT_OCTET):  # browsers/curl often omit or generalise it
                    by_ext = P.guess_content_type(name, part.body)
                    if by_ext != P.CT_OCTET:
                        ctype = by_ext
                    elif not ctype:
                        ctype = P.guess_content_type(name, part.body)
                label = self._label(headers, name)
                sample = self._build(category, name, label, ctype, part.body)
                stored = self._store(sample, headers)
                stored_any = True
                results.append({"success": True, "fileName": stored["filename"],
                                "id": stored["id"]})
            except _Reject as rej:
                results.append({"success": False, "fileName": name, "error": rej.message})
        if stored_any and after_store:
            after_store()
        failed = sum(1 for r in results if not r["success"])
        doc: Dict[str, Any] = {"success": failed == 0, "files": results}
        if failed:
            doc["error"] = f"{failed} of {len(results)} file(s) failed"
        return Response.json(200, doc)


# --- the HTTP server ------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s: %(explain)s\n"
    server: "_HTTPServer"

    def setup(self) -> None:
        self.timeout = self.server.owner.request_timeout  # per-socket-op read timeout
        super().setup()

    def handle_one_request(self) -> None:
        """One request, with a deadline for its request line and headers as a whole: the
        per-read timeout alone lets a client that drips a header byte now and then (slowloris)
        hold a thread forever. Headers are small, so ``request_timeout`` is plenty."""
        timer = threading.Timer(self.server.owner.request_timeout, self._hang_up)
        timer.daemon = True
        self._header_timer = timer
        timer.start()
        try:
            super().handle_one_request()
        finally:
            timer.cancel()

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self._header_timer.cancel()  # headers are in: the body has its own read timeout
        return ok

    def _hang_up(self) -> None:
        """Header deadline passed: shut the socket, which wakes the blocked read."""
        log.debug("ingestion server: %s did not send its headers in time", self.client_address)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), no response."""
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        self.request.close()  # the real close (RST) happens when the handler's files close

    def _send(self, resp: Response, close: bool = False) -> None:
        try:
            reason = _STRING_STATUSES.get(resp.status) or HTTPStatus(resp.status).phrase
        except ValueError:
            reason = ""
        self.send_response(resp.status, reason)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(resp.body)

    def _read_body(self, limit: int) -> Tuple[Optional[bytes], Optional[str]]:
        """(body, None), or (None, error message) with the body drained/abandoned."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None, "malformed chunked body"
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > limit:
                    return None, f"body exceeds the limit of {limit} bytes"
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(chunks), None
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b"", None
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            return None, f"invalid Content-Length {raw!r}"
        if length > limit:
            self._unread = length  # drained after the 413 is sent (see _answer_then_drain)
            return None, f"body of {length} bytes exceeds the limit of {limit} bytes"
        body = self.rfile.read(length)
        if len(body) != length:
            return None, "connection closed before the whole body arrived"
        return body, None

    def _drain(self, length: int) -> None:
        left = min(length, self.server.owner.max_drain_bytes)
        with self._body_deadline():  # a trickled body cannot hold the thread past it
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)

    _body_expired = False

    @contextlib.contextmanager
    def _body_deadline(self) -> Iterator[None]:
        """A deadline for a body as a whole (``body_timeout``): the per-read timeout alone
        lets a client that sends a byte now and then hold the thread for ever. When it
        passes, the read side of the socket is shut, which ends the blocked read (EOF); the
        caller sees ``_body_expired`` and answers 408 on the still-open write side."""
        timer = threading.Timer(self.server.owner.body_timeout, self._expire_body)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _expire_body(self) -> None:
        log.debug("ingestion server: %s did not send its body within the deadline",
                  self.client_address)
        self._body_expired = True
        try:
            self.connection.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def _answer_then_drain(self, resp: Response, length: int) -> None:
        """Refuse a request without reading its body: the answer goes out first (a client
        that waits for it - ``Expect: 100-continue``, or one that sends nothing - gets it at
        once), then up to ``max_drain_bytes`` of the body are read and discarded so that a
        client still sending can read the answer instead of a connection reset."""
        self._send(resp, close=True)
        try:
            self._drain(length)
        except (OSError, ValueError):  # stalled (read timeout) or gone: just hang up
            pass

    def _content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            return 0

    def _early_response(self) -> Optional[Response]:
        """The refusal that the request line and headers alone decide (404 unknown path,
        401 API key, 413 declared Content-Length over the limit), or None."""
        owner = self.server.owner
        service = owner.service
        route = service.route(self.path)
        if route is None:
            return Response.text(404, f"Not found: {self.command} {self.path.split('?', 1)[0]}; "
                                 "the ingestion API is POST /api/{training,testing,anomaly}/"
                                 "{data,files}")
        bad_key = service.check_api_key(self.headers)
        if bad_key:
            return service.error(route[1], 401, bad_key)
        limit = owner.max_request_bytes if route[1] == "files" else service.max_file_bytes
        length = self._content_length()
        if length > limit:
            return service.error(route[1], 413, f"Payload too large: body of {length} bytes "
                                 f"exceeds the limit of {limit} bytes")
        if route[1] == "data" and service.max_document_bytes is not None \
                and length > service.max_document_bytes \
                and P.normalise_content_type(self.headers.get("Content-Type")) in (P.CT_JSON,
                                                                                  P.CT_CBOR):
            return service.error(route[1], 413, "Payload too large: "
                                 + service.document_too_large(length))
        return None

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue``: refuse now (404/401/413) instead of inviting a body that
        would be refused anyway."""
        early = self._early_response() if self.command == "POST" else None
        if early is not None:
            self._send(early, close=True)
            return False
        return super().handle_expect_100()

    def do_POST(self) -> None:
        owner = self.server.owner
        service = owner.service
        faults = owner.faults
        route = service.route(self.path)
        endpoint = route[1] if route else "data"
        fault: Optional[Fault] = faults.on_request()
        if fault is not None and fault.kind == "down":
            self._reset()
            return
        faults.delay_before()
        if owner.stopping:  # released from a stall by stop(): drop the request
            self._reset()
            return
        if fault is not None and fault.kind == "reset" and fault.midway:
            try:
                half = int(self.headers.get("Content-Length") or 0) // 2
                self.rfile.read(min(half, 1 << 20))
            except (OSError, ValueError):
                pass
            self._reset()
            return
        # Route and API key come from the headers: refuse before buffering anything (answer
        # first, then drain the body unread, so the client reads the answer either way).
        early = None
        if route is None or service.check_api_key(self.headers) or (
                endpoint == "data" and service.max_document_bytes is not None
                and self._content_length() > service.max_document_bytes):
            early = self._early_response()
        if early is not None:
            self._answer_then_drain(early, self._content_length())
            return
        limit = owner.max_request_bytes if endpoint == "files" else service.max_file_bytes
        self._unread = 0
        try:
            with self._body_deadline():
                body, err = self._read_body(limit)
        except (socket.timeout, TimeoutError):
            # the client stopped sending mid-body: say so (408 is retryable) and hang up
            try:
                self._send(service.error(endpoint, 408, f"Request timeout: the body did not "
                                         f"arrive within {owner.request_timeout:g} s of "
                                         f"silence"), close=True)
            except OSError:
                self.close_connection = True
            return
        if self._body_expired:
            self.close_connection = True  # the read side is shut
        if self._body_expired and err is not None:
            # the body kept trickling in (each read within the timeout) past the deadline
            # for the whole body: same answer as a stalled body (408, retryable)
            try:
                self._send(service.error(endpoint, 408, f"Request timeout: the body did not "
                                         f"arrive within the deadline of "
                                         f"{owner.body_timeout:g} s"), close=True)
            except OSError:
                pass
            return
        if err is not None:
            status = 413 if "exceeds the limit" in err else 400
            self._answer_then_drain(service.error(endpoint, status, err.capitalize()
                                                  if status == 400
                                                  else f"Payload too large: {err}"),
                                    self._unread)
            return
        if fault is not None and fault.kind == "fail":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(service.error(endpoint, fault.status, fault.message, **headers))
            return
        if fault is not None and fault.kind == "reset" and not fault.after_store:
            self._reset()
            return
        resp = service.handle("POST", self.path, self.headers, body or b"",
                              after_store=faults.delay_after_store)
        if fault is not None and fault.kind == "reset":  # after_store: the 200 is lost
            self._reset()
            return
        self._send(resp)

    def _not_post(self) -> None:
        route = self.server.owner.service.route(self.path)
        if route is None:
            self._send(Response.text(404, f"Not found: {self.command} {self.path}"))
        else:
            self._send(self.server.owner.service.error(
                route[1], 405, f"{self.command} is not allowed here; use POST", Allow="POST"))

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_post


_REFUSE_WAIT_S = 0.1  # how long a refused connection may take to send its request line
_REFUSE_QUEUE = 128  # refused connections waiting for their answer; beyond: answered at once


def _refuser(q: "queue.Queue[Optional[Tuple[socket.socket, float]]]",
             owner: "IngestionServer") -> None:
    """The one thread that answers connections over the cap. Each gets up to
    ``_REFUSE_WAIT_S`` from its accept for its request line to arrive (so that /files is
    answered in JSON); the deadlines run from the accept, so a backlog drains at once."""
    while True:
        item = q.get()
        if item is None:
            return
        sock, accepted = item
        try:
            left = accepted + _REFUSE_WAIT_S - time.monotonic()
            if left > 0:
                select.select([sock], [], [], left)
        except (OSError, ValueError):
            pass
        _refuse_busy(sock, owner)
        try:
            sock.close()
        except OSError:
            pass


def _refuse_busy(sock: socket.socket, owner: "IngestionServer") -> None:
    """Answer 503 (Retry-After) on a connection over the cap, without blocking: the request
    line is peeked at if it has already arrived (to answer /files in JSON, like its other
    errors), what has arrived is read and discarded (closing with unread data would reset
    the connection before the client reads the answer), and the send is bounded by a short
    timeout."""
    endpoint = "data"
    try:
        sock.setblocking(False)  # (with a timeout set, recv would first wait for data)
        try:
            head = sock.recv(65536, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            head = b""
        line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace").split(" ")
        route = owner.service.route(line[1]) if len(line) >= 2 else None
        if route is not None:
            endpoint = route[1]
        resp = owner.service.error(
            endpoint, 503, f"Server busy: {owner.max_connections} connections are open; "
            f"retry after {owner.busy_retry_after} s", **{"Retry-After":
                                                      str(owner.busy_retry_after)})
        sock.settimeout(0.5)  # a small answer: fits the send buffer unless the peer stalls
        sock.sendall(b"".join([
            b"HTTP/1.1 503 Service Unavailable\r\n",
            f"Content-Type: {resp.content_type}\r\n".encode("latin-1"),
            f"Content-Length: {len(resp.body)}\r\n".encode("latin-1"),
            f"Retry-After: {owner.busy_retry_after}\r\n".encode("latin-1"),
            b"Connection: close\r\n\r\n", resp.body]))
        sock.setblocking(False)
        try:  # discard what the client sent so far (bounded: one non-blocking pass)
            for _ in range(16):
                if not sock.recv(65536):
                    break
        except (BlockingIOError, InterruptedError):
            pass
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "IngestionServer"
    slots: threading.BoundedSemaphore
    refusals: "queue.Queue[Optional[Tuple[socket.socket, float]]]"

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, at most ``max_connections`` at once: beyond that the
        connection is answered 503 with Retry-After from the accepting thread (no thread, no
        body read) and closed, so a flood of idle connections cannot exhaust threads."""
        if not self.slots.acquire(blocking=False):
            self.owner._count(refused=1)
            try:  # answered by the refuser thread, after its request line has come in
                self.refusals.put_nowait((request, time.monotonic()))
            except queue.Full:  # a flood: answer now (text), without waiting for anything
                _refuse_busy(request, self.owner)
                self.shutdown_request(request)
            return
        self.owner._count(active=1)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release_slot()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        self.owner._count(active=-1)
        self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("ingestion server: error on a connection from %s", client_address,
                  exc_info=True)


class IngestionServer:
    """The ingestion API on a local socket.

    >>> with IngestionServer(api_keys="ei_test", hmac_key="secret") as srv:
    ...     client = IngestionClient(srv.url, "ei_test")

    ``store`` is a :class:`SampleStore` or a database path (``":memory:"`` by default).
    ``stop()`` then ``start()`` again rebinds the same port (to simulate an outage).
    """

    def __init__(self, store: Union[SampleStore, str] = ":memory:",
                 api_keys: Union[str, Sequence[str]] = "ei_local",
                 hmac_key: Optional[str] = None, *, host: str = "127.0.0.1", port: int = 0,
                 max_file_bytes: int = P.MAX_FILE_BYTES, max_request_bytes: Optional[int] = None,
                 max_files: int = P.MAX_FILES_PER_REQUEST, reject_bad_signatures: bool = False,
                 request_timeout: float = 30.0, faults: Optional[FaultControl] = None,
                 max_drain_bytes: int = 256 * 1024 * 1024,
                 inspect: Callable[[bytes, str, Optional[str]], DocumentInfo] = inspect_document,
                 max_connections: int = 64, body_timeout: Optional[float] = None,
                 busy_retry_after: int = 1,
                 max_document_bytes: Optional[int] = DEFAULT_MAX_DOCUMENT_BYTES) -> None:
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
                                        inspect=inspect, max_document_bytes=max_document_bytes)
        self.host = host
        self.port = port
        # /files carries several files plus multipart overhead; by default one request may
        # hold one maximum-size file (a gateway buffers a request in memory).
        self.max_request_bytes = int(max_request_bytes if max_request_bytes is not None
                                     else max_file_bytes + 1024 * 1024)
        self.request_timeout = request_timeout
        # A body may take this long in all (each read still has request_timeout); by
        # default 10 x request_timeout, at least 60 s (5 min for the default 30 s timeout).
        self.body_timeout = float(body_timeout if body_timeout is not None
                                  else max(60.0, 10.0 * request_timeout))
        self.max_drain_bytes = max_drain_bytes
        self.max_connections = int(max_connections)
        self.busy_retry_after = int(busy_retry_after)
        self.refused_busy = 0  # connections answered 503 because the cap was reached
        self.active_connections = 0  # connections being served (each has a thread)
        self._count_lock = threading.Lock()
        self.faults = faults or FaultControl()
        self._httpd: Optional[_HTTPServer] = None
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._refuser: Optional[threading.Thread] = None

    def _count(self, refused: int = 0, active: int = 0) -> None:
        with self._count_lock:
            self.refused_busy += refused
            self.active_connections += active

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self) -> "IngestionServer":
        if self._httpd is not None:
            return self
        self._stopping = False
        self.faults.rearm()
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.owner = self
        httpd.slots = threading.BoundedSemaphore(self.max_connections)
        httpd.refusals = queue.Queue(_REFUSE_QUEUE)
        self._refuser = threading.Thread(target=_refuser, args=(httpd.refusals, self),
                                         name=f"edgert-ingestion-busy-{self.port}",
                                         daemon=True)
        self._refuser.start()
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"edgert-ingestion-{self.port}", daemon=True)
        self._thread.start()
        log.info("ingestion server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop listening (stalled fault delays are released). The store stays open."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping = True
        self.faults.release()
        httpd.shutdown()
        httpd.server_close()
        httpd.refusals.put(None)  # (after shutdown: nothing is queued behind the sentinel)
        if self._refuser is not None:
            self._refuser.join(5.0)
        self._refuser = None
        if self._thread is not None:
            self._thread.join(5.0)
        self._thread = None

    def close(self) -> None:
        self.stop()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "IngestionServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

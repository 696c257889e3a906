"""The ingestion API (``ingestion.md``): request handling without sockets (this module); the
local server on top of it is :mod:`edgert.ingestion.server`.

* :class:`IngestionService` - ``handle(method, path, headers, body) -> Response``: pure request
  handling (auth, validation, signature check, labels, de-duplication, storage). No sockets,
  no web framework: the gateway daemon and :class:`IngestionServer` host the same object.
* :class:`IngestionServer` - the ingestion endpoints alone on 127.0.0.1 (port 0 = any free
  port), ``start()``/``stop()``: the same Starlette application and uvicorn server as the
  gateway daemon (:mod:`edgert.ingestion.asgi`, :mod:`edgert.web`), with its protections -
  body-size limits decided from the headers before reading (and enforced while reading any
  transfer encoding), deadlines for the headers, for silence and for the body as a whole, at
  most ``max_connections`` connections served at once (the rest answered 503 + Retry-After),
  and a :class:`~edgert.ingestion.faults.FaultControl` for fault-injection tests. Needs the
  ``daemon`` extra.

Decisions where the upstream documentation is silent (documented here and in the report):

* **Signatures.** Upstream: "Data with invalid signatures will still show up in the studio,
  but will be marked as such" (docs.edgeimpulse.com, ingestion API). So by default a document
  whose HS256 signature does not verify against the project HMAC key is stored with
  ``signature_valid = 0``; ``reject_bad_signatures=True`` answers 400 "signature verification
  failed ..." instead. ``alg: none`` and a server without an HMAC key store ``signature_valid
  = 0`` (nothing was verified).
* **Oversized bodies** get **413** (Payload Too Large) with a text message naming the limit,
  decided from Content-Length before the body is read (:meth:`IngestionService.refusal`): the
  answer is sent first (so a client that waits - ``Expect: 100-continue``, or one that sends
  nothing - gets it at once), then the server drains what the client still sends so it reads
  the answer instead of a reset. 401 and 404 are answered the same way. A chunked body is
  counted as it arrives and refused the moment it passes the limit. A body that stops
  arriving gets **408** after ``request_timeout``. Upstream documents only "100 MB per file";
  413 is what HTTP defines for it and it is a permanent failure for
  :mod:`edgert.ingestion.client`. In ``/files`` a single part over the per-file limit is a
  per-file failure inside a 200.
* **Duplicates** (``x-disallow-duplicates: 1`` and content already stored): 400 on ``/data``,
  a per-file failure on ``/files``; the message starts with "duplicate" and names the stored
  file, so clients can tell "already there" from "invalid".
* **Payloads accepted:** data-acquisition documents (JSON, CBOR, and the binary
  ``Ref-BINARY-i16`` variant as ``application/octet-stream``), decoded into a
  :class:`~edgert.recording.Recording` (:func:`inspect_document`). Other media (wav, jpg,
  csv) are a 400 naming the types accepted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..acquisition.labels import infer_label
from ..errors import AcquisitionFormatError, ConfigurationError, EdgertError
from ..recording import Recording, read_recording
from . import protocol as P
from .store import DuplicateSample, NewSample, SampleStore
from ..web.logs import escape

log = logging.getLogger("edgert.ingestion.service")

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


#: ``inspect(body, content_type, hmac_key, filename) -> Recording``: decodes and verifies an
#: upload, raising :class:`~edgert.errors.EdgertError` for an invalid one.
Inspect = Callable[[bytes, str, Optional[str], str], Recording]


def inspect_document(body: bytes, content_type: str, hmac_key: Optional[str],
                     filename: str = "upload") -> Recording:
    """Decode (validate) a data-acquisition document and check its HS256 signature: the
    :class:`~edgert.recording.Recording` (``signature_valid`` None when nothing was checked).
    Raises :class:`~edgert.errors.EdgertError` for anything that is not a valid document."""
    return read_recording(body, filename, hmac_key, content_type=content_type or None,
                          document=True)


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
                 inspect: Inspect = inspect_document,
                 max_document_bytes: Optional[int] = DEFAULT_MAX_DOCUMENT_BYTES,
                 max_request_bytes: Optional[int] = None) -> None:
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
        # /files carries several files plus multipart overhead; by default one request may
        # hold one maximum-size file (a gateway buffers a request in memory).
        self.max_request_bytes = int(max_request_bytes if max_request_bytes is not None
                                     else self.max_file_bytes + 1024 * 1024)
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

    def body_limit(self, endpoint: str) -> int:
        """The most bytes a request body of ``endpoint`` (``data``/``files``) may have."""
        return self.max_request_bytes if endpoint == "files" else self.max_file_bytes

    def refusal(self, method: str, path: str, headers: Mapping[str, str],
                content_length: Optional[int]) -> Optional[Response]:
        """The answer that the request line and headers alone decide, before any body is
        read: 404 unknown path, 405 not POST, 401 API key, 413 a declared Content-Length over
        the limit (for a JSON/CBOR document on ``/data``: over ``max_document_bytes``). None
        when the body must be read."""
        route = self.route(path)
        if route is None or method != "POST":
            return self.handle(method, path, headers, b"")
        endpoint = route[1]
        bad_key = self.check_api_key(headers)
        if bad_key:
            return self.error(endpoint, 401, bad_key)
        length = content_length or 0
        limit = self.body_limit(endpoint)
        if length > limit:
            return self.error(endpoint, 413, f"Payload too large: body of {length} bytes "
                              f"exceeds the limit of {limit} bytes")
        if endpoint == "data" and self.max_document_bytes is not None \
                and length > self.max_document_bytes \
                and P.normalise_content_type(headers.get("content-type")) in (P.CT_JSON,
                                                                             P.CT_CBOR):
            return self.error(endpoint, 413, "Payload too large: "
                              + self.document_too_large(length))
        return None

    def busy_body(self, path: Optional[str], max_connections: int,
                  retry_after: int) -> Tuple[str, bytes]:
        """(content type, body) of the 503 a connection over the cap gets (JSON on
        ``/files``, text elsewhere, like the endpoints' other errors)."""
        route = self.route(path or "")
        resp = self.error(route[1] if route else "data", 503,
                          f"Server busy: {max_connections} connections are open; retry after "
                          f"{retry_after} s")
        return resp.content_type, resp.body

    def error(self, endpoint: str, status: int, message: str, **headers: str) -> Response:
        """An error in the endpoint's format (text for /data, JSON for /files)."""
        if endpoint == "files":
            r = Response.json(status, {"success": False, "error": message})
            r.headers.update(headers)
            return r
        return Response.text(status, message, **headers)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
               after_store: Optional[Callable[[], None]] = None) -> Response:
        """Handle one request; never raises. ``headers``: any mapping (keys are matched
        case-insensitively). ``after_store`` runs after a sample was committed, before the
        answer (fault injection uses it)."""
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
            log.exception("ingestion: internal error on %s", escape(path.split("?", 1)[0]))
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
            rec = self._inspect(body, content_type, self.hmac_key, filename)
        except EdgertError as exc:
            raise _Reject(400, f"Invalid message: {exc}") from None
        except (ValueError, TypeError, KeyError, IndexError, OverflowError,
                RecursionError) as exc:
            # a codec bug must still produce a clear 400, not a 500 or a dead thread
            raise _Reject(400, f"Invalid message: {exc.__class__.__name__}: {exc}") from None
        valid = bool(rec.signature_valid)
        if (rec.signature_method or "").upper() == "HS256" and self.hmac_key \
                and not valid and self.reject_bad_signatures:
            raise _Reject(400, f"signature verification failed for {filename!r}: the HS256 "
                          "signature does not match the project HMAC key")
        return NewSample(category=category, filename=filename, label=label,
                         sha256=rec.sha256 or hashlib.sha256(body).hexdigest(),
                         content_type=content_type, body=body, signature_valid=valid,
                         signature_method=rec.signature_method, device_name=rec.device_name,
                         device_type=rec.device_type, interval_ms=rec.interval_ms,
                         sensors=rec.sensors_json(), values_count=int(rec.values.shape[0]),
                         recording=rec)

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

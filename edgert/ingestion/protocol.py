"""Wire-level facts of the Edge Impulse ingestion API, shared by the client and the server.

Kept in one place so that both sides agree on header names, label inference, the URI encoding
of ``x-label`` and the multipart layout of ``/files``; see ``ingestion.md`` (docs.edgeimpulse.com
"Ingestion API") for the upstream contract these reproduce.
"""
from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple
from urllib.parse import quote, unquote


CATEGORIES: Tuple[str, ...] = ("training", "testing", "anomaly")
ENDPOINTS: Tuple[str, ...] = ("data", "files")

CT_JSON = "application/json"
CT_CBOR = "application/cbor"
CT_OCTET = "application/octet-stream"
DATA_CONTENT_TYPES: Tuple[str, ...] = (CT_JSON, CT_CBOR, CT_OCTET)

#: Upstream limits (documented for ``/files``): 100 MB per file, 1000 files per request.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_FILES_PER_REQUEST = 1000

H_API_KEY = "x-api-key"
H_FILE_NAME = "x-file-name"
H_LABEL = "x-label"
H_NO_LABEL = "x-no-label"
H_DISALLOW_DUPLICATES = "x-disallow-duplicates"
H_ADD_DATE_ID = "x-add-date-id"


#: Prefix of the message the server sends when x-disallow-duplicates rejects known content. The
#: outbox treats such a rejection of a *re-send* as "already stored" (exactly-once delivery).
DUPLICATE_MESSAGE_PREFIX = "duplicate"


def encode_label(label: str) -> str:
    """Encode a label for the ``x-label`` header as JavaScript's ``encodeURIComponent`` does
    (the official uploader sends it that way, so non-ASCII labels survive HTTP headers)."""
    return quote(label, safe="-_.!~*'()")


def decode_label(value: str) -> str:
    """Inverse of :func:`encode_label` (``decodeURIComponent``)."""
    return unquote(value, errors="strict")


#: ``"values": [_ "Ref-BINARY-...`` - the header of the binary (raw int16 PCM) CBOR variant; the
#: text may be padded with spaces, so its length byte varies.
_BINARY_VALUES = re.compile(rb"\x66values\x9f[\x6a-\x77]Ref-BINARY-")


def guess_content_type(filename: str, body: bytes) -> str:
    """Content type of a data-acquisition file from its extension, else from its first byte
    (JSON documents start with ``{``; the CBOR ones with a map header 0xA0-0xBF). A CBOR
    document of the binary ``Ref-BINARY-i16`` variant is ``application/octet-stream``, as the
    ingestion API asks for it, whatever its extension."""
    ext = os.path.splitext(filename)[1].lower()
    if ext == ".json":
        return CT_JSON
    head = body.lstrip()[:1]
    if ext != ".cbor" and head == b"{":
        return CT_JSON
    if ext == ".cbor" or (head and 0xA0 <= head[0] <= 0xBF):
        # the marker sits right after the header (well inside the first 64 KiB)
        return CT_OCTET if _BINARY_VALUES.search(body, 0, 65536) else CT_CBOR
    return CT_OCTET


def normalise_content_type(value: Optional[str]) -> str:
    """The media type without parameters, lower case (``Application/JSON; charset=utf-8`` ->
    ``application/json``)."""
    return (value or "").split(";", 1)[0].strip().lower()


def is_truthy_header(value: Optional[str]) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes")


# --- multipart/form-data ----------------------------------------------------------------------

@dataclass(frozen=True)
class FilePart:
    """One file of a ``/files`` request (field ``data``)."""

    filename: str
    body: bytes
    content_type: str


def _quote_disposition(value: str) -> str:
    # RFC 7578 section 4.2: percent-encode '"' and CR/LF in quoted names (as browsers do).
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_multipart(parts: Sequence[FilePart], field: str = "data") -> Tuple[bytes, str]:
    """Build a ``multipart/form-data`` body; returns (body, content-type header value)."""
    boundary = uuid.uuid4().hex
    chunks: List[bytes] = []
    for part in parts:
        head = (f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{field}"; '
                f'filename="{_quote_disposition(part.filename)}"\r\n'
                f"Content-Type: {part.content_type}\r\n\r\n")
        chunks.append(head.encode("utf-8"))
        chunks.append(part.body)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class MultipartError(ValueError):
    """A ``multipart/form-data`` body that cannot be parsed."""


_PARAM_RE = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _header_params(value: str) -> dict:
    params = {}
    for key, raw in _PARAM_RE.findall(value):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[key.lower()] = raw
    return params


def multipart_boundary(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type header, or MultipartError."""
    if normalise_content_type(content_type) != "multipart/form-data":
        raise MultipartError(
            f"Content-Type must be multipart/form-data for /files, got {content_type or 'none'!r}")
    boundary = _header_params(content_type).get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise MultipartError("multipart/form-data Content-Type has no (valid) boundary parameter")
    return boundary


@dataclass(frozen=True)
class ParsedPart:
    name: str
    filename: Optional[str]
    content_type: Optional[str]
    body: bytes


def decode_multipart(body: bytes, content_type: str, max_parts: int = 10_000) -> List[ParsedPart]:
    """Parse a ``multipart/form-data`` body (RFC 7578). Strict about structure: a missing
    closing delimiter or a part without headers is an error, never a silent truncation."""
    boundary = multipart_boundary(content_type).encode("latin-1")
    delim = b"--" + boundary
    start = body.find(delim)
    if start < 0:
        raise MultipartError("multipart body does not contain its boundary")
    pos = start + len(delim)
    parts: List[ParsedPart] = []
    while True:
        if body[pos:pos + 2] == b"--":
            return parts
        if body[pos:pos + 2] != b"\r\n":
            raise MultipartError("malformed multipart delimiter line")
        pos += 2
        head_end = body.find(b"\r\n\r\n", pos)
        if head_end < 0:
            raise MultipartError("multipart part without a header/body separator")
        headers = {}
        for line in body[pos:head_end].split(b"\r\n"):
            if not line:
                continue
            key, sep, value = line.partition(b":")
            if not sep:
                raise MultipartError(f"malformed multipart part header {line[:60]!r}")
            headers[key.strip().lower().decode("latin-1")] = value.strip().decode("utf-8", "replace")
        data_start = head_end + 4
        nxt = body.find(b"\r\n" + delim, data_start)
        if nxt < 0:
            raise MultipartError("multipart body is truncated (no closing boundary)")
        disposition = headers.get("content-disposition", "")
        if not disposition.lower().startswith("form-data"):
            raise MultipartError("multipart part without Content-Disposition: form-data")
        params = _header_params(disposition)
        filename = params.get("filename")
        if filename is not None:
            filename = (filename.replace("%22", '"').replace("%0D", "\r")
                        .replace("%0A", "\n"))
        parts.append(ParsedPart(name=params.get("name", ""), filename=filename,
                                content_type=headers.get("content-type"),
                                body=body[data_start:nxt]))
        if len(parts) > max_parts:
            raise MultipartError(f"more than {max_parts} parts in one request")
        pos = nxt + 2 + len(delim)

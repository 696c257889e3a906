"""Format detection: one :func:`decode` for JSON, CBOR and the binary CBOR variant."""
from __future__ import annotations

from ..errors import AcquisitionFormatError
from .cbor_codec import decode_cbor_located
from .document import MAX_DOCUMENT_BYTES, DataAcquisition
from .json_codec import decode_json, signature_offset_json

_JSON_TYPES = ("application/json", "text/json")
_CBOR_TYPES = ("application/cbor", "application/octet-stream")


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"document must be bytes, got {type(data).__name__} "
                    f"(encode text as UTF-8 first)")


def detect_format(data: bytes, content_type: str | None = None) -> str:
    """``"json"`` or ``"cbor"``: from the media type when given (``application/json``,
    ``application/cbor``, ``application/octet-stream``; parameters ignored), else sniffed: a
    document starting with ``{`` or JSON whitespace is JSON, anything else CBOR."""
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media in _JSON_TYPES or media.endswith("+json"):
            return "json"
        if media in _CBOR_TYPES or media.endswith("+cbor"):
            return "cbor"
        raise AcquisitionFormatError(
            f"unsupported content type {content_type!r}: use application/json, "
            f"application/cbor or application/octet-stream (binary variant)")
    if data[:1] in (b"{", b" ", b"\t", b"\r", b"\n") or data.startswith(b"\xef\xbb\xbf"):
        return "json"
    return "cbor"


def decode_located(data: bytes, content_type: str | None = None, *,
                   max_bytes: int = MAX_DOCUMENT_BYTES,
                   need_offset: bool = False) -> tuple[DataAcquisition, int | None]:
    data = _as_bytes(data)
    if not data:
        raise AcquisitionFormatError("empty document")
    if len(data) > max_bytes:
        raise AcquisitionFormatError(
            f"document is {len(data)} bytes, over the {max_bytes}-byte limit")
    if detect_format(data, content_type) == "json":
        doc = decode_json(data)
        need = need_offset and doc.alg == "HS256"
        return doc, (signature_offset_json(data) if need else None)
    return decode_cbor_located(data)


def decode(data: bytes, content_type: str | None = None, *,
           max_bytes: int = MAX_DOCUMENT_BYTES) -> DataAcquisition:
    """Decode and validate a data-acquisition document (JSON, CBOR, or CBOR + raw int16).

    Raises :class:`~edgert.errors.AcquisitionFormatError` naming what is wrong. Does not check
    the signature (see :func:`verify`).
    """
    return decode_located(data, content_type, max_bytes=max_bytes)[0]


def media_type(data: bytes) -> str:
    """The Content-Type to upload ``data`` with: ``application/json``, ``application/cbor``,
    or ``application/octet-stream`` for the binary int16 variant (as the ingestion API asks).
    Validates the document (raises AcquisitionFormatError)."""
    data = _as_bytes(data)
    doc = decode(data)
    if detect_format(data) == "json":
        return "application/json"
    return "application/octet-stream" if doc.is_binary else "application/cbor"


def load(path) -> DataAcquisition:
    """Read and decode a document file (``.json``, ``.cbor``, or any name: sniffed)."""
    from pathlib import Path
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise AcquisitionFormatError(
            f"{p}: {size} bytes, over the {MAX_DOCUMENT_BYTES}-byte document limit")
    try:
        return decode(p.read_bytes())
    except AcquisitionFormatError as e:
        raise AcquisitionFormatError(f"{p}: {e}") from None

"""HS256 signing and verification of serialised documents, in place.

Signing: the document is serialised with ``signature`` = 64 ASCII '0'; HMAC-SHA256 over *all*
its bytes (JSON text, or CBOR plus any raw binary samples) with key = the key string's UTF-8
bytes; the lowercase hex digest overwrites the placeholder (same length, nothing moves).
Verification finds the signature (CBOR: it must be encoded ``78 40`` + 64 bytes), writes the
placeholder back, recomputes, and compares in constant time.

Keys longer than 32 bytes: the Edge Impulse firmware copies only the first 32 bytes of the key
(``sensor_aq_init_mbedtls_hs256_context``), while the CLI (Node ``crypto.createHmac``) and the
ingestion service use the whole key. We *sign* with the whole key, as the spec says. *Verify*
accepts a signature made with the whole key, and - unless ``allow_truncated_key=False`` - also
one made with the key's first 32 bytes, so files recorded by a device with such a key still
verify. Both HMACs are always computed and compared with ``hmac.compare_digest``.
"""
from __future__ import annotations

import hmac

from ._hmac import FIRMWARE_KEY_BYTES, hmac_hex, key_bytes
from .codec import decode_located
from .document import PLACEHOLDER, DataAcquisition
from .errors import SignatureError

__all__ = ["sign", "verify", "check_signature", "decode_verified", "FIRMWARE_KEY_BYTES"]


def _locate(data: bytes, content_type: str | None) -> tuple[bytes, DataAcquisition, int]:
    doc, off = decode_located(data, content_type, need_offset=True)
    data = bytes(data)
    if doc.alg != "HS256":
        raise SignatureError(f"document is not signed (protected.alg is {doc.alg!r}, not HS256)")
    if off is None:
        raise SignatureError("the CBOR signature is not encoded as a 64-byte text string "
                             "(78 40 + 64 hex) and cannot be verified in place")
    return data, doc, off


def sign(data: bytes, hmac_key: str | bytes, content_type: str | None = None) -> bytes:
    """Fill the 64-'0' signature placeholder of a serialised HS256 document in place.

    Raises SignatureError if the document is not HS256 or is already signed (the signature is
    not the placeholder)."""
    data, _, off = _locate(data, content_type)
    if data[off:off + 64] != PLACEHOLDER:
        raise SignatureError("document is already signed: its signature is not the 64-'0' "
                             "placeholder (reset it to sign again)")
    return data[:off] + hmac_hex(key_bytes(hmac_key), data) + data[off + 64:]


def verify(data: bytes, hmac_key: str | bytes, content_type: str | None = None, *,
           allow_truncated_key: bool = True) -> bool:
    """True when the document's HS256 signature matches ``hmac_key``, False when it does not.

    Raises AcquisitionFormatError (SignatureError) when the document is malformed, is not
    signed (alg ``none``), or still carries the placeholder."""
    return verify_at(*_locate(data, content_type), hmac_key,
                     allow_truncated_key=allow_truncated_key)


def decode_verified(data: bytes, hmac_key: str | bytes | None,
                    content_type: str | None = None, *, allow_truncated_key: bool = True
                    ) -> tuple[DataAcquisition, bool | None]:
    """Decode once and check the signature from the same bytes: ``(document, valid)``, with
    ``valid`` None when there is nothing to check (no key, or ``alg`` ``none``) and
    :func:`verify`'s answer otherwise (False also when the signature is the placeholder or
    cannot be verified in place). What ``decode`` + ``verify`` did with two decodes."""
    if hmac_key is None:
        return decode_located(data, content_type)[0], None
    doc, off = decode_located(data, content_type, need_offset=True)
    if doc.alg != "HS256":
        return doc, None
    if off is None:
        return doc, False
    try:
        return doc, verify_at(bytes(data), doc, off, hmac_key,
                              allow_truncated_key=allow_truncated_key)
    except SignatureError:
        return doc, False


def verify_at(data: bytes, doc: DataAcquisition, off: int, hmac_key: str | bytes, *,
              allow_truncated_key: bool = True) -> bool:
    """:func:`verify` for a document already decoded (``doc``, HS256) whose 64 signature
    characters start at byte ``off`` of ``data``: an HMAC over the bytes with the placeholder
    written back, no second decode."""
    del doc  # located and checked by the caller; kept in the signature for clarity
    found = data[off:off + 64]
    if found == PLACEHOLDER:
        raise SignatureError("document was never signed: the signature is still the 64-'0' "
                             "placeholder")
    found = found.lower()
    zeroed = data[:off] + PLACEHOLDER + data[off + 64:]
    key = key_bytes(hmac_key)
    ok = hmac.compare_digest(hmac_hex(key, zeroed), found)
    if allow_truncated_key and len(key) > FIRMWARE_KEY_BYTES:
        ok |= hmac.compare_digest(hmac_hex(key[:FIRMWARE_KEY_BYTES], zeroed), found)
    return bool(ok)


def check_signature(data: bytes, hmac_key: str | bytes, content_type: str | None = None, *,
                    allow_truncated_key: bool = True) -> DataAcquisition:
    """Decode and verify; return the document or raise SignatureError on a bad signature."""
    if not verify(data, hmac_key, content_type, allow_truncated_key=allow_truncated_key):
        raise SignatureError("signature does not match: wrong HMAC key, or the document was "
                             "changed after signing")
    return decode_located(data, content_type)[0]

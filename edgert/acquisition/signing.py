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

__all__ = ["sign", "verify", "check_signature", "FIRMWARE_KEY_BYTES"]


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
    data, _, off = _locate(data, content_type)
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

"""HMAC-SHA256 as the format uses it: key = the key string's UTF-8 bytes (not hex-decoded),
digest written as 64 lowercase hex characters."""
from __future__ import annotations

import hashlib
import hmac

#: The Edge Impulse firmware copies at most this many bytes of the key (sensor_aq_mbedtls_hs256).
FIRMWARE_KEY_BYTES = 32


def key_bytes(hmac_key: str | bytes) -> bytes:
    """The HMAC key as bytes: a str is UTF-8 encoded as is (a hex-looking key is *not*
    hex-decoded), bytes are used unchanged."""
    if isinstance(hmac_key, str):
        return hmac_key.encode("utf-8")
    if isinstance(hmac_key, (bytes, bytearray)):
        return bytes(hmac_key)
    raise TypeError(f"HMAC key must be str or bytes, got {type(hmac_key).__name__}")


def hmac_hex(key: bytes, data: bytes) -> bytes:
    """Lowercase hex HMAC-SHA256 of ``data`` as 64 ASCII bytes."""
    return hmac.new(key, data, hashlib.sha256).hexdigest().encode("ascii")

"""Edge Impulse data-acquisition documents: JSON and CBOR (firmware layout, binary int16
variant), HS256 signing and verification.

>>> doc = decode(body, request_content_type)         # validated DataAcquisition
>>> verify(body, hmac_key)                           # True / False (constant time)
>>> encode_cbor(doc, hmac_key)                       # bytes the firmware would emit, signed

Decisions (see the module docstrings for the facts behind them):

- Keys: the HMAC key is the key string's UTF-8 bytes, never hex-decoded. We sign with the whole
  key (as the CLI and ingestion service do); the firmware uses only its first 32 bytes, so
  :func:`verify` also accepts a signature made with the first 32 bytes of a longer key
  (``allow_truncated_key=False`` turns that off).
- NaN/Infinity samples are rejected (JSON cannot carry them; a recording with them is broken).
- HS256 signatures are exactly 64 hex characters; ``alg: none`` documents may carry any hex
  text up to 64 characters (the firmware's "none" signer writes 2), and are never "verified".
- JSON is written exactly as ``JSON.stringify`` writes it (Node.js-compatible numbers), so
  documents from the Edge Impulse CLI re-encode to the same bytes and signatures.
- Empty recordings, unknown top-level/sensor keys, duplicate keys, CBOR tags, byte strings and
  undefined are rejected; unknown ``payload``/``protected`` keys are kept (``extra_*``).
"""
from .codec import decode, detect_format, load, media_type
from .cbor_codec import encode_cbor
from .document import (BINARY_I16_REF, MAX_DOCUMENT_BYTES, PLACEHOLDER, DataAcquisition,
                       Sensor)
from .errors import SignatureError
from .json_codec import encode_json
from .signing import FIRMWARE_KEY_BYTES, check_signature, sign, verify

__all__ = [
    "BINARY_I16_REF",
    "DataAcquisition",
    "FIRMWARE_KEY_BYTES",
    "MAX_DOCUMENT_BYTES",
    "PLACEHOLDER",
    "Sensor",
    "SignatureError",
    "check_signature",
    "decode",
    "detect_format",
    "encode_cbor",
    "encode_json",
    "load",
    "media_type",
    "sign",
    "verify",
]

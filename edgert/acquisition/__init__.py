"""Edge Impulse data-acquisition documents: JSON and CBOR (firmware layout, binary int16
variant), HS256 signing and verification.

>>> doc = decode(body, request_content_type)         # validated DataAcquisition
>>> verify(body, hmac_key)                           # True / False (constant time)
>>> encode_cbor(doc, hmac_key)                       # bytes the firmware would emit, signed
"""
from .codec import decode, detect_format
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
    "sign",
    "verify",
]

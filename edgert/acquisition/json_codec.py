"""JSON data-acquisition documents, written exactly as Edge Impulse's tooling writes them.

The edge-impulse-cli (data forwarder, uploader) builds the document as a JS object and signs
``JSON.stringify(doc)``: no whitespace, keys in insertion order, numbers in JavaScript's
``Number.prototype.toString`` form (``16`` not ``16.0``, ``1e-7`` not ``1e-07``, ``1e+21``).
:func:`encode_json` reproduces that byte for byte, so a signature we compute over a document
equals the one the CLI would compute, and vice versa.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from ..errors import AcquisitionFormatError
from .document import (PLACEHOLDER, VERSION, DataAcquisition, check_document,
                       document_from_tree)
from ._hmac import hmac_hex, key_bytes

__all__ = ["decode_json", "encode_json", "js_number", "signature_offset_json"]


# ---------------------------------------------------------------- JavaScript number formatting

def _js_number_slow(x: float) -> str:
    """Number::toString (ECMA-262 6.1.6.1.20) from the shortest round-trip digits."""
    sign = "-" if x < 0 else ""
    r = repr(abs(x))
    mant, _, e = r.partition("e")
    ip, _, fp = mant.partition(".")
    digits = ip + fp
    exp10 = (int(e) if e else 0) - len(fp)  # value = int(digits) * 10**exp10
    digits = digits.lstrip("0")
    s = digits.rstrip("0")
    exp10 += len(digits) - len(s)
    k = len(s)
    n = k + exp10  # value = 0.s * 10**n
    if k <= n <= 21:
        return sign + s + "0" * (n - k)
    if 0 < n <= 21:
        return sign + s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + s
    ex = n - 1
    es = ("+" if ex >= 0 else "-") + str(abs(ex))
    return sign + s[0] + ("." + s[1:] if k > 1 else "") + "e" + es


def js_number(x: float | int) -> str:
    """Format a number as JavaScript's ``String(x)`` / ``JSON.stringify(x)`` does."""
    if type(x) is int and -(2 ** 53) <= x <= 2 ** 53:
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        raise AcquisitionFormatError(f"cannot write {x} in JSON (NaN/Infinity not allowed)")
    if x == 0:
        return "0"  # JSON.stringify(-0) === "0"
    r = repr(x)
    if "e" not in r:  # repr is positional exactly where JS is (1e-4 <= |x| < 1e16 subset)
        return r[:-2] if r.endswith(".0") else r
    return _js_number_slow(x)


def _js_string(s: str) -> str:
    # JSON.stringify escapes ", \, \b \f \n \r \t, other C0 controls as \u00xx; the rest raw.
    # json.dumps(ensure_ascii=False) does exactly that.
    return json.dumps(s, ensure_ascii=False)


def _js_value(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if type(v) in (int, float):
        return js_number(v)
    if isinstance(v, str):
        return _js_string(v)
    if isinstance(v, list):
        return "[" + ",".join(_js_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(_js_string(k) + ":" + _js_value(x) for k, x in v.items()) + "}"
    raise AcquisitionFormatError(f"cannot write a {type(v).__name__} in JSON")


def _values_json(values: np.ndarray, flat_single_axis: bool) -> str:
    if values.ndim == 1:  # int16 binary samples: plain integers, one axis
        ints = values.tolist()
        if flat_single_axis:
            return "[" + ",".join(map(str, ints)) + "]"
        return "[" + ",".join("[" + str(v) + "]" for v in ints) + "]"
    rows = values.tolist()
    if flat_single_axis and values.shape[1] == 1:
        return "[" + ",".join(js_number(r[0]) for r in rows) + "]"
    return "[" + ",".join("[" + ",".join(map(js_number, r)) + "]" for r in rows) + "]"


def encode_json(doc: DataAcquisition, hmac_key: str | bytes | None = None, *,
                flat_single_axis: bool = False) -> bytes:
    """Serialise ``doc`` as ``JSON.stringify`` would (UTF-8 bytes).

    Key order: ``protected`` {ver, alg, iat?, extra...}, ``signature``, ``payload``
    {device_name?, device_type?, interval_ms, sensors, extra..., values}. Rows are arrays (as the
    CLI data forwarder writes them); ``flat_single_axis=True`` writes one-axis data as a flat
    array of numbers instead. int16 (binary) samples are written as integers.

    With ``alg == "HS256"`` and a key, the document is signed: serialised with the 64-'0'
    placeholder, HMAC-SHA256 over all bytes, lowercase hex written over the placeholder. Without
    a key the document's own ``signature`` (or the placeholder) is written.
    """
    values = check_document(doc)
    sign = doc.alg == "HS256" and hmac_key is not None
    sig = PLACEHOLDER.decode() if (sign or doc.signature is None) else doc.signature
    prot: dict[str, Any] = {"ver": VERSION, "alg": doc.alg}
    if doc.iat is not None:
        prot["iat"] = int(doc.iat)
    prot.update(doc.extra_protected)
    pay = []
    if doc.device_name is not None:
        pay.append('"device_name":' + _js_string(doc.device_name))
    if doc.device_type is not None:
        pay.append('"device_type":' + _js_string(doc.device_type))
    iv = doc.interval_ms
    pay.append('"interval_ms":' + js_number(iv.item() if isinstance(iv, np.generic) else iv))
    pay.append('"sensors":[' + ",".join(
        '{"name":' + _js_string(s.name) + ',"units":' + _js_string(s.units) + "}"
        for s in doc.sensors) + "]")
    for k, v in doc.extra_payload.items():
        pay.append(_js_string(k) + ":" + _js_value(v))
    pay.append('"values":' + _values_json(values, flat_single_axis))
    head = '{"protected":' + _js_value(prot) + ',"signature":"'
    try:
        out = bytearray((head + sig + '","payload":{' + ",".join(pay) + "}}").encode("utf-8"))
    except UnicodeEncodeError as e:
        raise AcquisitionFormatError(f"text is not valid Unicode (lone surrogate?): {e}") \
            from None
    if sign:
        off = len(head.encode("utf-8"))
        out[off:off + 64] = hmac_hex(key_bytes(hmac_key), bytes(out))
    return bytes(out)


# ------------------------------------------------------------------------------------- decoding

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise AcquisitionFormatError(f"duplicate key {dup!r} in a JSON object")
    return d


def _reject_constant(name: str) -> Any:
    raise AcquisitionFormatError(f"{name} is not valid JSON (NaN/Infinity are not allowed)")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise AcquisitionFormatError(f"number {text[:40]} overflows a float64")
    return v


def _parse_strict(text: str) -> Any:
    """The reference parse: every float through :func:`_finite_float` (an overflowing number
    is reported as such, at the first one), NaN/Infinity and duplicate keys rejected."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant, parse_float=_finite_float)
    except AcquisitionFormatError:
        raise
    except json.JSONDecodeError as e:
        raise AcquisitionFormatError(f"invalid JSON: {e}") from None
    except RecursionError:
        raise AcquisitionFormatError("JSON nested too deeply") from None
    except (ValueError, MemoryError) as e:  # e.g. integers over the int-digits limit
        raise AcquisitionFormatError(f"invalid JSON: {e}") from None


def decode_json(data: bytes) -> DataAcquisition:
    """Parse and validate a JSON document (UTF-8, no BOM, nothing after the closing brace).

    Fast path: ``json.loads`` with its C float parser (a Python ``parse_float`` hook called
    once per number was most of the decode time), then :func:`document_from_tree`, which
    checks every float of a valid document for finiteness (samples in one vectorised numpy
    pass, ``interval_ms`` and extra keys one by one; every other place a number could be is a
    type error), so a document holding an overflowing number such as ``1e999`` never passes
    it. Any failure re-runs the reference path (:func:`_parse_strict`, a ``parse_float`` hook
    rejecting each overflow as it is read) and raises what it raises: errors and their
    messages are exactly those of the strict decoder.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        raise AcquisitionFormatError("JSON starts with a UTF-8 byte-order mark; remove it")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AcquisitionFormatError(f"JSON is not valid UTF-8: {e}") from None
    try:
        tree = json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant)
        return document_from_tree(tree, None)
    except Exception:  # noqa: BLE001 - re-decoded strictly: the same error, as always named
        pass
    return document_from_tree(_parse_strict(text), None)


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
_WS = b" \t\r\n"


def signature_offset_json(data: bytes) -> int:
    """Byte offset of the 64 hex characters of the top-level ``signature`` value in a JSON
    document that already decoded successfully. The value must be a plain (unescaped) string."""
    depth = 0
    n = len(data)
    for m in _TOKEN.finditer(data):
        tok = m.group()
        c = tok[0]
        if c in b"[{":
            depth += 1
        elif c in b"]}":
            depth -= 1
        elif depth == 1:  # a string directly inside the top-level object: key or value
            k = m.end()
            while k < n and data[k] in _WS:
                k += 1
            if k < n and data[k] == 0x3A and json.loads(tok) == "signature":
                k += 1
                while k < n and data[k] in _WS:
                    k += 1
                if data[k:k + 1] != b'"' or data[k + 65:k + 66] != b'"':
                    raise AcquisitionFormatError(
                        "the JSON signature must be written as 64 plain hex characters "
                        "(no escapes) to be verifiable in place")
                return k + 1
    raise AcquisitionFormatError("no top-level 'signature' in the JSON document")

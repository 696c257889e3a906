"""CBOR data-acquisition documents, byte for byte as the Edge Impulse firmware streams them.

Layout written by the firmware's ``sensor_aq`` library (QCBOR encoder), and by
:func:`encode_cbor`::

    A3                                   map(3), definite
      69 "protected"  A2|A3 { 63 "ver" 62 "v1", 63 "alg" <text>, [63 "iat" <int>] }
      69 "signature"  78 40 <64 ASCII '0', later the lowercase hex HMAC>
      69 "payload"    A? { [6B "device_name" <text>], 6B "device_type" <text>,
                          6B "interval_ms" <float>,
                          67 "sensors" 8N [ A2 {64 "name" <text>, 65 "units" <text>} ],
                          66 "values" 9F <one item per sample> FF }

A sample is an array of floats (``8N``) or, with one axis, a bare float. Floats use the
smallest lossless width (half ``F9``, single ``FA``, double ``FB``): QCBOR's "preferred
serialization" of ``QCBOREncode_AddDouble``, with QCBOR 1.x's rule (the version vendored with
the firmware's sensor_aq): a narrower width is used only for zero or a value that is *normal*
in it - a value that would be a half (single) subnormal stays single (double), although it
would fit losslessly. The firmware streams samples after the header and
closes the indefinite array with ``FF``; because the outer maps are definite and ``values`` is
the last key of the last map, that ``FF`` ends the CBOR item. The binary variant (audio) writes
``9F 6E "Ref-BINARY-i16" FF`` (the firmware may pad the text with spaces for alignment) and
then raw little-endian int16 samples, outside CBOR but covered by the HMAC.

Decoding is general: any float width, integers, definite or indefinite containers, any key
order, bare or array samples. Hostile input is bounded: a structural pre-scan (no allocation,
linear time) checks nesting depth, that every declared length fits in the bytes that remain,
rejects tags/byte strings/undefined, and finds where the CBOR item ends; only then does
``cbor2`` build the tree.
"""
from __future__ import annotations

import re
import struct
from typing import Any

import numpy as np

from ..errors import AcquisitionFormatError
from ._hmac import hmac_hex, key_bytes
from .document import (BINARY_I16_REF, MAX_NESTING, PLACEHOLDER, VERSION, DataAcquisition,
                       check_document, document_from_tree, numeric_values_from_tree)

__all__ = ["decode_cbor", "encode_cbor", "cbor_float", "cbor_item_end", "SIGNATURE_HEADER"]

#: The bytes in front of the 64 signature characters: text string, 1-byte length, 64.
SIGNATURE_HEADER = b"\x78\x40"


def _err(msg: str) -> AcquisitionFormatError:
    return AcquisitionFormatError(msg)


# ------------------------------------------------------------------------------------- encoding

def _head(major: int, n: int) -> bytes:
    mt = major << 5
    if n < 24:
        return bytes([mt | n])
    if n < 0x100:
        return bytes([mt | 24, n])
    if n < 0x10000:
        return bytes([mt | 25]) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes([mt | 26]) + n.to_bytes(4, "big")
    if n < 1 << 64:
        return bytes([mt | 27]) + n.to_bytes(8, "big")
    raise _err(f"integer {n} does not fit CBOR's 64-bit argument")


def _text(s: str) -> bytes:
    try:
        b = s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _err(f"text is not valid Unicode (lone surrogate?): {e}") from None
    return _head(3, len(b)) + b


def _int(v: int) -> bytes:
    return _head(0, v) if v >= 0 else _head(1, -1 - v)


#: Smallest normal magnitudes: below them (zero aside) QCBOR 1.x keeps the wider width.
_HALF_MIN_NORMAL = 2.0 ** -14
_SINGLE_MIN_NORMAL = 2.0 ** -126


def cbor_float(x: float) -> bytes:
    """The firmware's CBOR encoding of a float: F9 half, FA single, else FB double - the
    smallest width that holds ``x`` exactly as a normal number (or zero); see the module
    docstring for why subnormals are not narrowed."""
    x = float(x)
    ax = abs(x)
    if ax == 0.0 or ax >= _HALF_MIN_NORMAL:
        try:
            h = struct.pack(">e", x)
            if struct.unpack(">e", h)[0] == x:
                return b"\xf9" + h
        except OverflowError:
            pass
    if ax == 0.0 or ax >= _SINGLE_MIN_NORMAL:
        try:
            f = struct.pack(">f", x)
            if struct.unpack(">f", f)[0] == x:
                return b"\xfa" + f
        except OverflowError:
            pass
    return b"\xfb" + struct.pack(">d", x)


def _plain(v: Any) -> bytes:
    """Encode a kept-verbatim value (extra keys) the way the rest of the document is encoded."""
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if type(v) is int:
        return _int(v)
    if type(v) is float:
        return cbor_float(v)
    if isinstance(v, str):
        return _text(v)
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(_plain(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(_text(k) + _plain(x) for k, x in v.items())
    raise _err(f"cannot write a {type(v).__name__} in CBOR")


def _float_items(values: np.ndarray) -> np.ndarray:
    """Encode every float of ``values`` (any shape) with the smallest lossless width, all at
    once. Returns uint8 ``values.shape + (9,)`` slots and the used length of each slot."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        h = v.astype(np.float16)
        f = v.astype(np.float32)
        av = np.abs(v)
        zero = av == 0.0
        is_h = (h.astype(np.float64) == v) & (zero | (av >= _HALF_MIN_NORMAL))
        is_f = ~is_h & (f.astype(np.float64) == v) & (zero | (av >= _SINGLE_MIN_NORMAL))
    is_d = ~is_h & ~is_f
    slots = np.zeros(v.shape + (9,), dtype=np.uint8)
    lens = np.full(v.shape, 9, dtype=np.int64)
    slots[..., 0] = 0xFB
    slots[is_d, 1:9] = v[is_d].astype(">f8").view(np.uint8).reshape(-1, 8)
    slots[is_f, 0] = 0xFA
    slots[is_f, 1:5] = f[is_f].astype(">f4").view(np.uint8).reshape(-1, 4)
    lens[is_f] = 5
    slots[is_h, 0] = 0xF9
    slots[is_h, 1:3] = h[is_h].astype(">f2").view(np.uint8).reshape(-1, 2)
    lens[is_h] = 3
    return slots, lens


def _values_stream(values: np.ndarray) -> bytes:
    """The samples as the firmware streams them: one bare float per sample for one axis, else
    one definite array of floats per sample."""
    n, n_axes = values.shape
    slots, lens = _float_items(values)
    if n_axes == 1:
        mask = np.arange(9) < lens[..., None]  # (n, 1, 9)
        return slots[mask].tobytes()
    head = np.frombuffer(_head(4, n_axes), dtype=np.uint8)
    hl = head.size
    buf = np.zeros((n, hl + 9 * n_axes), dtype=np.uint8)
    buf[:, :hl] = head
    buf[:, hl:] = slots.reshape(n, 9 * n_axes)
    mask = np.ones(buf.shape, dtype=bool)
    mask[:, hl:] = (np.arange(9) < lens[..., None]).reshape(n, 9 * n_axes)
    return buf[mask].tobytes()


def encode_cbor(doc: DataAcquisition, hmac_key: str | bytes | None = None) -> bytes:
    """Serialise ``doc`` in the firmware's exact CBOR layout (see the module docstring).

    int16 values give the binary variant (``Ref-BINARY-i16`` + raw little-endian samples).
    With ``alg == "HS256"`` and a key the document is signed in place over all bytes (raw
    samples included); without a key the document's ``signature`` (or the placeholder) is
    written.
    """
    values = check_document(doc)
    sign = doc.alg == "HS256" and hmac_key is not None
    sig = PLACEHOLDER if (sign or doc.signature is None) else doc.signature.encode("ascii")

    prot = [_text("ver") + _text(VERSION), _text("alg") + _text(doc.alg)]
    if doc.iat is not None:
        prot.append(_text("iat") + _int(int(doc.iat)))
    prot += [_text(k) + _plain(v) for k, v in doc.extra_protected.items()]

    pay = []
    if doc.device_name is not None:
        pay.append(_text("device_name") + _text(doc.device_name))
    if doc.device_type is not None:
        pay.append(_text("device_type") + _text(doc.device_type))
    pay.append(_text("interval_ms") + cbor_float(doc.interval_ms))
    pay.append(_text("sensors") + _head(4, len(doc.sensors)) + b"".join(
        b"\xa2" + _text("name") + _text(s.name) + _text("units") + _text(s.units)
        for s in doc.sensors))
    pay += [_text(k) + _plain(v) for k, v in doc.extra_payload.items()]
    if values.ndim == 1:  # binary int16
        pay.append(_text("values") + b"\x9f" + _text(BINARY_I16_REF) + b"\xff")
        tail = values.astype("<i2").tobytes()
    else:
        pay.append(_text("values") + b"\x9f" + _values_stream(values) + b"\xff")
        tail = b""

    head = (b"\xa3" + _text("protected") + _head(5, len(prot)) + b"".join(prot)
            + _text("signature") + _head(3, len(sig)))  # 64 chars: 78 40
    out = bytearray(head + sig + _text("payload") + _head(5, len(pay)) + b"".join(pay) + tail)
    if sign:
        out[len(head):len(head) + 64] = hmac_hex(key_bytes(hmac_key), bytes(out))
    return bytes(out)


# ------------------------------------------------------------------------------------- decoding

_SIMPLE_OK = frozenset((0xF4, 0xF5, 0xF6, 0xF9, 0xFA, 0xFB))

# Fast path for the bulk of a document: runs of samples in an indefinite array, each a number
# (integer or float of any width) or a definite array of up to 23 numbers, skipped at C speed
# by regex matches of at most 4096 samples (bounded, so the regex engine's own bookkeeping
# stays small) instead of one Python iteration per byte-level item.
_NUM = (rb"(?:[\xf9\x19\x39][\s\S]{2}|[\xfa\x1a\x3a][\s\S]{4}|[\xfb\x1b\x3b][\s\S]{8}"
        rb"|[\x00-\x17\x20-\x37]|[\x18\x38][\s\S])")
_SAMPLE = (rb"(?:" + _NUM + rb"|" + rb"|".join(bytes([0x80 + k]) + _NUM + rb"{%d}" % k
                                               for k in (3, 2, 1, *range(4, 24))) + rb")")
_SAMPLE_CHUNK = re.compile(_SAMPLE + rb"{1,4096}")

# Second fast path, for the item shapes hostile input floods a document with (empty arrays and
# maps, null/true/false, short texts, small arrays of those, chains of one-element arrays, indefinite rows):
# items that the byte-level walk below would accept as they are, skipped by one regex match
# of up to 4096 items. The patterns respect the nesting limit exactly: ``_loose_chunk(r)`` is
# for items read with ``r`` more levels allowed (an array or map, even empty, needs r >= 1).
# A document whose values used this path is decoded in one piece by cbor2 and validated as a
# whole (the general path), so what it is accepted or rejected with does not change.
_SIMPLE = (rb"[\xf4-\xf6\x60]|" + rb"|".join(bytes([0x60 + k]) + rb"[\s\S]{%d}" % k
                                            for k in range(1, 24)))  # (texts: cbor2 checks UTF-8)


def _loose_leaf(q: int) -> bytes:
    """A number, false/true/null, a short text, or (with q >= 1 levels left) an empty array or
    map."""
    return rb"(?:" + _NUM + rb"|" + _SIMPLE + (rb"|[\x80\xa0]" if q >= 1 else b"") + rb")"


_LOOSE_CACHE: dict[int, "re.Pattern[bytes]"] = {}


def _loose_chunk(r: int) -> "re.Pattern[bytes]":
    pat = _LOOSE_CACHE.get(r)
    if pat is None:
        inner = _loose_leaf(r - 1)
        alts = [_loose_leaf(r)]
        alts += [bytes([0x80 + k]) + inner + rb"{%d}" % k for k in range(1, 24)]
        alts.append(rb"\x9f" + inner + rb"{0,4096}\xff")
        for m in range(2, r + 1):  # m nested one-element arrays around a leaf
            alts.append(rb"\x81{%d}" % m + _loose_leaf(r - m))
        pat = re.compile(rb"(?:" + rb"|".join(alts) + rb"){1,4096}")
        _LOOSE_CACHE[r] = pat
    return pat


_VALUES_PATH = ("payload", "values")


def _scan(data: bytes, max_depth: int
          ) -> tuple[int, dict[tuple[str, ...], tuple[int, int]], list[tuple[int, int]] | None]:
    """Walk the CBOR item at offset 0 without building it.

    Returns the offset just past the item and the byte span ``(start, end)`` of every map value
    at the first two levels, keyed by its path (``("signature",)``, ``("payload", "values")``),
    and the runs of plain numeric samples found in the indefinite ``payload.values`` array
    (None when other items were skipped there by the second fast path).
    Raises AcquisitionFormatError on anything outside the format's subset (tags, byte strings,
    undefined/simple values, non-text map keys), on nesting deeper than ``max_depth``, and on
    lengths that exceed the remaining input.
    """
    n = len(data)
    pos = 0
    # frame: [remaining items or -1 (indefinite), is_map, items seen, path of this container,
    #         current key (maps of the first two levels), start of the current value,
    #         runs of plain samples skipped by the fast path, keys seen (maps),
    #         items left to walk before trying the fast paths again, last such back-off]
    stack: list[list] = []
    spans: dict[tuple[str, ...], tuple[int, int]] = {}
    value_runs: list[tuple[int, int]] | None = []
    while True:
        if stack and stack[-1][0] == -1 and not stack[-1][1] and len(stack) < max_depth \
                and stack[-1][8] > 0:
            stack[-1][8] -= 1  # backing off after a miss (see below)
        elif stack and stack[-1][0] == -1 and not stack[-1][1] and len(stack) < max_depth:
            fr = stack[-1]
            loose = None
            hit = False
            while True:
                m = _SAMPLE_CHUNK.match(data, pos)
                if m:
                    fr[2] += 1  # item count only matters for maps and definite arrays
                    if fr[6] is not None:
                        fr[6].append((pos, m.end()))
                    pos = m.end()
                    continue
                if loose is None:
                    loose = _loose_chunk(max_depth - len(stack))
                m = loose.match(data, pos)
                if not m:
                    break
                hit = True
                fr[2] += 1
                fr[6] = None  # not plain samples: decoded and validated as a whole
                pos = m.end()
            # A miss before anything but the closing break means the next item takes the
            # byte-level walk, so this array's runs no longer cover it (it is decoded whole
            # either way): skip the fast paths for the next 1, 2, 4 .. 64 items of a shape
            # they do not cover instead of failing two regexes per item.
            if pos < n and data[pos] != 0xFF:
                fr[9] = 1 if hit else min(64, 2 * fr[9] or 1)
                fr[8] = fr[9]
        start = pos
        if pos >= n:
            raise _err(f"CBOR ends early at byte {pos} (truncated document?)")
        ib = data[pos]
        pos += 1
        major, ai = ib >> 5, ib & 0x1F
        if ib == 0xFF:
            if not stack or stack[-1][0] != -1:
                raise _err(f"unexpected CBOR break byte 0xFF at offset {start}")
            fr = stack.pop()
            if fr[1] and fr[2] % 2:
                raise _err(f"CBOR map closed after a key without a value (offset {start})")
            if fr[3] == _VALUES_PATH:
                value_runs = fr[6]
        else:
            fr = stack[-1] if stack else None
            in_key = fr is not None and fr[1] and fr[2] % 2 == 0
            if in_key and major != 3:
                raise _err(f"CBOR map key at offset {start} is not a text string")
            tracked = fr is not None and fr[1] and len(stack) <= 2 and fr[4] is not None
            if tracked and not in_key:
                fr[5] = start
            if ai < 24:
                arg: int | None = ai
            elif ai <= 27:
                size = 1 << (ai - 24)
                if pos + size > n:
                    raise _err(f"CBOR ends early inside the item at offset {start}")
                arg = int.from_bytes(data[pos:pos + size], "big")
                pos += size
            elif ai <= 30:
                raise _err(f"reserved CBOR additional information {ai} at offset {start}")
            else:
                arg = None
            if major <= 1:
                if arg is None:
                    raise _err(f"invalid CBOR integer header 0x{ib:02X} at offset {start}")
            elif major == 2:
                raise _err(f"CBOR byte string at offset {start}: not part of the data-"
                           f"acquisition format")
            elif major == 3:
                if arg is None:
                    chunks = []
                    while True:
                        if pos >= n:
                            raise _err("CBOR ends early inside an indefinite-length text")
                        cb = data[pos]
                        if cb == 0xFF:
                            pos += 1
                            break
                        if cb >> 5 != 3 or (cb & 0x1F) > 27:
                            raise _err(f"bad chunk 0x{cb:02X} in an indefinite-length text "
                                       f"at offset {pos}")
                        cai = cb & 0x1F
                        pos += 1
                        if cai < 24:
                            clen = cai
                        else:
                            size = 1 << (cai - 24)
                            if pos + size > n:
                                raise _err("CBOR ends early inside an indefinite-length text")
                            clen = int.from_bytes(data[pos:pos + size], "big")
                            pos += size
                        if clen > n - pos:
                            raise _err(f"CBOR text chunk declares {clen} bytes but only "
                                       f"{n - pos} remain")
                        chunks.append(data[pos:pos + clen])
                        pos += clen
                    text = b"".join(chunks)
                else:
                    if arg > n - pos:
                        raise _err(f"CBOR text at offset {start} declares {arg} bytes but only "
                                   f"{n - pos} remain")
                    text = data[pos:pos + arg]
                    pos += arg
                if in_key:
                    # duplicate keys are checked here rather than by cbor2, whose
                    # allow_duplicate_keys option needs cbor2 >= 6 (not on Python 3.9)
                    if text in fr[7]:
                        raise _err(f"duplicate key {text.decode('utf-8', 'replace')!r} in a "
                                   f"CBOR map (offset {start})")
                    fr[7].add(bytes(text))
                if in_key and len(stack) <= 2:
                    fr[4] = text.decode("utf-8", "replace")
            elif major in (4, 5):
                if len(stack) >= max_depth:
                    raise _err(f"CBOR nested deeper than {max_depth} levels")
                path = fr[3] + (fr[4],) if tracked else ()
                if arg is None:
                    stack.append([-1, major == 5, 0, path, "" if major == 5 else None, None,
                                  [], set(), 0, 0])
                    continue
                items = arg * 2 if major == 5 else arg
                if items > n - pos:
                    raise _err(f"CBOR {'map' if major == 5 else 'array'} at offset {start} "
                               f"declares {arg} entries but only {n - pos} bytes remain")
                if items:
                    stack.append([items, major == 5, 0, path, "" if major == 5 else None, None,
                                  [], set(), 0, 0])
                    continue
            elif major == 6:
                raise _err(f"CBOR tag {arg} at offset {start}: tags are not part of the "
                           f"data-acquisition format")
            elif ib not in _SIMPLE_OK:
                raise _err(f"CBOR simple value 0x{ib:02X} at offset {start} is not allowed "
                           f"(only false, true, null and floats)")
        # one item is complete: count it in its container, closing finished containers
        while True:
            if not stack:
                return pos, spans, value_runs
            fr = stack[-1]
            if fr[5] is not None and fr[2] % 2:  # it was the value of a tracked key
                spans[fr[3] + (fr[4],)] = (fr[5], pos)
                fr[5] = None
            fr[2] += 1
            if fr[0] == -1:
                break
            fr[0] -= 1
            if fr[0]:
                break
            stack.pop()


def _values_in_chunks(data: bytes, start: int, end: int, runs: list[tuple[int, int]] | None,
                      n_axes: int) -> np.ndarray | None:
    """Decode an indefinite ``values`` array of plain numeric samples run by run (<= 4096
    samples each, as the scan found them), so a large recording never exists as one Python
    list of lists (memory ~ the float64 array). None unless the runs cover the whole array
    (the caller then decodes it in one piece)."""
    if data[start] != 0x9F or not runs or runs[0][0] != start + 1 or runs[-1][1] != end - 1:
        return None
    if any(a[1] != b[0] for a, b in zip(runs, runs[1:])):
        return None
    import cbor2  # imported when first needed (~1 MB a JSON-only process never pays)
    parts, row = [], 0
    for a, b in runs:
        rows = cbor2.loads(b"\x9f" + data[a:b] + b"\xff")
        parts.append(numeric_values_from_tree(rows, n_axes, row_offset=row))
        row += len(rows)
    return np.concatenate(parts)


def _loads(data: bytes) -> Any:
    import cbor2  # imported when first needed (~1 MB a JSON-only process never pays)
    try:
        # duplicate keys were rejected by _scan (cbor2 < 6 has no allow_duplicate_keys)
        return cbor2.loads(data, max_depth=MAX_NESTING + 1, str_errors="strict")
    except RecursionError:
        raise _err("CBOR nested too deeply") from None
    except Exception as e:  # cbor2 raises CBORDecodeError, ValueError, UnicodeError, ...
        raise _err(f"invalid CBOR: {e}") from None


def decode_cbor_located(data: bytes) -> tuple[DataAcquisition, int | None]:
    """Decode a CBOR document; also return the offset of the 64 signature characters (None when
    the signature is not encoded as ``78 40`` + 64 bytes)."""
    if not data:
        raise _err("empty document")
    if data[0] >> 5 != 5:
        raise _err(f"not a data-acquisition document: CBOR must start with a map (0xA0-0xBF), "
                   f"got 0x{data[0]:02X}; JSON must start with '{{'")
    end, spans, runs = _scan(data, MAX_NESTING)
    values = None
    vspan = spans.get(("payload", "values"))
    if vspan is not None and data[vspan[0]] == 0x9F:
        # decode the header with an empty values array, then the samples chunk by chunk
        tree = _loads(data[:vspan[0]] + b"\x80" + data[vspan[1]:end])
        pay = tree.get("payload") if isinstance(tree, dict) else None
        sensors = pay.get("sensors") if isinstance(pay, dict) else None
        if isinstance(sensors, list) and sensors:
            values = _values_in_chunks(data, vspan[0], vspan[1], runs, len(sensors))
    if values is None:
        tree = _loads(data[:end])
    doc = document_from_tree(tree, data[end:], numeric_values=values)
    span = spans.get(("signature",))
    off = span[0] if span is not None else None
    sig_off = off + 2 if off is not None and data[off:off + 2] == SIGNATURE_HEADER else None
    return doc, sig_off


def cbor_item_end(data: bytes) -> int:
    """Offset just past the CBOR item at offset 0: the structural pre-scan alone (no tree is
    built, linear time). Raises AcquisitionFormatError where :func:`decode_cbor` would on the
    structure, including when ``data`` ends inside the item - so scanning a prefix tells
    whether the item (the part of a document that becomes Python objects) fits in it."""
    return _scan(data, MAX_NESTING)[0]


def decode_cbor(data: bytes) -> DataAcquisition:
    """Parse and validate a CBOR document (plain, or the binary int16 variant)."""
    return decode_cbor_located(data)[0]

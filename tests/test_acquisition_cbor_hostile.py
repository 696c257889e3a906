"""Hostile CBOR (floods of empty arrays/maps, nulls, short texts, chains of one-element arrays,
indefinite rows) is skipped by the scanner's second fast path. Oracle: the scanner's general
byte-level walk (the second fast path switched off) - every document must be accepted or
rejected exactly as it is there, with the same message. What the fast path saves is measured
in benches/bench_acquisition.py (a benchmark, not a timed test)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgert.acquisition import DataAcquisition, Sensor, decode, encode_cbor
from edgert.acquisition import cbor_codec
from edgert.errors import AcquisitionFormatError

ACC = [Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")]


def _doc(n_axes: int = 3, alg: str = "none") -> tuple[bytes, bytes]:
    """(everything up to the values array, a valid full document)."""
    vals = np.arange(12 * n_axes, dtype=np.float64).reshape(12, n_axes) / 4
    doc = DataAcquisition(device_name="d", device_type="t", interval_ms=16,
                          sensors=ACC[:n_axes], values=vals, alg=alg)
    data = encode_cbor(doc)
    i = data.index(b"fvalues") + 7
    assert data[i] == 0x9F
    return data[:i], data


def _outcome(data: bytes):
    try:
        d = decode(data, "application/cbor")
    except AcquisitionFormatError as e:
        return ("error", str(e))
    return ("ok", d.device_name, d.interval_ms, d.values.dtype.str, d.values.tolist())


_NEVER = re.compile(rb"(?!)")


def _general_path(data: bytes):
    saved = cbor_codec._loose_chunk
    cbor_codec._loose_chunk = lambda r: _NEVER
    try:
        return _outcome(data)
    finally:
        cbor_codec._loose_chunk = saved


# Byte snippets of one item each (some valid samples, most not; some structurally invalid).
ITEMS = [b"\x80", b"\xa0", b"\xf6", b"\xf5", b"\xf4", b"\x60", b"\x63abc", b"\x62\xff\xfe",
         b"\x83\xf9\x3c\x00\xf9\x3c\x00\xf9\x3c\x00", b"\x83\x01\x02\x03", b"\x83\x80\x80\x80",
         b"\x83\xa0\xf6\x01", b"\x9f\x01\x02\x03\xff", b"\x9f\xff", b"\x9f\x80\xff",
         b"\x81" * 3 + b"\x00", b"\x81" * 12 + b"\x80", b"\x81" * 13 + b"\x00",
         b"\x81" * 14 + b"\x00", b"\x81" * 12 + b"\x00", b"\xf9\x7e\x00", b"\xfa\x7f\x80\x00\x00",
         b"\x01", b"\x3b" + b"\xff" * 8, b"\xc1\x01", b"\x41\x00", b"\xf7", b"\x82\x01",
         b"\xa1\x61a\x01", b"\x9f\x01\x02\x03", b"\x1c"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(ITEMS), min_size=0, max_size=40),
       st.integers(1, 3), st.integers(0, 60), st.sampled_from([b"\xff", b"", b"\xff\x00"]),
       st.booleans())
def test_same_decision_and_message_as_the_general_walk(items, n_axes, repeat, end, bad_head):
    head, _ = _doc(n_axes)
    if bad_head:  # a header error too: which one wins must not change
        head = head.replace(b"\x62v1", b"\x62v2")
    data = head + b"\x9f" + b"".join(items) * max(1, repeat) + end
    assert _outcome(data) == _general_path(data)


@pytest.mark.parametrize("body", [
    b"\x80" * 5000, b"\xa0" * 5000, b"\xf6" * 5000, (b"\x81" * 12 + b"\x00") * 500,
    b"\x9f\xf9\x3c\x00\xf9\x3c\x00\xf9\x3c\x00\xff" * 5000,  # valid: indefinite rows
    b"\x83\x01\x02\x03" * 3000 + b"\x80", b"\x83\x80\x80\x80" * 2000,
    b"\x80" * 5000 + b"\xc1\x01",  # a tag after the flood: the structural error wins
    b"\x80" * 5000 + b"\x81" * 14 + b"\x00",  # too deep after the flood
    b"\x63ab\xff" * 3000,  # invalid UTF-8 text
], ids=["empty-arrays", "empty-maps", "nulls", "chains", "indefinite-rows", "rows-then-empty",
        "rows-of-empty", "tag-after", "too-deep-after", "bad-utf8"])
def test_floods_same_as_the_general_walk(body):
    for n_axes in (1, 3):
        head, _ = _doc(n_axes)
        data = head + b"\x9f" + body + b"\xff"
        assert _outcome(data) == _general_path(data)

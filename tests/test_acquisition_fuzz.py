"""Hostile input: random bytes, random mutations of valid documents, and random CBOR/JSON
trees in every position of a document. decode/verify/sign must return a valid document (one
that re-encodes and decodes to the same thing), a bool, or raise AcquisitionFormatError -
nothing else, and quickly. Round-trip properties for random valid documents."""
from __future__ import annotations

import json
import math
import random
import time

import cbor2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgert.acquisition import (DataAcquisition, Sensor, decode, encode_cbor, encode_json,
                                sign, verify)
from edgert.errors import AcquisitionFormatError

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _assert_valid(doc: DataAcquisition) -> None:
    """A document decode returned must be one we can write and read back unchanged."""
    again = decode(encode_cbor(doc))
    assert again.values.dtype == doc.values.dtype
    np.testing.assert_array_equal(again.values, doc.values)
    assert again.sensors == doc.sensors and again.interval_ms == doc.interval_ms
    if not doc.is_binary:
        j = decode(encode_json(doc))
        np.testing.assert_array_equal(j.values, doc.values)
        assert np.isfinite(doc.values).all()
        assert doc.values.shape[1] == len(doc.sensors) and doc.values.dtype == np.float64


def _try_everything(data: bytes) -> None:
    try:
        doc = decode(data)
    except AcquisitionFormatError:
        doc = None
    if doc is not None:
        _assert_valid(doc)
    for fn in (lambda: verify(data, "key"), lambda: sign(data, "key")):
        try:
            r = fn()
        except AcquisitionFormatError:
            continue
        assert isinstance(r, (bool, bytes))


def _valid_docs() -> list[bytes]:
    acc = DataAcquisition("c4:7f:51:01:02:03", "DISCO_L475VG_IOT01A", 16.0,
                          [Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")],
                          np.array([[0.5, 1.1, -9.81], [1e-40, 2.0, 65504.0]]), alg="HS256",
                          iat=1700000000, extra_payload={"k": [1, "x"]})
    one = DataAcquisition(None, "T", 0.5, [Sensor("t", "Cel")], np.array([[1.0], [2.5]]))
    pcm = DataAcquisition("m", "T", 0.0625, [Sensor("audio", "wav")],
                          np.array([1, -2, 300], dtype=np.int16), alg="HS256")
    return [encode_cbor(acc, "key"), encode_cbor(acc), encode_cbor(one), encode_cbor(pcm, "key"),
            encode_json(acc, "key"), encode_json(one), encode_json(acc, flat_single_axis=True)]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        op = rng.randrange(6)
        i = rng.randrange(len(b) + 1) if b else 0
        if op == 0 and b:
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op == 1:
            b[i:i] = bytes([rng.choice((0x00, 0x1b, 0x5b, 0x7b, 0x9b, 0x9f, 0xbb, 0xbf, 0xc0,
                                        0xd8, 0xf7, 0xf9, 0xfa, 0xfb, 0xff, 0x22, 0x5b,
                                        rng.randrange(256)))])
        elif op == 2 and b:
            del b[i:i + rng.randrange(1, 4)]
        elif op == 3:
            del b[i:]
        elif op == 4 and b:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randrange(1, 16)]
        elif op == 5 and b:
            b[min(i, len(b) - 1)] ^= 1 << rng.randrange(8)
    return bytes(b)


def test_random_mutations_of_valid_documents():
    rng = random.Random(20261122)
    seeds = _valid_docs()
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < 4.0 and n < 8000:
        _try_everything(_mutate(rng, rng.choice(seeds)))
        n += 1
    assert n > 500


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    _try_everything(data)


@FUZZ
@given(st.binary(max_size=40))
def test_random_bytes_after_a_valid_prefix(tail):
    for seed in _valid_docs()[:2]:
        _try_everything(seed[:len(seed) // 2] + tail)


_leaf = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70)
         | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8))
_tree = st.recursive(_leaf, lambda ch: st.lists(ch, max_size=4)
                     | st.dictionaries(st.text(max_size=6), ch, max_size=4), max_leaves=12)
_slots = ["protected", "signature", "payload", "ver", "alg", "iat", "device_name",
          "device_type", "interval_ms", "sensors", "sensor0", "name", "units", "values", "row0",
          "cell"]


def _doc_tree() -> dict:
    return {"protected": {"ver": "v1", "alg": "HS256", "iat": 1},
            "signature": "0" * 64,
            "payload": {"device_name": "d", "device_type": "t", "interval_ms": 10,
                        "sensors": [{"name": "a", "units": "u"}, {"name": "b", "units": "u"}],
                        "values": [[1.0, 2.0], [3.0, 4.0]]}}


def _put(tree: dict, slot: str, value) -> dict:
    p, pay = tree["protected"], tree["payload"]
    target = {"protected": (tree, "protected"), "signature": (tree, "signature"),
              "payload": (tree, "payload"), "ver": (p, "ver"), "alg": (p, "alg"),
              "iat": (p, "iat"), "device_name": (pay, "device_name"),
              "device_type": (pay, "device_type"), "interval_ms": (pay, "interval_ms"),
              "sensors": (pay, "sensors"), "sensor0": (pay["sensors"], 0),
              "name": (pay["sensors"][0], "name"), "units": (pay["sensors"][0], "units"),
              "values": (pay, "values"), "row0": (pay["values"], 0),
              "cell": (pay["values"][1], 1)}[slot]
    target[0][target[1]] = value
    return tree


@FUZZ
@given(st.sampled_from(_slots), _tree)
def test_random_values_in_every_slot_cbor_and_json(slot, value):
    tree = _put(_doc_tree(), slot, value)
    _try_everything(cbor2.dumps(tree))
    try:
        text = json.dumps(tree, allow_nan=True).encode()
    except (ValueError, TypeError):
        return
    _try_everything(text)


def test_hostile_sizes_are_fast():
    cases = [b"\xbb" + b"\xff" * 8, b"\xa1\x61a\x9b" + b"\x7f" * 8,
             b"\xa1\x61a" + b"\x9f" * 200000, b"\xa1\x61a" + b"\x81" * 200000,
             b"\xa1\x61a\x7f" + b"\x61a" * 100000,
             b"{" + b'"a":[' * 50000, b"[" * 300000, b'{"a":' * 100000 + b"1" + b"}" * 100000]
    for data in cases:
        t0 = time.process_time()      # CPU time: other work on a shared machine does not count
        with pytest.raises(AcquisitionFormatError):
            decode(data)
        assert time.process_time() - t0 < 2.0


# ---------------------------------------------------------------------------- round trips

_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
_f32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


@st.composite
def _docs(draw):
    n_axes = draw(st.integers(1, 5))
    n = draw(st.integers(1, 6))
    vals = draw(st.lists(draw(st.sampled_from([_finite, _f32])), min_size=n * n_axes,
                         max_size=n * n_axes))
    names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=n_axes, max_size=n_axes))
    return DataAcquisition(
        device_name=draw(st.none() | st.text(max_size=10)),
        device_type=draw(st.none() | st.text(max_size=10)),
        interval_ms=draw(st.floats(min_value=1e-6, max_value=1e6)),
        sensors=[Sensor(nm, draw(st.text(max_size=4))) for nm in names],
        values=np.array(vals, dtype=np.float64).reshape(n, n_axes),
        alg=draw(st.sampled_from(["HS256", "none"])),
        iat=draw(st.none() | st.integers(0, 2 ** 40)))


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(_docs(), st.text(min_size=1, max_size=40))
def test_round_trip_random_documents(doc, key):
    for enc in (encode_cbor, encode_json):
        raw = enc(doc, key)
        back = decode(raw)
        np.testing.assert_array_equal(back.values, doc.values)
        assert back.sensors == doc.sensors and back.iat == doc.iat and back.alg == doc.alg
        assert back.device_name == doc.device_name and back.device_type == doc.device_type
        assert back.interval_ms == doc.interval_ms
        assert enc(back) == raw  # re-encoding keeps the signature found: same bytes
        if doc.alg == "HS256":
            assert verify(raw, key)
            assert not verify(raw, key + "x") or len(key.encode()) >= 32
        assert not math.isnan(back.frequency)


def test_hostile_item_floods_are_linear_and_bounded():
    """Shapes that defeat the scanner's fast path (one CBOR item per byte or two: empty arrays,
    empty maps, deep little arrays, indefinite rows) cost about 1-2 us per byte; 300 kB of them
    must fail within a bound a quadratic path (~90 s at 1 ns per byte pair) could never meet.
    CPU time of this process, generous: other work on a shared machine does not count."""
    n = 300_000
    head = (b"\xa3\x69protected\xa2\x63ver\x62v1\x63alg\x64none\x69signature\x62xx"
            b"\x67payload\xa3\x6binterval_ms\x01\x67sensors\x81\xa2\x64name\x61a\x65units\x61u"
            b"\x66values\x9f")
    cases = [b"\xa1\x61a\x9f" + b"\x80" * n + b"\xff",
             b"\xa1\x61a\x9f" + b"\xa1\x60\x00" * (n // 3) + b"\xff",
             b"\xa1\x61a\x9f" + (b"\x81" * 14 + b"\x00") * (n // 15) + b"\xff",
             head + b"\x9f\x01\xff" * (n // 3) + b"\xff\xff",
             head + b"\x80" * n + b"\xff\xff"]
    for data in cases:
        t0 = time.process_time()
        with pytest.raises(AcquisitionFormatError):
            decode(data)
        assert time.process_time() - t0 < 5.0, data[:40]

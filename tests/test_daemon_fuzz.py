"""The live request parser against arbitrary input (hypothesis, bounded): every body is either
a recording or a LiveInputError with a message and a 400/415 status - never another
exception (which would be a 500)."""
from __future__ import annotations

import json

import cbor2
from hypothesis import HealthCheck, given, settings, strategies as st

from edgert.daemon.live import LiveInputError, parse_request

AXES = ("accX", "accY", "accZ")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=6) |
    st.dictionaries(st.text(max_size=8), children, max_size=5), max_leaves=30)

short_forms = st.fixed_dictionaries(
    {"values": st.one_of(json_values, st.lists(st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=4),
        max_size=5))},
    optional={"interval_ms": json_values | st.floats(-10, 100), "frequency": json_values,
              "sensors": json_values, "metadata": json_values, "device_id": json_values,
              "tenant": json_values, "filename": json_values})


def _check(body: bytes, ctype: str) -> None:
    try:
        rec, info = parse_request(body, ctype, "k", AXES, {})
    except LiveInputError as exc:
        assert exc.status in (400, 415) and len(str(exc)) > 10
        return
    assert rec.values.ndim == 2 and rec.values.shape[0] >= 1 and rec.frequency > 0
    assert len(rec.sensors) == rec.values.shape[1]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=short_forms | json_values)
def test_any_json_body(doc):
    _check(json.dumps(doc).encode(), "application/json")


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200),
       ctype=st.sampled_from(["application/json", "application/cbor",
                              "application/octet-stream", "", "text/plain"]))
def test_any_bytes(body, ctype):
    _check(body, ctype)


@settings(max_examples=150, deadline=None)
@given(doc=json_values)
def test_any_cbor_tree(doc):
    _check(cbor2.dumps(doc), "application/cbor")

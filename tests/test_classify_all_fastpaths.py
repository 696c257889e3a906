"""The fast paths of a fresh classify-all keep the reference behaviour exactly:

* JSON decoding with json's C float parser gives the same document, and the same error with the
  same message, as the strict per-number decoder (``_parse_strict``) on every input tried;
* ``decode_verified`` answers what ``decode`` + ``verify`` answer, from one decode;
* the compact cache encoding (float64/int64 blocks) round-trips the Studio objects exactly;
* a fresh run's page equals the page served from the cache afterwards, and its classification
  objects equal the impulse's own ``to_studio_json``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgert.acquisition import (DataAcquisition, Sensor, SignatureError, decode, encode_cbor,
                                encode_json, verify)
from edgert.acquisition.json_codec import _parse_strict, decode_json
from edgert.acquisition.document import document_from_tree
from edgert.acquisition.signing import decode_verified
from edgert.dataset.classify_all import classify_all, classify_sample_cached
from edgert.dataset import Dataset, SampleFilter
from edgert.dataset.cache_codec import pack_detail as _pack_detail
from edgert.dataset.cache_codec import pack_summary as _pack_summary
from edgert.dataset.cache_codec import unpack_detail as _unpack_detail
from edgert.dataset.cache_codec import unpack_summary as _unpack_summary
from edgert.runtime.impulse import Impulse

HERE = Path(__file__).parent
DATA = HERE / "data" / "dataset" / "motion"
BUNDLE = HERE / "data" / "motion-demo"
KEY = "dataset-test-hmac-key"
ZEROS = "0" * 64


def _strict(raw: bytes):
    """The reference decoder: every float through the strict hook."""
    return document_from_tree(_parse_strict(raw.decode("utf-8")), None)


def _outcome(fn, raw):
    try:
        doc = fn(raw)
    except Exception as exc:  # noqa: BLE001 - the type and message are what is compared
        return type(exc), str(exc)
    return "ok", (doc.values.tolist(), doc.interval_ms, doc.extra_payload, doc.extra_protected,
                  doc.iat, doc.signature, doc.alg)


def _doc_text(values="[[1,2]]", interval="10", extra="", prot='{"ver":"v1","alg":"none"}'):
    return ('{"protected":' + prot + ',"signature":"' + ZEROS + '","payload":{"device_type":'
            '"X","interval_ms":' + interval + ',"sensors":[{"name":"a","units":"N/A"},'
            '{"name":"b","units":"N/A"}]' + extra + ',"values":' + values + '}}').encode()


@pytest.mark.parametrize("raw", [
    _doc_text(),
    _doc_text(values="[[1,1e999]]"),                       # overflow in the samples
    _doc_text(values="[[1,-1e999],[2,3]]"),
    _doc_text(values="[[1e999,1],[2]]"),                   # overflow before a shape error
    _doc_text(values="[[1,2]],"),                          # syntax error after the values
    _doc_text(values="[[1,1e999]] x"),                     # overflow, then a syntax error
    _doc_text(interval="1e999"),                           # overflow in interval_ms
    _doc_text(interval="-0.0"),
    _doc_text(extra=',"x":{"y":[1,2e999]}'),               # overflow in an extra key
    _doc_text(extra=',"x":1e999,"x":2'),                   # overflow and a duplicate key
    _doc_text(extra=',"x":1,"x":2'),
    _doc_text(prot='{"ver":"v1","alg":"none","iat":1e999}'),
    _doc_text(prot='{"ver":"v1","alg":"none","iat":1.5}'),
    _doc_text(prot='{"ver":"v1","alg":"none","k":[NaN]}'),
    _doc_text(values="[[1,2]]" + "," * 0, extra=',"s":"\\ud800"'),
    _doc_text(values="[[1," + "9" * 400 + "]]"),           # an integer over float64's range
    _doc_text(values="[[1,0." + "9" * 400 + "e308]]"),
    _doc_text(values="[[1,2.5e-400]]"),                    # underflow to 0 is fine
    b'{"protected":1e999}',
    b"[1e999]",
    b"{" * 5000,
])
def test_fast_json_decode_equals_the_strict_decoder(raw):
    want = _outcome(_strict, raw)
    assert _outcome(decode_json, raw) == want


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**30, 10**30),
    st.sampled_from(["1e999", "-1e400", "NaN", "true", '"x"', "1e308", "4.9e-324"])),
    min_size=1, max_size=3), min_size=1, max_size=4))
def test_fast_json_decode_equals_the_strict_decoder_on_random_samples(rows):
    text = "[" + ",".join("[" + ",".join(x if isinstance(x, str) else repr(x) for x in r) + "]"
                          for r in rows) + "]"
    raw = _doc_text(values=text)
    assert _outcome(decode_json, raw) == _outcome(_strict, raw)


def _acq(alg="HS256"):
    return DataAcquisition(device_name="d", device_type="T", interval_ms=10.0,
                           sensors=[Sensor("a", "N/A")], values=np.arange(4.0).reshape(4, 1),
                           alg=alg, iat=1700000000)


@pytest.mark.parametrize("make", [
    lambda: encode_json(_acq(), "k1"),                    # signed with our key
    lambda: encode_json(_acq(), "other"),                 # signed with another key
    lambda: encode_json(_acq()),                          # placeholder: never signed
    lambda: encode_json(_acq("none")),
    lambda: encode_cbor(_acq(), "k1"),
    lambda: encode_cbor(_acq(), "other"),
    lambda: encode_json(_acq(), "k" * 32),                # firmware key truncation
])
def test_decode_verified_answers_what_decode_and_verify_answer(make):
    raw = make()
    doc = decode(raw)
    for key in ("k1", "k" * 32 + "-longer", None):
        got_doc, valid = decode_verified(raw, key)
        np.testing.assert_array_equal(got_doc.values, doc.values)
        assert (got_doc.signature, got_doc.alg, got_doc.iat) == (doc.signature, doc.alg, doc.iat)
        if key is None or doc.alg != "HS256":
            assert valid is None
            continue
        try:
            want = verify(raw, key)
        except SignatureError:
            want = False
        assert valid is want


def test_compact_cache_encoding_round_trips_exactly():
    tricky = [0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1, -0.45168617367744446]
    detail = [{"learnBlock": {"id": 3}, "result": [{"a": x, "anomaly": -x} for x in tricky],
               "expectedLabels": [{"startIndex": i * 2**40, "endIndex": -i, "label": "w"}
                                  for i in range(len(tricky))],
               "thresholds": [], "intervalMs": 16.0},
              {"learnBlock": {"id": 4}, "result": [{"a": 1}],     # an int: kept as JSON
               "expectedLabels": []}]
    text, blob = _pack_detail(detail)
    assert blob is not None
    back = _unpack_detail(text, blob)
    assert json.dumps(back) == json.dumps(detail) and back == detail
    assert [type(d["a"]) for d in back[1]["result"]] == [int]
    assert [math_sign(d["a"]) for d in back[0]["result"]] == [math_sign(x) for x in tricky]
    summary = {"variant": "int8", "startMs": [0.0, 80.0], "probabilities": [[0.5, 0.25]] * 2,
               "anomaly": None, "predictions": ["idle", "wave"], "labels": [], "mixed": [1, 2.0]}
    assert _unpack_summary(*_pack_summary(summary)) == summary
    with pytest.raises(ValueError):
        _pack_detail([{"result": [{"a": float("nan")}]}])
    with pytest.raises(ValueError):
        _pack_summary({"startMs": [0.0, float("inf")]})


def math_sign(x: float) -> float:
    return float(np.copysign(1.0, x))


def test_fresh_page_equals_the_cached_page_and_the_impulses_own_objects(tmp_path):
    folder = tmp_path / "motion"
    shutil.copytree(DATA, folder)
    imp = Impulse.load(BUNDLE)
    with Dataset(folder, hmac_key=KEY, index_path=":memory:") as ds:
        fresh = classify_all(imp, ds, progress=False, threads=2)
        again = classify_all(imp, ds, progress=False, threads=2)
        assert json.dumps(fresh) == json.dumps(again)
        for entry in fresh["result"]:
            if entry["sample"]["processingError"]:
                continue
            row = ds.get(entry["sampleId"])
            data = ds.load(row)
            res = imp.classify(data.values, frequency=data.frequency,
                               axes=list(data.axes))
            assert entry["classifications"] == res.studio_classifications(row.label or None)
            # the public per-sample call returns the same objects from the cache
            got, err = classify_sample_cached(imp, ds, row, None)
            assert err is None and got["classifications"] == entry["classifications"]


def test_load_after_indexing_serves_the_decoded_sample_once_and_then_decodes(tmp_path):
    folder = tmp_path / "motion"
    shutil.copytree(DATA, folder)
    with Dataset(folder, hmac_key=KEY, index_path=":memory:") as ds:
        row = next(r for r in ds.query(SampleFilter(category="all"))
                   if r.error is None and r.format == "json" and r.signature_valid)
        first, second = ds.load(row), ds.load(row)
        np.testing.assert_array_equal(first.values, second.values)
        assert first.signature_valid is None and second.signature_valid is None  # not checked
        assert ds.load(row, verify=True).signature_valid is True
        (folder / row.path).write_bytes(b"{}")
        with pytest.raises(Exception, match="changed since it was indexed"):
            ds.load(row)

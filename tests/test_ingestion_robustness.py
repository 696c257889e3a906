"""Robustness of the ingestion service against arbitrary bodies (hypothesis), driving
IngestionService.handle directly (the code path the HTTP server and the gateway share), and
the binary int16 variant over HTTP."""
import hashlib

from hypothesis import HealthCheck, given, settings, strategies as st

from edgert.ingestion import IngestionService, SampleStore

from .ingest_helpers import (API_KEY, HMAC_KEY, make_binary_i16, make_cbor, make_json,
                             raw_post, running_server, sha)

_store = SampleStore(":memory:")
_service = IngestionService(_store, API_KEY, HMAC_KEY)
_good = {"cbor": make_cbor(3), "json": make_json(3)}


def _post(body, ctype, name="fuzz.cbor"):
    return _service.handle("POST", "/api/training/data", {
        "x-api-key": API_KEY, "x-file-name": name, "content-type": ctype,
        "x-disallow-duplicates": "1"}, body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300),
       ctype=st.sampled_from(["application/cbor", "application/json",
                              "application/octet-stream"]))
def test_random_bodies_get_400_with_a_message(body, ctype):
    before = _store.count()
    r = _post(body, ctype)
    assert r.status in (200, 400), r.body
    text = r.body.decode()
    if r.status == 400:
        assert text.startswith(("Invalid message: ", "duplicate")) and len(text) > 20
        assert _store.count() == before
    else:
        assert _store.count() == before + 1


@settings(max_examples=300, deadline=None)
@given(fmt=st.sampled_from(["cbor", "json"]), data=st.data())
def test_mutated_documents_never_break_the_server(fmt, data):
    doc = bytearray(_good[fmt])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(doc) - 1))
        doc[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(doc)))
    body = bytes(doc[:cut])
    before = _store.count()
    r = _post(body, "application/" + fmt)
    assert r.status in (200, 400), r.body
    stored = _store.count() - before
    assert stored == (1 if r.status == 200 else 0)
    if r.status == 200:
        row = _store.list(limit=1, offset=_store.count() - 1)[0]
        assert row["sha256"] == hashlib.sha256(body).hexdigest()


def test_binary_i16_variant_over_http():
    pcm = [0, 1, -1, 32767, -32768, 1234, -4321, 7] * 50
    body = make_binary_i16(pcm)
    with running_server() as srv:
        status, _, text = raw_post(srv, "/api/training/data", body, {
            "x-api-key": API_KEY, "x-file-name": "audio.bin",
            "Content-Type": "application/octet-stream", "x-label": "noise"})
        assert (status, text) == (200, "audio.bin")
        (row,) = srv.store.list()
        assert row["values_count"] == len(pcm) and row["signature_valid"] is True
        assert row["label"] == "noise" and row["sha256"] == sha(body)
        assert row["sensors"] == [{"name": "audio", "units": "wav"}]
        tampered = body[:-2] + b"\x00\x01"  # change one PCM sample: covered by the HMAC
        status, _, _ = raw_post(srv, "/api/training/data", tampered, {
            "x-api-key": API_KEY, "x-file-name": "audio2.bin",
            "Content-Type": "application/octet-stream"})
        assert status == 200 and srv.store.list()[1]["signature_valid"] is False


def test_service_accepts_plain_dict_headers_in_any_case():
    store = SampleStore(":memory:")
    svc = IngestionService(store, [API_KEY, "second-key"], HMAC_KEY)
    r = svc.handle("POST", "/api/anomaly/data?x=1", {
        "X-Api-Key": "second-key", "X-File-Name": "idle.9.json",
        "Content-Type": "application/json; charset=utf-8"}, make_json(9))
    assert (r.status, r.body) == (200, b"idle.9.json")
    assert store.list()[0]["category"] == "anomaly"

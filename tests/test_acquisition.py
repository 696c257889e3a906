"""Data-acquisition documents: decode, encode_json, HS256 sign/verify.

Oracles: documents written and signed by Node.js the way the edge-impulse-cli data forwarder
writes them (tests/data/acquisition, regenerated when `node` is available), and HMACs computed
here independently with hashlib over bytes built by hand.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgert.acquisition import (DataAcquisition, Sensor, SignatureError, decode, encode_json,
                                sign, verify)
from edgert.errors import AcquisitionFormatError

DATA = Path(__file__).parent / "data" / "acquisition"
KEYS = json.loads((DATA / "keys.json").read_text())
ZEROS = "0" * 64


def _hmac(key: str, data: bytes) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def _doc(**kw) -> DataAcquisition:
    base = dict(device_name="c4:7f:51:01:02:03", device_type="DISCO_L475VG_IOT01A",
                interval_ms=16.0,
                sensors=[Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")],
                values=np.array([[-0.13, -6.2, 7.9], [0.5, 1.25, -9.81]]), alg="HS256",
                iat=1700000000)
    base.update(kw)
    return DataAcquisition(**base)


# ------------------------------------------------------------------ Edge Impulse tooling oracle

@pytest.mark.parametrize("name", sorted(KEYS))
def test_forwarder_documents_verify_and_reencode_byte_exact(name):
    raw = (DATA / name).read_bytes()
    key = KEYS[name]
    assert verify(raw, key) is True
    wrong = key[:-1] + ("0" if key[-1] != "0" else "1")
    assert verify(raw, wrong) is False
    doc = decode(raw, "application/json")
    assert doc.device_type == "DATA_FORWARDER" and doc.alg == "HS256"
    parsed = json.loads(raw)
    np.testing.assert_array_equal(doc.values, np.array(parsed["payload"]["values"], float))
    assert doc.signature == parsed["signature"]
    # our writer reproduces JSON.stringify byte for byte, hence the same signature
    assert encode_json(doc, key) == raw
    assert encode_json(doc) == raw  # unsigned re-encode keeps the signature found


def test_forwarder_document_signature_is_over_the_placeholder_text():
    raw = (DATA / "forwarder_acc.json").read_bytes()
    sig = json.loads(raw)["signature"]
    assert _hmac(KEYS["forwarder_acc.json"], raw.replace(sig.encode(), ZEROS.encode())) == sig


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_fixtures_match_a_fresh_node_run(tmp_path):
    subprocess.run(["node", str(DATA / "make_forwarder_docs.js"), str(tmp_path)], check=True,
                   timeout=60)
    for name in KEYS:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes()


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_node_verifies_our_signature_and_parses_our_numbers(tmp_path):
    vals = np.array([[1e21, 1e-7, -0.0], [5e-324, 0.1 + 0.2, 123e-20], [1e16, 2.0 ** 53, 1.5]])
    doc = _doc(values=vals, interval_ms=1000 / 3)
    raw = encode_json(doc, "k3y")
    script = ("const c=require('crypto');const s=require('fs').readFileSync(0,'utf8');"
              "const d=JSON.parse(s);const sig=d.signature;d.signature='0'.repeat(64);"
              "const t=JSON.stringify(d);d.signature=sig;"
              "console.log(JSON.stringify({same:JSON.stringify(d)===s,"
              "ok:c.createHmac('sha256','k3y').update(t).digest('hex')===sig}))")
    out = subprocess.run(["node", "-e", script], input=raw, capture_output=True, check=True,
                         timeout=60)
    assert json.loads(out.stdout) == {"same": True, "ok": True}


# --------------------------------------------------------------------------- JSON writer/signing

def test_encode_json_layout_and_independent_hmac():
    doc = _doc(values=np.array([[1.0, -2.5, 0.125]]))
    body = ('"payload":{"device_name":"c4:7f:51:01:02:03","device_type":"DISCO_L475VG_IOT01A",'
            '"interval_ms":16,"sensors":[{"name":"accX","units":"m/s2"},{"name":"accY",'
            '"units":"m/s2"},{"name":"accZ","units":"m/s2"}],"values":[[1,-2.5,0.125]]}}')
    unsigned = ('{"protected":{"ver":"v1","alg":"HS256","iat":1700000000},"signature":"'
                + ZEROS + '",' + body).encode()
    assert encode_json(doc) == unsigned
    signed = encode_json(doc, "secret")
    assert signed == unsigned.replace(ZEROS.encode(), _hmac("secret", unsigned).encode())
    assert sign(unsigned, "secret") == signed
    assert verify(signed, "secret") and not verify(signed, "Secret")


def test_encode_json_alg_none_is_not_signed_and_verify_refuses():
    doc = _doc(alg="none", iat=None)
    raw = encode_json(doc, "secret")
    assert b'"protected":{"ver":"v1","alg":"none"},"signature":"' + ZEROS.encode() in raw
    with pytest.raises(SignatureError, match="not signed"):
        verify(raw, "secret")
    with pytest.raises(SignatureError):
        sign(raw, "secret")


def test_verify_unsigned_placeholder_raises():
    raw = encode_json(_doc())
    with pytest.raises(SignatureError, match="never signed"):
        verify(raw, "secret")
    assert issubclass(SignatureError, AcquisitionFormatError)


def test_sign_refuses_an_already_signed_document():
    with pytest.raises(SignatureError, match="already signed"):
        sign(encode_json(_doc(), "k"), "k")


def test_json_tampering_any_byte_fails():
    raw = encode_json(_doc(), "secret")
    start = raw.index(b'"signature":"') + len(b'"signature":"')
    for i in range(len(raw)):
        if start <= i < start + 64:
            continue
        for new in {b"0", b"9", b" "} - {raw[i:i + 1]}:
            t = raw[:i] + new + raw[i + 1:]
            try:
                assert verify(t, "secret") is False, (i, new)
            except AcquisitionFormatError:
                pass  # tampering made the document invalid: also not accepted
    assert verify(raw, "secret")


def test_key_is_utf8_text_not_hex_decoded():
    hexkey = "fed53116f20684c067774ebf9e7bcbdc"
    raw = encode_json(_doc(), hexkey)
    assert verify(raw, hexkey)
    assert verify(raw, bytes.fromhex(hexkey)) is False
    uni = "clé-ünïcode"
    raw = encode_json(_doc(), uni)
    sig = json.loads(raw)["signature"]
    assert sig == _hmac(uni, raw.replace(sig.encode(), ZEROS.encode()))


def test_long_key_signs_with_whole_key_and_verify_accepts_firmware_truncation():
    key = "k" * 32 + "-and-more"
    raw = encode_json(_doc(), key)
    assert verify(raw, key) and verify(raw, key, allow_truncated_key=False)
    # a device signs with the first 32 bytes only
    fw = sign(encode_json(_doc()), key[:32])
    assert verify(fw, key) is True
    assert verify(fw, key, allow_truncated_key=False) is False
    assert verify(raw, key[:32]) is False


# ---------------------------------------------------------------------------------- JSON decode

def test_decode_single_axis_flat_and_nested():
    for vals in ("[1,2.5,-3]", "[[1],[2.5],[-3]]", "[1,[2.5],-3]"):
        raw = ('{"protected":{"ver":"v1","alg":"none"},"signature":"' + ZEROS + '",'
               '"payload":{"device_type":"X","interval_ms":0.0625,"sensors":[{"name":"audio",'
               '"units":"wav"}],"values":' + vals + '}}').encode()
        doc = decode(raw)
        assert doc.values.shape == (3, 1) and doc.values.dtype == np.float64
        np.testing.assert_array_equal(doc.values[:, 0], [1, 2.5, -3])
        assert doc.frequency == 16000.0 and doc.iat is None and doc.device_name is None


def _raw(payload_extra: str = "", values: str = "[[1,2]]", sensors: int = 2,
         protected: str = '{"ver":"v1","alg":"HS256"}', sig: str = ZEROS,
         top_extra: str = "") -> bytes:
    sens = ",".join('{"name":"a%d","units":"N/A"}' % i for i in range(sensors))
    return ('{"protected":' + protected + ',"signature":"' + sig + '","payload":{'
            '"device_type":"X","interval_ms":10,"sensors":[' + sens + ']' + payload_extra
            + ',"values":' + values + '}' + top_extra + '}').encode()


@pytest.mark.parametrize("raw, match", [
    (_raw(values="[[1,2],[3]]"), r"values\[1\] has 1 values but there are 2 sensors"),
    (_raw(values="[[1,2,3]]"), "has 3 values but there are 2"),
    (_raw(values="[1,2]"), "bare numbers are only allowed with a single sensor"),
    (_raw(values='[[1,"2"]]'), "not a number"),
    (_raw(values="[[1,true]]"), "not a number"),
    (_raw(values="[[1,null]]"), "not a number"),
    (_raw(values="[[1,NaN]]"), "NaN"),
    (_raw(values="[[1,Infinity]]"), "NaN/Infinity"),
    (_raw(values="[[1,1e999]]"), "overflows"),
    (_raw(values="[]"), "empty"),
    (_raw(values='"x"'), "must be an array"),
    (_raw(protected='{"ver":"v1","alg":"RS256"}'), "alg must be one of"),
    (_raw(protected='{"ver":"v2","alg":"none"}'), "ver must be 'v1'"),
    (_raw(protected='{"ver":"v1"}'), "alg is missing"),
    (_raw(protected='{"ver":"v1","alg":"none","iat":"now"}'), "iat must be an integer"),
    (_raw(sig="abc"), "64 hex characters"),
    (_raw(sig="g" * 64), "64 hex characters"),
    (_raw(sensors=0, values="[[1]]"), "non-empty array"),
    (_raw(top_extra=',"x":1'), "unknown top-level keys"),
    (_raw(payload_extra=',"interval_ms":20'), "duplicate key 'interval_ms'"),
    (_raw() + b"x", "invalid JSON"),
    (_raw() + b"{}", "invalid JSON"),
    (b"\xef\xbb\xbf" + _raw(), "byte-order mark"),
    (b"{\"protected\":" + b"[" * 100000 + b"]" * 100000 + b"}", "(nested|protected)"),
    (b'{"protected":{"ver":"v1","alg":"none"},"payload":{}}', "missing top-level key 'signature'"),
    (b'{"signature":"' + ZEROS.encode() + b'","payload":{}}', "'protected'"),
    (b'{"protected":{"ver":"v1","alg":"none"},"signature":"' + ZEROS.encode() + b'"}',
     "'payload'"),
    (_raw().replace(b'"interval_ms":10', b'"interval_ms":0'), "interval_ms must be a finite"),
    (_raw().replace(b',"interval_ms":10', b''), "interval_ms is missing"),
    (_raw().replace(b'"values"', b'"valuez"'), "values is missing"),
    (_raw().replace(b'"a0"', b'""'), r"sensors\[0\].name"),
    (_raw(values="[[1,2]]").replace(b"[[1,2]]", b"[[1," + b"9" * 5000 + b"]]"), "invalid JSON"),
    (b"\xff\xfe{}", "CBOR must start with a map"),
    (b"", "empty"),
])
def test_bad_json_documents_are_rejected_clearly(raw, match):
    with pytest.raises(AcquisitionFormatError, match=match):
        decode(raw)


def test_content_type_selects_the_codec():
    raw = _raw()
    assert decode(raw, "application/json; charset=utf-8").values.shape == (1, 2)
    with pytest.raises(AcquisitionFormatError, match="must start with a map"):
        decode(raw, "application/cbor")
    with pytest.raises(AcquisitionFormatError, match="unsupported content type"):
        decode(raw, "text/csv")


def test_extra_payload_keys_survive_reencoding():
    raw = _raw(payload_extra=',"custom":{"a":[1,"x",null,true]}')
    doc = decode(raw)
    assert doc.extra_payload == {"custom": {"a": [1, "x", None, True]}}
    assert decode(encode_json(doc)).extra_payload == doc.extra_payload


def test_size_limit():
    raw = _raw()
    with pytest.raises(AcquisitionFormatError, match="over the 10-byte limit"):
        decode(raw, max_bytes=10)


# ------------------------------------------------------------------- JS number formatting

KNOWN_JS = {  # String(x) in any JavaScript engine (ECMA-262 Number::toString)
    16.0: "16", 1e21: "1e+21", 1e20: "100000000000000000000", 1e-7: "1e-7",
    0.000001: "0.000001", 1.5e-7: "1.5e-7", -0.13: "-0.13", -0.0: "0", 5e-324: "5e-324",
    0.1 + 0.2: "0.30000000000000004", 123e-20: "1.23e-18", 2.0 ** 53: "9007199254740992",
    1.7976931348623157e308: "1.7976931348623157e+308", 1e16: "10000000000000000",
    123456789012345680000.0: "123456789012345680000", 0.0001: "0.0001", -1e-320: "-1e-320",
}


@pytest.mark.parametrize("x, s", sorted(KNOWN_JS.items()))
def test_js_number_known_values(x, s):
    from edgert.acquisition.json_codec import js_number
    assert js_number(x) == s


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_js_number_matches_node_on_random_doubles():
    from edgert.acquisition.json_codec import js_number
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2 ** 63, 3000, dtype=np.uint64) | \
        (rng.integers(0, 2, 3000, dtype=np.uint64) << np.uint64(63))
    xs = bits.view(np.float64)
    xs = np.concatenate([xs[np.isfinite(xs)], rng.normal(size=500) * 10.0 ** rng.integers(
        -12, 25, 500), np.round(rng.normal(size=200) * 1000, 3)])
    hexes = [x.hex() for x in xs.tolist()]
    script = ("const h=JSON.parse(require('fs').readFileSync(0,'utf8'));"
              "const b=Buffer.alloc(8);console.log(JSON.stringify(h.map(s=>{"
              "b.writeBigUInt64BE(BigInt('0x'+s));return JSON.stringify(b.readDoubleBE(0));})))")
    raw_bits = json.dumps([f"{int(np.float64(x).view(np.uint64)):016x}" for x in xs.tolist()])
    out = subprocess.run(["node", "-e", script], input=raw_bits.encode(), capture_output=True,
                         check=True, timeout=60)
    expected = json.loads(out.stdout)
    got = [js_number(x) for x in xs.tolist()]
    assert len(hexes) == len(expected) == len(got)
    assert got == expected


# ------------------------------------------------------------------------------ misc behaviour

def test_pretty_printed_json_signed_by_independent_hmac_verifies():
    tree = json.loads(encode_json(_doc()))
    text = json.dumps(tree, indent=2).encode()  # signature still the placeholder
    sig = _hmac("k", text)
    signed = text.replace(ZEROS.encode(), sig.encode())
    assert verify(signed, "k") and not verify(signed, "j")
    assert sign(text, "k") == signed


def test_a_signature_key_inside_payload_does_not_confuse_the_locator():
    from edgert.acquisition import encode_cbor
    doc = _doc(extra_payload={"signature": ZEROS, "x": {"signature": "f" * 64}})
    for enc in (encode_json, encode_cbor):
        raw = enc(doc, "k")
        assert verify(raw, "k")
        assert raw.count(ZEROS.encode()) == 1  # the payload's copy was left alone
        assert decode(raw).extra_payload == doc.extra_payload


def test_missing_sensors_key():
    raw = _raw().replace(b',"sensors":[{"name":"a0","units":"N/A"},{"name":"a1","units":"N/A"}]',
                         b"")
    with pytest.raises(AcquisitionFormatError, match="sensors is missing"):
        decode(raw)


def test_media_type_and_load(tmp_path):
    from edgert.acquisition import encode_cbor, load, media_type
    pcm = DataAcquisition(None, "T", 0.0625, [Sensor("audio", "wav")],
                          np.array([1, 2], dtype=np.int16))
    assert media_type(encode_json(_doc())) == "application/json"
    assert media_type(encode_cbor(_doc())) == "application/cbor"
    assert media_type(encode_cbor(pcm)) == "application/octet-stream"
    (tmp_path / "a.cbor").write_bytes(encode_cbor(pcm))
    np.testing.assert_array_equal(load(tmp_path / "a.cbor").values, [1, 2])
    (tmp_path / "bad.json").write_bytes(b"{}")
    with pytest.raises(AcquisitionFormatError, match="bad.json"):
        load(tmp_path / "bad.json")


def test_encode_rejects_invalid_documents():
    for kw, match in [(dict(values=np.array([[1.0, np.nan, 2.0]])), "NaN"),
                      (dict(values=np.zeros((2, 2))), "shape"),
                      (dict(values=np.zeros((0, 3))), "empty"),
                      (dict(alg="HS512"), "alg"),
                      (dict(interval_ms=0), "interval_ms"),
                      (dict(sensors=[]), "sensors"),
                      (dict(signature="xyz"), "64 hex"),
                      (dict(extra_payload={"values": 1}), "modelled keys"),
                      (dict(extra_payload={"a": float("inf")}), "NaN/Infinity")]:
        with pytest.raises(AcquisitionFormatError, match=match):
            encode_json(_doc(**kw))


def test_check_signature_returns_document_or_raises():
    from edgert.acquisition import check_signature
    raw = encode_json(_doc(device_name="gerät-ü"), "k")
    assert check_signature(raw, "k").device_name == "gerät-ü"
    with pytest.raises(SignatureError, match="does not match"):
        check_signature(raw, "wrong")

"""CBOR data-acquisition documents, byte for byte against layouts built by hand from the spec
(ingestion.md "CBOR as the firmware streams it", and the firmware's sensor_aq/QCBOR encoder:
protected {ver, alg}, signature as text(64) `78 40`, payload {device_name, device_type,
interval_ms, sensors, values}, values an indefinite array of per-sample items, floats in their
smallest lossless width)."""
from __future__ import annotations

import hashlib
import hmac
import struct

import cbor2
import numpy as np
import pytest

from edgert.acquisition import (DataAcquisition, Sensor, SignatureError, decode, encode_cbor,
                                sign, verify)
from edgert.errors import AcquisitionFormatError

ZEROS = b"0" * 64


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).hexdigest().encode()


def f9(bits: int) -> bytes:
    return b"\xf9" + bits.to_bytes(2, "big")


def fa(x: float) -> bytes:
    return b"\xfa" + struct.pack(">f", x)


def fb(x: float) -> bytes:
    return b"\xfb" + struct.pack(">d", x)


ACC = [Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")]
SENSORS_ACC = (b"\x67sensors\x83"
               b"\xa2\x64name\x64accX\x65units\x64m/s2"
               b"\xa2\x64name\x64accY\x65units\x64m/s2"
               b"\xa2\x64name\x64accZ\x65units\x64m/s2")
F32_1_1 = float(np.float32(1.1))
F32_TINY = float(np.float32(1e-40))  # a float32 subnormal


def _acc_doc(values, **kw) -> DataAcquisition:
    base = dict(device_name="c4:7f:51:01:02:03", device_type="DISCO_L475VG_IOT01A",
                interval_ms=16.0, sensors=ACC, values=np.array(values, dtype=np.float64),
                alg="HS256", iat=1700000000)
    base.update(kw)
    return DataAcquisition(**base)


def _acc_header(protected: bytes, payload_count: int = 5) -> tuple[bytes, bytes]:
    head = (b"\xa3"
            b"\x69protected" + protected +
            b"\x69signature\x78\x40")
    pay = (b"\x67payload" + bytes([0xA0 + payload_count]) +
           b"\x6bdevice_name\x71c4:7f:51:01:02:03"
           b"\x6bdevice_type\x73DISCO_L475VG_IOT01A"
           b"\x6binterval_ms\xf9\x4c\x00" + SENSORS_ACC +
           b"\x66values\x9f")
    return head, pay


PROT_HS256_IAT = b"\xa3\x63ver\x62v1\x63alg\x65HS256\x63iat\x1a\x65\x53\xf1\x00"


def test_three_axis_document_matches_hand_built_bytes():
    vals = [[0.5, 1.1, 1e-40],
            [-2.0, F32_1_1, F32_TINY],
            [65504.0, 65505.0, 2.0 ** -24],
            [-0.0, 2.0 ** -25, 1e300]]
    head, pay = _acc_header(PROT_HS256_IAT)
    # QCBOR 1.x (sensor_aq's encoder) narrows only to *normal* half/single values: the half
    # subnormal 2**-24 is written as a single, the single subnormal F32_TINY as a double.
    rows = (b"\x83" + f9(0x3800) + fb(1.1) + fb(1e-40) +
            b"\x83" + f9(0xC000) + fa(F32_1_1) + fb(F32_TINY) +
            b"\x83" + f9(0x7BFF) + fa(65505.0) + fa(2.0 ** -24) +
            b"\x83" + f9(0x8000) + fa(2.0 ** -25) + fb(1e300))
    unsigned = head + ZEROS + pay + rows + b"\xff"
    doc = _acc_doc(vals)
    assert encode_cbor(doc) == unsigned
    signed = encode_cbor(doc, "my-hmac-key")
    assert signed == head + _hmac(b"my-hmac-key", unsigned) + pay + rows + b"\xff"
    assert verify(signed, "my-hmac-key") and not verify(signed, "my-hmac-kez")
    assert sign(unsigned, "my-hmac-key") == signed
    back = decode(signed)
    np.testing.assert_array_equal(back.values, np.array(vals))
    assert np.signbit(back.values[3, 0])
    assert back.sensors == ACC and back.iat == 1700000000 and back.alg == "HS256"


def test_firmware_header_without_iat_and_alg_none():
    """What sensor_aq_init writes today: protected {ver, alg} only (iat is commented out)."""
    doc = _acc_doc([[1.0, 2.0, 3.0]], alg="none", iat=None)
    head, pay = _acc_header(b"\xa2\x63ver\x62v1\x63alg\x64none")
    expected = head + ZEROS + pay + b"\x83" + f9(0x3C00) + f9(0x4000) + f9(0x4200) + b"\xff"
    assert encode_cbor(doc, "ignored-for-none") == expected
    with pytest.raises(SignatureError, match="not signed"):
        verify(expected, "k")


def test_firmware_alg_none_two_character_signature():
    """sensor_aq's "none" signer reserves a 1-byte signature: text(2) "00", finished as "30"."""
    doc = _acc_doc([[1.0, 2.0, 3.0]], alg="none", iat=None)
    head, pay = _acc_header(b"\xa2\x63ver\x62v1\x63alg\x64none")
    raw = head[:-2] + b"\x62" + b"30" + pay + b"\x83" + f9(0x3C00) + f9(0x4000) + f9(0x4200) \
        + b"\xff"
    back = decode(raw)
    assert back.signature == "30" and back.alg == "none"
    assert encode_cbor(back) == raw
    with pytest.raises(SignatureError, match="not signed"):
        verify(raw, "k")


def test_single_axis_samples_are_bare_floats_and_optional_fields_omitted():
    doc = DataAcquisition(device_name=None, device_type="ESP32", interval_ms=0.1,
                          sensors=[Sensor("temp", "Cel")], values=np.array([[21.5], [100000.0]]),
                          alg="HS256")
    expected = (b"\xa3\x69protected\xa2\x63ver\x62v1\x63alg\x65HS256"
                b"\x69signature\x78\x40" + ZEROS +
                b"\x67payload\xa4\x6bdevice_type\x65ESP32\x6binterval_ms" + fb(0.1) +
                b"\x67sensors\x81\xa2\x64name\x64temp\x65units\x63Cel"
                b"\x66values\x9f" + f9(0x4D60) + fa(100000.0) + b"\xff")
    assert encode_cbor(doc) == expected
    assert decode(expected).values.shape == (2, 1)


def test_binary_int16_variant_bytes_and_signature_cover_the_samples():
    pcm = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    doc = DataAcquisition(device_name="c4:7f:51:01:02:03", device_type="DISCO_L475VG_IOT01A",
                          interval_ms=0.0625, sensors=[Sensor("audio", "wav")], values=pcm,
                          alg="HS256")
    head = (b"\xa3\x69protected\xa2\x63ver\x62v1\x63alg\x65HS256"
            b"\x69signature\x78\x40")
    pay = (b"\x67payload\xa5\x6bdevice_name\x71c4:7f:51:01:02:03"
           b"\x6bdevice_type\x73DISCO_L475VG_IOT01A\x6binterval_ms\xf9\x2c\x00"
           b"\x67sensors\x81\xa2\x64name\x65audio\x65units\x63wav"
           b"\x66values\x9f\x6eRef-BINARY-i16\xff")
    raw = b"\x00\x00\x01\x00\xff\xff\xff\x7f\x00\x80\xd2\x04"
    unsigned = head + ZEROS + pay + raw
    assert encode_cbor(doc) == unsigned
    signed = encode_cbor(doc, "k")
    assert signed == head + _hmac(b"k", unsigned) + pay + raw
    back = decode(signed, "application/octet-stream")
    assert back.is_binary and back.values.dtype == np.int16
    np.testing.assert_array_equal(back.values, pcm)
    assert verify(signed, "k")
    assert not verify(signed[:-1] + b"\x05", "k")  # last sample changed: the HMAC covers it


def test_firmware_padded_binary_marker_and_integer_samples_decode():
    # The firmware's insert_ref pads "Ref-BINARY-i16" with spaces so samples are 4-aligned.
    base = (b"\xa3\x69protected\xa2\x63ver\x62v1\x63alg\x64none"
            b"\x69signature\x78\x40" + ZEROS +
            b"\x67payload\xa4\x6bdevice_type\x61X\x6binterval_ms\xfa" + struct.pack(">f", 0.0625)
            + b"\x67sensors\x81\xa2\x64name\x65audio\x65units\x63wav\x66values\x9f")
    doc = decode(base + b"\x71Ref-BINARY-i16   \xff" + b"\x10\x00\xf0\xff")
    np.testing.assert_array_equal(doc.values, [16, -16])
    # sensor_aq_add_data_i16: samples as CBOR integers; definite rows; doubles
    ints = base[:-1] + b"\x84\x01\x20\x39\x7f\xff\x19\x7f\xff"  # [1, -1, -32768, 32767]
    np.testing.assert_array_equal(decode(ints).values[:, 0], [1, -1, -32768, 32767])


def test_decoder_accepts_other_encoders_layouts():
    tree = {"payload": {"values": [[1, 2.5, -3]], "sensors": [{"units": "m/s2", "name": n}
                                                            for n in ("x", "y", "z")],
                        "interval_ms": 10, "device_type": "T"},
            "signature": "0" * 64, "protected": {"alg": "none", "ver": "v1"}}
    for raw in (cbor2.dumps(tree), cbor2.dumps(tree, canonical=True)):
        doc = decode(raw, "application/cbor")
        np.testing.assert_array_equal(doc.values, [[1, 2.5, -3]])
        assert doc.interval_ms == 10.0


def test_indefinite_containers_and_text_chunks():
    raw = (b"\xbf\x69protected\xbf\x63ver\x62v1\x63alg\x64none\xff"
           b"\x69signature\x7f\x60\x78\x40" + ZEROS + b"\xff"
           b"\x67payload\xbf\x6binterval_ms\x0a\x67sensors\x9f\xa2\x64name\x61a\x65units\x61u"
           b"\xff\x66values\x9f\x9f\x01\xff\xfb" + struct.pack(">d", 2.0) + b"\xff\xff\xff")
    doc = decode(raw)
    np.testing.assert_array_equal(doc.values, [[1.0], [2.0]])


def test_cbor2_reads_what_we_write():
    doc = _acc_doc([[0.1, -0.2, 3e38]])
    tree = cbor2.loads(encode_cbor(doc, "k"))
    assert list(tree) == ["protected", "signature", "payload"]
    assert list(tree["payload"]) == ["device_name", "device_type", "interval_ms", "sensors",
                                     "values"]
    assert tree["payload"]["values"] == [[0.1, -0.2, 3e38]]


def test_extra_keys_survive_round_trip():
    doc = _acc_doc([[1, 2, 3]], extra_payload={"note": "x", "n": [1, 2.5, None, True]},
                   extra_protected={"kid": "a"})
    back = decode(encode_cbor(doc, "k"))
    assert back.extra_payload == doc.extra_payload and back.extra_protected == {"kid": "a"}
    assert verify(encode_cbor(doc, "k"), "k")


def test_tampering_with_any_single_byte_fails_verification():
    doc = _acc_doc([[0.5, 1.1, -3.0], [1.0, 2.0, 3.0]])
    signed = encode_cbor(doc, "secret")
    off = signed.index(b"\x78\x40") + 2
    accepted = []
    for i in range(len(signed)):
        if off <= i < off + 64:
            continue
        for delta in (1, 0x80):
            t = bytearray(signed)
            t[i] ^= delta
            try:
                if verify(bytes(t), "secret"):
                    accepted.append(i)
            except AcquisitionFormatError:
                pass
    assert accepted == []
    assert verify(signed, "secret")


def test_tampered_signature_characters_fail():
    signed = encode_cbor(_acc_doc([[1, 2, 3]]), "secret")
    off = signed.index(b"\x78\x40") + 2
    for i in (off, off + 31, off + 63):
        t = bytearray(signed)
        t[i] = ord("a") if t[i] != ord("a") else ord("b")
        assert verify(bytes(t), "secret") is False
    upper = signed[:off] + signed[off:off + 64].upper() + signed[off + 64:]
    assert verify(upper, "secret")  # hex compares case-insensitively


def test_signature_not_encoded_as_78_40_cannot_be_verified():
    signed = encode_cbor(_acc_doc([[1, 2, 3]]), "secret")
    off = signed.index(b"\x78\x40")
    wide = signed[:off] + b"\x79\x00\x40" + signed[off + 2:]  # text(64) with a 2-byte length
    assert decode(wide).signature == decode(signed).signature
    with pytest.raises(SignatureError, match="78 40"):
        verify(wide, "secret")


def _payload_with(values: bytes, sensors: int = 1, extra: bytes = b"", n_keys: int = 4) -> bytes:
    sens = b"".join(b"\xa2\x64name" + bytes([0x61, 0x61 + i]) + b"\x65units\x61u"
                    for i in range(sensors))
    return (b"\xa3\x69protected\xa2\x63ver\x62v1\x63alg\x64none"
            b"\x69signature\x78\x40" + ZEROS +
            b"\x67payload" + bytes([0xA0 + n_keys]) + b"\x6bdevice_type\x61X"
            b"\x6binterval_ms\xf9\x4c\x00\x67sensors" + bytes([0x80 + sensors]) + sens + extra +
            b"\x66values" + values)


@pytest.mark.parametrize("raw, match", [
    (_payload_with(b"\x9f\x82\x01\x02\x81\x01\xff", sensors=2), r"values\[1\] has 1 values"),
    (_payload_with(b"\x9f\x01\x02\xff", sensors=2), "bare numbers are only allowed"),
    (_payload_with(b"\x9f\x61x\xff"), "not a number"),
    (_payload_with(b"\x9f\xf5\xff"), "not a number"),
    (_payload_with(b"\x9f\xf9\x7e\x00\xff"), "NaN/Infinity"),
    (_payload_with(b"\x9f\xfb" + struct.pack(">d", float("inf")) + b"\xff"), "NaN/Infinity"),
    (_payload_with(b"\x9f\x01\xff") + b"junk", "4 trailing bytes"),
    (_payload_with(b"\x9f\x01"), "ends early"),
    (_payload_with(b"\x9f\xff"), "empty"),
    (_payload_with(b"\x9f\xc1\x01\xff"), "tag"),
    (_payload_with(b"\x9f\x42\x01\x02\xff"), "byte string"),
    (_payload_with(b"\x9f\xf7\xff"), "simple value"),
    (_payload_with(b"\x9f\x1c\xff"), "reserved"),
    (_payload_with(b"\x9f" + b"\x81" * 40 + b"\x01" + b"\xff"), "nested deeper"),
    (_payload_with(b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff"), "declares"),
    (_payload_with(b"\x9f\x7b\x00\x00\x00\x01\x00\x00\x00\x00\xff"), "declares"),
    (_payload_with(b"\x9f\x6eRef-BINARY-f32\xff\x00\x00\x00\x00"), "not supported"),
    (_payload_with(b"\x9f\x6eRef-BINARY-i16\xff\x00\x00\x00"), "odd number"),
    (_payload_with(b"\x9f\x6eRef-BINARY-i16\xff"), "no sample bytes"),
    (_payload_with(b"\x9f\x6eRef-BINARY-i16\xff\x00\x00", sensors=2), "exactly one sensor"),
    (_payload_with(b"\x9f\x01\xff", extra=b"\x66values\x80", n_keys=5), "(?i)duplicate"),
    (_payload_with(b"\x9f\x01\xff", extra=b"\x01\x02", n_keys=5), "not a text string"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x64none", b"\x65HS512"), "alg must be one of"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x78\x40" + ZEROS, b"\x63xyz"), "hex text"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x78\x40" + ZEROS, b"\x78\x41" + ZEROS + b"0"),
     "at most 64"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x64none", b"\x65HS256").replace(
        b"\x78\x40" + ZEROS, b"\x63abc"), "exactly 64 hex"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x63ver", b"\x63vex"), "ver must be"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x67payload", b"\x67payloaX"), "payload"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x6binterval_ms\xf9\x4c\x00",
                                            b"\x6binterval_mz\xf9\x4c\x00"), "interval_ms"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x6binterval_ms\xf9\x4c\x00",
                                            b"\x6binterval_ms\xf9\xcc\x00"), "finite number > 0"),
    (_payload_with(b"\x9f\x01\xff").replace(b"\x61X", b"\x61\xff"), "invalid CBOR"),
    (b"\x83\x01\x02\x03", "must start with a map"),
    (b"\xa1\x61a", "ends early"),
    (b"\xa1\x61a\xff", "unexpected CBOR break"),
    (b"\xbf\x61a\xff", "key without a value"),
])
def test_bad_cbor_documents_are_rejected_clearly(raw, match):
    with pytest.raises(AcquisitionFormatError, match=match):
        decode(raw)


def test_float_width_choices():
    from edgert.acquisition.cbor_codec import cbor_float
    assert cbor_float(0.5) == b"\xf9\x38\x00"
    assert cbor_float(1.0) == b"\xf9\x3c\x00"
    assert cbor_float(1.1) == b"\xfb\x3f\xf1\x99\x99\x99\x99\x99\x9a"
    assert cbor_float(F32_1_1) == b"\xfa\x3f\x8c\xcc\xcd"
    assert cbor_float(1e-40) == b"\xfb" + struct.pack(">d", 1e-40)
    # subnormals are not narrowed (QCBOR 1.x IEEE754_DoubleToSmallestInternal: half only for
    # exponents -14..15, single only for -126..127, zero aside)
    assert cbor_float(F32_TINY) == b"\xfb" + struct.pack(">d", F32_TINY)
    assert cbor_float(2.0 ** -24) == b"\xfa\x33\x80\x00\x00"
    assert cbor_float(2.0 ** -14) == b"\xf9\x04\x00"  # smallest normal half
    assert cbor_float(-(2.0 ** -14) * 1023 / 1024) == fa(-(2.0 ** -14) * 1023 / 1024)
    assert cbor_float(2.0 ** -126) == b"\xfa\x00\x80\x00\x00"  # smallest normal single
    assert cbor_float(-0.0) == b"\xf9\x80\x00"
    assert cbor_float(-65504.0) == b"\xf9\xfb\xff"
    assert cbor_float(1e300) == b"\xfb" + struct.pack(">d", 1e300)
    # the vectorised writer agrees with the scalar choice on many random values
    rng = np.random.default_rng(1)
    vals = np.concatenate([rng.normal(size=500), rng.normal(size=500).astype(np.float32),
                           rng.integers(-3000, 3000, 500) / 8.0,
                           np.float32(rng.normal(size=100) * 1e-39),
                           rng.integers(-1023, 1024, 100) * 2.0 ** -24,  # half subnormals
                           [0.0, -0.0, 2.0 ** -14, 2.0 ** -126, 65504.0]]).astype(np.float64)
    doc = DataAcquisition(None, "T", 1.0, [Sensor("a", "u")], vals.reshape(-1, 1))
    raw = encode_cbor(doc)
    body = raw[raw.index(b"\x66values\x9f") + 8:-1]
    assert body == b"".join(cbor_float(v) for v in vals)
    np.testing.assert_array_equal(decode(raw).values[:, 0], vals)


def test_long_recordings_decode_in_chunks_with_exact_values_and_row_numbers():
    rng = np.random.default_rng(3)
    vals = rng.normal(size=(20000, 3))
    vals[::7] = np.float32(vals[::7])
    vals[::11] = np.round(vals[::11] * 8) / 8
    doc = _acc_doc(vals)
    raw = encode_cbor(doc, "k")
    back = decode(raw)
    np.testing.assert_array_equal(back.values, vals)
    assert verify(raw, "k")
    # the same samples through cbor2 in one piece (an independent decoder)
    np.testing.assert_array_equal(np.array(cbor2.loads(raw)["payload"]["values"]), vals)
    # a ragged row deep in the stream is reported with its real index
    body = raw[:-1]
    start = body.index(b"\x66values\x9f") + 8
    rows = [b"\x83" + b"".join(f9(0x3C00) for _ in range(3))] * 9000
    rows[8500] = b"\x82" + f9(0x3C00) * 2
    bad = body[:start] + b"".join(rows) + b"\xff"
    with pytest.raises(AcquisitionFormatError, match=r"values\[8500\] has 2 values"):
        decode(bad)
    nan_rows = [b"\x83" + f9(0x3C00) * 3] * 9000
    nan_rows[4097] = b"\x83" + f9(0x3C00) + f9(0x7E00) + f9(0x3C00)
    with pytest.raises(AcquisitionFormatError, match=r"values\[4097\]\[1\] is nan"):
        decode(body[:start] + b"".join(nan_rows) + b"\xff")


def test_duplicate_key_in_a_nested_map_is_rejected():
    """Duplicate keys at any depth (here inside a sensor entry) are rejected by edgert's own
    scanner, whatever the installed cbor2 (allow_duplicate_keys needs cbor2 >= 6, which
    Python 3.9 does not get)."""
    doc = DataAcquisition(device_name="d", device_type="T", interval_ms=16,
                          sensors=[Sensor("accX", "m/s2")], values=np.array([[1.0], [2.0]]))
    body = encode_cbor(doc)
    assert body.count(b"\x65units") == 1
    with pytest.raises(AcquisitionFormatError, match="duplicate key 'name'"):
        decode(body.replace(b"\x65units", b"\x64name"))

"""The board's microphone through the serial bridge: `AT+SAMPLESTART=Built-in microphone` on the
emulated DISCO-L475VG-IOT01A, the `Ref-BINARY-i16` document read back with `AT+READBUFFER`,
decoded and verified by edgert.acquisition, and classified by an audio impulse.

The emulator's microphone file is checked against the firmware's construction written out here
byte by byte from its source (edgeimpulse/firmware-st-b-l475e-iot01a, source/sensors/
ei_microphone.h and the ingestion SDK's sensor_aq.h, QCBOR's preferred serialisation): the
header sensor_aq_init encodes, cut before the FF that closes the empty values array, then
6E "Ref-BINARY-i16" FF, then the samples, HMAC-SHA256 (key cut to 32 bytes) over all of it
with the 64-character signature field holding "0"s. Boards on the shared firmware-sdk pad the
reference text with spaces so that the samples start 4-byte aligned (insert_ref)."""
from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import cbor2
import numpy as np
import pytest

from edgert import Impulse, load_recording
from edgert.acquisition import decode
from edgert.acquisition.signing import decode_verified
from edgert.recording import read_recording
from firmware_bridge.at_client import AtClient
from firmware_bridge.emulator import AtFirmware
from firmware_bridge.emulator import microphone_file, wav_microphone
from firmware_bridge.ports import SerialLink

from .bridge_helpers import ROOT
from .test_bridge_cli import _run

KWS = ROOT / "examples" / "kws-demo"
WAV = KWS / "audio" / "helloworld.01.wav"
DEVICE = "c4:7f:51:01:02:03"


def _text(s: str) -> bytes:
    b = s.encode()
    return (bytes([0x60 + len(b)]) if len(b) < 24 else bytes([0x78, len(b)])) + b


def firmware_header(device_id: str, device_type: str) -> bytes:
    """What sensor_aq_init leaves in its buffer, minus the last byte (the FF closing the
    indefinite values array): definite maps, the signature as 64 '0' characters, interval_ms
    1000/16000 as a half-precision float (F9 2C 00, QCBOR's preferred serialisation)."""
    return (b"\xa3" + _text("protected") + b"\xa2" + _text("ver") + _text("v1")
            + _text("alg") + _text("HS256")
            + _text("signature") + b"\x78\x40" + b"0" * 64
            + _text("payload") + b"\xa5" + _text("device_name") + _text(device_id)
            + _text("device_type") + _text(device_type)
            + _text("interval_ms") + b"\xf9\x2c\x00"
            + _text("sensors") + b"\x81\xa2" + _text("name") + _text("audio")
            + _text("units") + _text("wav")
            + _text("values") + b"\x9f")


def signed(data: bytes, key: str) -> bytes:
    at = data.index(b"0" * 64)
    sig = hmac.new(key.encode()[:32], data, hashlib.sha256).hexdigest().encode()
    return data[:at] + sig + data[at + 64:]


@pytest.mark.parametrize("padding", [False, True], ids=["disco", "firmware-sdk"])
def test_microphone_file_is_the_firmwares(padding):
    pcm = np.random.default_rng(0).integers(-32768, 32768, 1601).astype(np.int16)
    key = "a-key-longer-than-thirty-two-characters!"      # the firmware keeps 32
    header = firmware_header(DEVICE, "DISCO_L475VG_IOT01A")
    pad = (4 - len(header) % 4) % 4 if padding else 0
    ref = bytes([0x6E + pad]) + b"Ref-BINARY-i16" + b" " * pad + b"\xff"
    want = signed(header + ref + pcm.astype("<i2").tobytes(), key)
    got = microphone_file(pcm, DEVICE, "DISCO_L475VG_IOT01A", key, padding)
    assert got == want
    if padding:
        assert (len(header) + len(ref)) % 4 == 0          # samples 4-byte aligned
    # an independent CBOR decoder reads the header as one document
    tree = cbor2.loads(got[:len(header) + len(ref)])
    assert tree["payload"]["values"] == ["Ref-BINARY-i16" + " " * pad]
    assert tree["payload"]["interval_ms"] == 0.0625
    doc, valid = decode_verified(got, key[:32])
    assert valid is True and doc.is_binary and doc.axis_names == ["audio"]
    np.testing.assert_array_equal(doc.values, pcm)
    assert decode_verified(got, "wrong key")[1] is False


@pytest.fixture
def board(tmp_path):
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01,
                    microphone_source=wav_microphone(str(WAV))).start()
    yield fw
    fw.close()


def test_sample_the_microphone_and_classify_it(board):
    """AT+SAMPLESTART with the audio sensor: the log, exactly length_ms * 16 samples read back
    with AT+READBUFFER, verified; the document classifies as the WAV the board heard."""
    link = SerialLink(board.device)
    link.open()
    try:
        client = AtClient(link)
        client.connect()
        assert client.read_config().sensor("microphone").frequencies == (16000.0,)
        res = client.sample("microphone", "hello", 3000, None, "kws-key")
    finally:
        link.close()
    log = "\n".join(res.log)
    assert "\tInterval: 0.06250 ms." in log and "\tFile name: /fs/hello" in log
    assert f"Used buffer, from=0, to={len(res.data)}." in log
    assert f"Done sampling, total bytes collected: {len(res.data)}" in log
    assert res.buffer_range == (0, len(res.data)) and res.signature_valid is True
    assert res.data == board.temp_buffer == board.recorded["/fs/hello"].data
    wav = load_recording(WAV).values[:, 0].astype(np.int16)
    doc = res.document
    assert doc.is_binary and doc.n_samples == 3000 * 16 and doc.frequency == 16000
    np.testing.assert_array_equal(doc.values, wav[:48000])
    # byte for byte what the firmware writes: its header, the reference, the samples, signed
    header = firmware_header(DEVICE, "DISCO_L475VG_IOT01A")
    assert res.data == signed(header + b"\x6eRef-BINARY-i16\xff" +
                              wav[:48000].astype("<i2").tobytes(), "kws-key")
    # an audio impulse classifies the board's recording as it classifies the same samples
    imp = Impulse.load(KWS)
    rec = read_recording(res.data, "hello.cbor")
    assert rec.axes == ("audio",) and rec.frequency == 16000
    a = imp.classify(rec)
    b = imp.classify(wav[:48000, None].astype(np.float32), frequency=16000)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert "helloworld" in a.predictions.tolist()


def test_padded_header_of_a_firmware_sdk_board_decodes_the_same(tmp_path):
    fw = AtFirmware(str(tmp_path / "tty"), time_scale=0.01, mic_padding=True,
                    microphone_source=wav_microphone(str(WAV))).start()
    link = SerialLink(fw.device)
    link.open()
    try:
        client = AtClient(link)
        client.connect()
        res = client.sample("microphone", "pad", 500, None, "k")
    finally:
        link.close()
        fw.close()
    header = firmware_header(DEVICE, "DISCO_L475VG_IOT01A")
    pad = (4 - len(header) % 4) % 4
    pcm = load_recording(WAV).values[:8000, 0].astype(np.int16)
    assert res.data == signed(header + bytes([0x6E + pad]) + b"Ref-BINARY-i16" + b" " * pad +
                              b"\xff" + pcm.astype("<i2").tobytes(), "k")
    assert (len(header) + 16 + pad) % 4 == 0 and res.signature_valid is True
    np.testing.assert_array_equal(res.document.values, pcm)


def test_bridge_cli_samples_the_microphone(tmp_path):
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01,
                    microphone_source=wav_microphone(str(WAV))).start()
    out = tmp_path / "hello.cbor"
    try:
        r = _run("--port", fw.device, "--sample", "microphone", "--label", "hello",
                 "--length-ms", "6000", "--output", str(out), "--hmac-key", "k3", "--json")
    finally:
        fw.close()
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["sensor"] == "Built-in microphone" and info["axes"] == ["audio"]
    assert info["samples"] == 96000 and info["interval_ms"] == 0.0625
    assert info["signature_valid"] is True and info["board_file"] == "/fs/hello"
    assert out.read_bytes() == fw.recorded["/fs/hello"].data
    assert decode(out.read_bytes()).n_samples == 96000
    # and the saved document goes straight into `edgert classify`
    from edgert.cli import main
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["classify", str(KWS), str(out), "--json"]) == 0
    doc = json.loads(buf.getvalue())
    windows = doc["classifications"][0]["result"]
    assert len(windows) == (96000 - 16000) // 4000 + 1
    ref = Impulse.load(KWS).classify(load_recording(WAV).values[:96000])
    assert [round(w["helloworld"], 6) for w in windows] == \
        [round(float(p), 6) for p in ref.probabilities[:, 0]]

"""The AT client over a real pty with real pyserial, against the emulated DISCO-L475VG-IOT01A:
the emulator's exact bytes (echo, CRLF, prompt, error texts), every client operation, a
sample read back to the exact values the emulator recorded, and the inference loop in the
three output formats."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

import cbor2
import numpy as np
import pytest
import serial

from firmware_bridge.at_client import AtClient, AtCommandError, AtProtocolError
from firmware_bridge.emulator import ST_PROMPT, AtFirmware, Faults, ImpulseInfo
from firmware_bridge.inference_output import InferenceResult
from firmware_bridge.ports import SerialLink

from .bridge_helpers import wait_for


@pytest.fixture
def board(tmp_path):
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01).start()
    yield fw
    fw.close()


@pytest.fixture
def client(board):
    link = SerialLink(board.device)
    link.open()
    c = AtClient(link)
    c.connect()
    yield c
    link.close()


def _raw_exchange(ser: serial.Serial, data: bytes, until: bytes, timeout: float = 3.0) -> bytes:
    ser.write(data)
    got = b""
    deadline = time.monotonic() + timeout
    while not got.endswith(until) and time.monotonic() < deadline:
        got += ser.read(ser.in_waiting or 1)
    return got


def test_emulator_bytes_are_the_firmwares(board):
    """Echo, \\r -> \\r\\n, the ST prompt bytes 1B 5B 32 4B 0D 3E 20, the error texts."""
    assert ST_PROMPT == bytes.fromhex("1b5b324b0d3e20")
    with serial.Serial(board.device, 115200, timeout=0.05) as ser:
        assert _raw_exchange(ser, b"hello\r", ST_PROMPT) == (
            b"hello\r\nNot a valid AT command (hello)\r\n" + ST_PROMPT)
        assert _raw_exchange(ser, b"AT+FOO\r", ST_PROMPT) == (
            b"AT+FOO\r\nNo handler for AT command (AT+FOO)\r\n" + ST_PROMPT)
        # the argument count is part of the match; an empty last argument is dropped
        assert _raw_exchange(ser, b"AT+READFILE=\r", ST_PROMPT) == (
            b"AT+READFILE=\r\nNo handler for AT command (AT+READFILE=)\r\n" + ST_PROMPT)
        # \n is an ordinary character: echoed as is, it corrupts the command it precedes
        # (and the error message's printf turns it into \r\n, as all of the board's output)
        assert _raw_exchange(ser, b"\nAT+DEVICEINFO?\r", ST_PROMPT) == (
            b"\nAT+DEVICEINFO?\r\nNot a valid AT command (\r\nAT+DEVICEINFO?)\r\n"
            + ST_PROMPT)
        # backspace erases with "\b \b"
        assert _raw_exchange(ser, b"AT+XY\x7f\x08DEVICEINFO?\r", ST_PROMPT) == (
            b"AT+XY\x08 \x08\x08 \x08DEVICEINFO?\r\nID:         c4:7f:51:01:02:03\r\n"
            b"Type:       DISCO_L475VG_IOT01A\r\nAT Version: 1.3.0\r\n" + ST_PROMPT)
        long = b"AT+" + b"A" * 260
        assert _raw_exchange(ser, long + b"\r", b"> ") == (
            long + b"\r\nCommand is too long (max. length 255)\r\n> ")
        # while a command runs, input other than 'b' is dropped (no echo); 'b' stops it
        started = _raw_exchange(ser, b"AT+RUNIMPULSE\r", b"No. of classes: 4\r\n")
        assert started.startswith(b"AT+RUNIMPULSE\r\nInferencing settings:\r\n\tInterval: "
                                  b"16.00 ms.\r\n\tFrame size: 375\r\n")
        ser.write(b"AT+CONFIG?\r")
        time.sleep(0.1)
        out = _raw_exchange(ser, b"b", ST_PROMPT)
        assert out.endswith(ST_PROMPT) and b"AT+CONFIG?" not in out
        assert board.breaks == 1
        assert _raw_exchange(ser, b"AT+SAMPLESETTINGS?\r", ST_PROMPT) == (
            b"AT+SAMPLESETTINGS?\r\nLabel:     test\r\nInterval:  10.00 ms.\r\n"
            b"Length:    10000 ms.\r\nHMAC key:  please-set-me\r\n" + ST_PROMPT)


def test_connect_stops_a_running_loop_and_reads_the_config(board):
    with serial.Serial(board.device, 115200, timeout=0.05) as ser:
        _raw_exchange(ser, b"AT+RUNIMPULSE\r", b"Storing in file name")
    link = SerialLink(board.device)
    link.open()
    try:
        c = AtClient(link)
        c.connect()
        assert board.breaks == 1
        cfg = c.read_config()
        assert (cfg.device_id, cfg.device_type, cfg.at_version) == (
            "c4:7f:51:01:02:03", "DISCO_L475VG_IOT01A", "1.3.0")
        assert [s.name for s in cfg.sensors] == ["Built-in accelerometer",
                                                 "Built-in microphone"]
        assert cfg.sensors[0].frequencies == (62.5, 100.0)
        assert cfg.sampling.hmac_key == "please-set-me" and cfg.unparsed == []
        assert c.garbled == 0
    finally:
        link.close()


def test_errors_and_settings(client, board):
    with pytest.raises(AtCommandError, match=r"Not a valid AT command \(HELLO\)"):
        client.command("HELLO")
    with pytest.raises(AtCommandError, match=r"No handler for AT command \(AT\+NOPE\)"):
        client.command("AT+NOPE")
    with pytest.raises(AtCommandError, match="File '/fs/none' does not exist"):
        client.read_file("/fs/none")
    with pytest.raises(AtCommandError, match="could not be unlinked"):
        client.unlink("/fs/none")
    with pytest.raises(ValueError, match="no escaping"):
        client.set_sample_settings("a,b", 16, 1000)
    # the board's own refusal (a label over 127 characters)
    assert client.command("AT+SAMPLESETTINGS=" + "x" * 128 + ",10,1000") == [
        "Failed to persist sampling settings (-1)"]
    client.set_sample_settings("wave", 16, 3000, "key-1")
    assert (board.config.label, board.config.interval_ms, board.config.length_ms,
            board.config.hmac_key) == ("wave", 16.0, 3000, "key-1")
    client.set_sample_settings("idle", 12.5, 2000)
    assert (board.config.interval_ms, board.config.hmac_key) == (12.5, "key-1")
    assert [ln for ln in client.command("AT+HELP") if ln.startswith("AT+READBUFFER=")] == [
        "AT+READBUFFER= - Read from the temporary buffer (as base64) (START,LENGTH) "
        "(2 parameters)"]
    # every command went out CR-terminated in one piece as the board saw it
    assert "AT+SAMPLESETTINGS=wave,16,3000,key-1" in board.commands


def _independent_hmac_ok(data: bytes, key: str) -> bool:
    i = data.index(b"\x78\x40") + 2
    zeroed = data[:i] + b"0" * 64 + data[i + 64:]
    return hmac.compare_digest(hmac.new(key.encode(), zeroed, hashlib.sha256).hexdigest(),
                               data[i:i + 64].decode())


@pytest.mark.parametrize("interval", [16.0, 10.0])
def test_sample_round_trips_to_the_recorded_values(client, board, interval):
    res = client.sample("accelerometer", "wave", 1000, interval, "secret-key")
    rec = board.recorded[res.filename]
    assert res.filename == "/fs/wave.0" and res.unlinked and res.filename not in board.files
    assert res.total_samples == len(rec.values) == int(np.ceil(1000 / interval))
    assert res.data == rec.data                      # the bytes the board wrote
    assert res.signature_valid is True and _independent_hmac_ok(res.data, "secret-key")
    doc = res.document
    assert doc.axis_names == ["accX", "accY", "accZ"] and doc.interval_ms == interval
    assert doc.device_name == "c4:7f:51:01:02:03"
    np.testing.assert_array_equal(doc.values, rec.values.astype(np.float64))
    # the firmware's layout, checked with an independent decoder: indefinite values array,
    # floats as half (F9) or single (FA), never double
    tree = cbor2.loads(res.data)
    assert np.array_equal(np.array(tree["payload"]["values"]), rec.values.astype(np.float64))
    values_at = res.data.index(b"\x66values") + 7
    assert res.data[values_at] == 0x9F and res.data.endswith(b"\xff")
    body = res.data[values_at + 1:-1]
    assert b"\xfb" not in body[:200] and b"\xfa" in body
    assert set(body[0::1][:1]) == {0x83}             # rows are arrays of 3


def test_sample_readback_blocks_and_microphone_buffer(client, board):
    client.set_sample_settings("noise", 0.0625, 300)
    res = client.sample("microphone", "noise", 300, None, "k")
    assert res.buffer_range == (0, len(board.temp_buffer)) and not res.unlinked
    assert res.document.is_binary and res.signature_valid is True
    np.testing.assert_array_equal(res.document.values, board.recorded["/fs/noise"].values)
    # AT+READBUFFER / READFILE: 513-byte blocks base64'd one by one, on one line
    text = "".join(client.command(f"AT+READBUFFER=0,{len(board.temp_buffer)}"))
    blocks = [text[i:i + 684] for i in range(0, len(text), 684)]
    assert all(len(base64.b64decode(b)) == 513 for b in blocks[:-1])
    assert base64.b64decode(text) == board.temp_buffer


def test_garbled_readback_is_never_accepted(client, board):
    client.sample("accelerometer", "idle", 500, 16, "k", unlink=False)
    board.faults.garble_rate = 1.0
    with pytest.raises((AtProtocolError, AtCommandError)):
        client.read_document("/fs/idle.0", None, "k")
    board.faults.garble_rate = 0.5                   # every read may be damaged or not
    data, doc, valid = client.read_document("/fs/idle.0", None, "k", retries=20)
    board.faults.garble_rate = 0.0
    assert valid is True and data == board.recorded["/fs/idle.0"].data
    assert client.counters.retries > 0 and client.garbled > 0


@pytest.mark.parametrize("fmt", ["current", "2024", "2020"])
def test_inference_loop_in_each_format(tmp_path, fmt):
    produced = []

    def results(index, values):
        scores = {"idle": 0.25 * (index % 4), "snake": 0.125, "updown": 0.0625,
                  "wave": 1 - 0.25 * (index % 4) - 0.1875}
        produced.append((scores, -0.5 + index / 8))
        return produced[-1]

    fw = AtFirmware(str(tmp_path / "tty"), time_scale=0.01, firmware=fmt,
                    results=results, impulse=ImpulseInfo(timing_us=(11000, 420, 1000))).start()
    link = SerialLink(fw.device)
    try:
        link.open()
        c = AtClient(link)
        c.connect()
        session = c.run_impulse()
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < deadline:
            got += [e for e in session.poll(0.5) if isinstance(e, InferenceResult)]
        got += [e for e in session.stop() if isinstance(e, InferenceResult)]
        assert not session.running and fw.breaks == 1
        assert len(got) >= 5
        places = 5 if fmt == "2020" else 6
        for r, (scores, anomaly) in zip(got, produced):
            assert r.format == fmt
            assert r.classification == {k: round(v, places) for k, v in scores.items()}
            assert r.anomaly == round(anomaly, 6 if fmt == "current" else 3)
            assert r.file is not None and r.file.startswith("/fs/device-classification.")
        if fmt == "current":
            assert got[0].timing_us == {"dsp": 11000, "classification": 420, "anomaly": 1000}
        else:
            assert got[0].timing_us == {"dsp": 11000, "classification": 0, "anomaly": 1000}
        assert c.garbled == 0
        # idle again: the next command works
        assert c.command("AT+DEVICEINFO?")[0] == "ID:         c4:7f:51:01:02:03"
    finally:
        link.close()
        fw.close()


def test_slow_device_still_answers(tmp_path):
    fw = AtFirmware(str(tmp_path / "tty"), time_scale=0.01,
                    faults=Faults(byte_delay=0.002, slow_chunk=4)).start()
    link = SerialLink(fw.device)
    try:
        link.open()
        c = AtClient(link, timeout=4.0)
        c.connect()
        t0 = time.monotonic()
        cfg = c.read_config()
        assert time.monotonic() - t0 > 0.1        # ~700 bytes at 4 bytes / 2 ms
        assert cfg.device_id == "c4:7f:51:01:02:03" and c.garbled == 0
    finally:
        link.close()
        fw.close()

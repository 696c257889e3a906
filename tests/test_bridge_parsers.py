"""firmware_bridge's parsers on text as the firmware prints it (serial-protocol.md): AT+CONFIG?,
the three inference output formats, data-forwarder lines and frequency detection. The pty
tests (test_bridge_at.py, ...) drive the same code over a real serial line."""
from __future__ import annotations

import numpy as np
import pytest

from edgert.errors import ConfigurationError
from firmware_bridge.device import parse_config, parse_sensor_line
from firmware_bridge.forwarder import ReadingParser, detect_frequency, units_for
from firmware_bridge.inference_output import (DeviceError, FileComplete, FileStored,
                                              GarbledLine, GarbledResult, InferenceOutputParser,
                                              InferenceResult, InferenceSettings)

# the ST example of serial-protocol.md, with the sections the firmware prints after it
ST_CONFIG = """\
===== Device info =====
ID:         c4:7f:51:01:02:03
Type:       DISCO_L475VG_IOT01A
AT Version: 1.3.0

===== Sensors ======
Name: Built-in accelerometer, Max sample length: 300s, Frequencies: [62.50Hz, 100.00Hz]
Name: Built-in microphone, Max sample length: 60s, Frequencies: [16000.00Hz]

===== WIFI =====
Present:   1
SSID:      lab
Password:  pw:with:colons
Security:  3
MAC:       c4:7f:51:01:02:03
Connected: 0

===== Sampling parameters =====
Label:     test
Interval:  10.00 ms.
Length:    10000 ms.
HMAC key:  please-set-me

===== Upload settings =====
Api Key:   ei_123
Host:      ingestion.example
Path:      /api/training/data

===== Remote management =====
URL:        ws://remote
Connected:  0
Last error: 
""".splitlines()


def test_config_dump_becomes_a_typed_description():
    cfg = parse_config(ST_CONFIG)
    assert (cfg.device_id, cfg.device_type, cfg.at_version) == (
        "c4:7f:51:01:02:03", "DISCO_L475VG_IOT01A", "1.3.0")
    assert [(s.name, s.max_sample_length_s, s.frequencies) for s in cfg.sensors] == [
        ("Built-in accelerometer", 300.0, (62.5, 100.0)),
        ("Built-in microphone", 60.0, (16000.0,))]
    assert (cfg.sampling.label, cfg.sampling.interval_ms, cfg.sampling.length_ms,
            cfg.sampling.hmac_key) == ("test", 10.0, 10000, "please-set-me")
    assert (cfg.upload.api_key, cfg.upload.host, cfg.upload.path) == (
        "ei_123", "ingestion.example", "/api/training/data")
    # value = everything after the first colon: MAC addresses and passwords survive
    assert cfg.sections["wifi"]["mac"] == "c4:7f:51:01:02:03"
    assert cfg.sections["wifi"]["password"] == "pw:with:colons"
    assert cfg.sections["management"]["last error"] == ""
    assert cfg.unparsed == []
    assert cfg.sensor("accelerometer").name == "Built-in accelerometer"
    assert cfg.sensor("Built-in microphone").frequencies == (16000.0,)
    with pytest.raises(KeyError, match="no sensor 'camera'"):
        cfg.sensor("camera")


def test_config_keeps_garbled_lines_aside():
    lines = list(ST_CONFIG)
    lines[6] = "Name: Built-in acc#lerometer, Max sample len"     # cut sensor line
    lines.insert(3, "\x00\xff garbage without a colon")
    cfg = parse_config(lines)
    assert cfg.device_id == "c4:7f:51:01:02:03"
    assert [s.name for s in cfg.sensors] == ["Built-in microphone"]
    assert len(cfg.unparsed) == 2
    assert parse_sensor_line("Name: X, Max sample length: 5s, Frequencies: [abcHz]") is None


CURRENT = """\
Inferencing settings:
\tInterval: 16.00 ms.
\tFrame size: 375
\tSample length: 2000 ms.
\tNo. of classes: 4
Starting inferencing, press 'b' to break
Sampling... Storing in file name: /fs/device-classification.0
Timing: DSP 11 ms, inference 0 ms, anomaly 1 ms
#Classification predictions:
  idle: 0.996094
  snake: 0.000000
  updown: 0.000000
  wave: 0.003906
Anomaly prediction: -0.312345
Finished inferencing, raw data is stored in '/fs/device-classification.0'. Use AT+UPLOADFILE to send back to Edge Impulse.
Starting inferencing in 2 seconds...
Sampling... Storing in file name: /fs/device-classification.1
Timing: DSP 900 us, inference 420 us, anomaly 1 ms
#Classification predictions:
  idle: 0.5
  snake: 0.25
  updown: 0.125
  wave: 0.125
Anomaly prediction: 0.75
""".splitlines()

OLD_2020 = """\
Predictions (DSP: 11 ms., Classification: 0 ms., Anomaly: 1 ms.): 
    idle: 0.99609
    snake: 0.00000
    updown: 0.00000
    wave: 0.00391
    anomaly score: -0.312
""".splitlines()

OLD_2024 = """\
Predictions (DSP: 11 ms., Classification: 0 ms., Anomaly: 1 ms.): 
#Classification results:
    idle: 0.996094
    snake: 0.000000
    updown: 0.000000
    wave: 0.003906
Anomaly prediction: -0.312
""".splitlines()


def _events(lines, parser=None):
    parser = parser or InferenceOutputParser()
    out = []
    for line in lines:
        out += parser.feed(line)
    return out + parser.flush()


def test_current_format():
    ev = _events(CURRENT)
    settings = [e for e in ev if isinstance(e, InferenceSettings)]
    assert settings and settings[0].n_classes == 4 and settings[0].interval_ms == 16.0
    assert settings[0].frame_size == 375 and settings[0].sample_length_ms == 2000.0
    results = [e for e in ev if isinstance(e, InferenceResult)]
    assert [r.file for r in results] == ["/fs/device-classification.0",
                                         "/fs/device-classification.1"]
    r0, r1 = results
    assert r0.classification == {"idle": 0.996094, "snake": 0.0, "updown": 0.0,
                                 "wave": 0.003906}
    assert r0.anomaly == -0.312345 and r0.format == "current"
    assert r0.timing_us == {"dsp": 11000, "classification": 0, "anomaly": 1000}
    assert r1.timing_us == {"dsp": 900, "classification": 420, "anomaly": 1000}
    assert r1.to_json() == {"classification": {"idle": 0.5, "snake": 0.25, "updown": 0.125,
                                               "wave": 0.125},
                            "anomaly": 0.75,
                            "timing_us": {"dsp": 900, "classification": 420, "anomaly": 1000}}
    assert [e.name for e in ev if isinstance(e, FileStored)] == [
        "/fs/device-classification.0", "/fs/device-classification.1"]
    assert [e.name for e in ev if isinstance(e, FileComplete)] == [
        "/fs/device-classification.0"]
    assert not [e for e in ev if isinstance(e, (GarbledLine, GarbledResult))]


@pytest.mark.parametrize("lines,fmt,anomaly", [(OLD_2020, "2020", -0.312),
                                               (OLD_2024, "2024", -0.312)])
def test_older_formats(lines, fmt, anomaly):
    ev = _events(lines)
    assert len(ev) == 1 and isinstance(ev[0], InferenceResult)
    r = ev[0]
    assert r.format == fmt and r.anomaly == anomaly
    assert list(r.classification) == ["idle", "snake", "updown", "wave"]
    assert r.classification["idle"] in (0.99609, 0.996094)
    assert r.timing_us == {"dsp": 11000, "classification": 0, "anomaly": 1000}


def test_result_without_anomaly_closes_on_the_next_line():
    lines = ["Timing: DSP 3 ms, inference 1 ms, anomaly 0 ms", "#Classification predictions:",
             "  yes: 0.9", "  no: 0.1",
             "Finished inferencing, raw data is stored in '/fs/x.0'. Use AT+UPLOADFILE ..."]
    ev = _events(lines)
    assert isinstance(ev[0], InferenceResult) and ev[0].anomaly is None
    assert ev[0].classification == {"yes": 0.9, "no": 0.1}
    assert isinstance(ev[1], FileComplete)


def test_garbled_and_cut_results_are_reported_not_returned():
    parser = InferenceOutputParser()
    _events(CURRENT[:6], parser)                  # settings: 4 classes
    cut = ["Timing: DSP 11 ms, inference 0 ms, anomaly 1 ms", "#Classification predictions:",
           "  idle: 0.5", "  snake: 0.5", "Anomaly prediction: -0.3"]   # 2 of 4 labels
    bad_number = ["Timing: DSP 11 ms, inference 0 ms, anomaly 1 ms",
                  "#Classification predictions:", "  idle: 0.9#", "  snake: 0.0",
                  "  updown: 0.0", "  wave: 0.1", "Anomaly prediction: -0.3"]
    noise = ["\x00\xffSamp#ing... garbage"]
    ev = _events(cut + bad_number + noise + CURRENT[7:14], parser)
    kinds = [type(e).__name__ for e in ev]
    assert kinds == ["GarbledResult", "GarbledResult", "GarbledLine", "InferenceResult"]
    assert "2 class scores, the impulse has 4" in ev[0].reason
    assert "unreadable score" in ev[1].reason
    err = InferenceOutputParser().feed("ERR: Failed to run classifier (-5)")
    assert isinstance(err[0], DeviceError)


def test_reading_parser_splits_like_the_data_forwarder():
    p = ReadingParser()
    # reading starts mid-line: up to the first line end is dropped; last line incomplete
    chunk = p.feed(b"34,5.5,6\r\n1.5,2,3\r\n4\t5  6\n7 ,8,9\r\n10,11")
    assert chunk.rows.tolist() == [[1.5, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert p.n_axes == 3
    chunk = p.feed(b",12\r\nERR: sensor\r\n1,2\r\nx,y,z\r\n-1e-3,+2.5,3\r\n")
    assert chunk.rows.tolist() == [[10, 11, 12], [-0.001, 2.5, 3]]
    assert chunk.errors == ["ERR: sensor"]
    assert chunk.garbled == ["1 2", "x y z"]
    # 1,,2 has two fields (empty fields dropped, as the forwarder's filter does)
    assert ReadingParser(2).feed(b"\n1,,2\n").rows.tolist() == [[1, 2]]
    inf = ReadingParser(2).feed(b"\n1,inf\nnan,2\n3,4\n")
    assert inf.rows.tolist() == [[3, 4]] and len(inf.garbled) == 2


def test_units_from_axis_names():
    assert [units_for(a) for a in ("accX", "AccY", "audio", "gyrX", "temp")] == [
        "m/s2", "m/s2", "wav", "N/A", "N/A"]


class _FakeClock:
    """detect_frequency reads until max(1 s, 2.5 periods) of its clock have passed; here the
    clock advances 10 ms per read and each read returns the lines due in those 10 ms."""

    def __init__(self, hz: float, text: bytes = b""):
        self.t = 0.0
        self.hz = hz
        self.sent = 0
        self.text = text

    def clock(self) -> float:
        return self.t

    def read(self) -> bytes:
        self.t += 0.01
        due = int(self.t * self.hz)
        out = b"".join(b"%d,%d,%d\r\n" % (i, i, i) for i in range(self.sent, due))
        self.sent = due
        return self.text + out if self.text and self.sent else out


def test_frequency_detection():
    fc = _FakeClock(62.5)
    det = detect_frequency(fc.read, None, clock=fc.clock)
    assert det.n_axes == 3 and abs(det.frequency - 62.5) <= 1.5
    slow = _FakeClock(1.0)
    with pytest.raises(ConfigurationError, match="pass --frequency"):
        detect_frequency(slow.read, None, clock=slow.clock)
    # a 0.8 Hz board with the frequency known: the capture is 2.5 periods, not 1 s
    fc = _FakeClock(0.8)
    with pytest.raises(ConfigurationError, match="above 2 Hz"):
        detect_frequency(fc.read, 0.8, clock=fc.clock)
    assert abs(fc.t - 2.5 / 0.8) < 0.02
    err = _FakeClock(50, b"ERR: no sensor\r\n")
    with pytest.raises(ConfigurationError, match="ERR: no sensor"):
        detect_frequency(err.read, None, clock=err.clock)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=30))
def test_no_bytes_from_a_board_crash_the_parsers(chunks):
    """Bad input from a board is counted, never raised."""
    inference = InferenceOutputParser(n_classes=2)
    readings = ReadingParser()
    for chunk in chunks:
        readings.feed(chunk)
        for line in chunk.split(b"\n"):
            inference.feed(line.decode("utf-8", "replace"))
    inference.flush()
    parse_config([c.decode("utf-8", "replace") for c in chunks])


def test_port_discovery_keeps_st_link_and_cdc_acm(monkeypatch):
    """list_board_ports over pyserial's own port records (as comports() builds them)."""
    from serial.tools import list_ports, list_ports_common

    from firmware_bridge import ports

    def info(device, vid=None, pid=None, desc="n/a", serial=None):
        p = list_ports_common.ListPortInfo(device, skip_link_detection=True)
        p.vid, p.pid, p.description, p.serial_number = vid, pid, desc, serial
        if vid is not None:
            p.hwid = f"USB VID:PID={vid:04X}:{pid:04X}"
        return p

    found = [info("/dev/ttyACM1", 0x0483, 0x374B, "STM32 STLink", "0669FF"),
             info("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno"),
             info("/dev/ttyS0"),                                   # a UART, not a board
             info("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102")]       # a USB-serial adapter
    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: found)
    got = ports.list_board_ports()
    assert [(p.device, p.kind, p.vid_pid) for p in got] == [
        ("/dev/ttyACM0", "CDC-ACM", "2341:0043"), ("/dev/ttyACM1", "ST-LINK", "0483:374b")]
    assert got[1].to_dict() == {"port": "/dev/ttyACM1", "kind": "ST-LINK",
                                "vid_pid": "0483:374b", "description": "STM32 STLink",
                                "serial_number": "0669FF"}

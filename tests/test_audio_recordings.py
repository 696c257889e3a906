"""Audio recordings: the WAV reader (edgert.recording.wav) - what it reads, and one clear error naming
the file for every WAV it cannot (stereo, 8/24-bit, float, no frames, a header cut short, a
rate of 0, a data chunk longer than the file) - through load_recording, the dataset reader and
the CLI; and data-acquisition documents whose payload is the firmware's Ref-BINARY-i16."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from edgert.acquisition import DataAcquisition, Sensor, encode_cbor
from edgert.cli import main
from edgert.dataset import Dataset
from edgert.errors import InputError
from edgert.recording import load_recording
from edgert.recording.wav import parse_wav, write_wav

BUNDLE = Path(__file__).parent / "data" / "audio" / "kws-mfcc"


def wav_bytes(samples: bytes, *, channels=1, rate=16000, bits=16, tag=1, extra_chunks=b"",
              extensible=False) -> bytes:
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + b"\x00" * 14
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + extra_chunks + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_write_then_read(tmp_path):
    x = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    write_wav(tmp_path / "a.wav", x, 8000)
    rec = load_recording(tmp_path / "a.wav")
    assert rec.values.dtype == np.float32 and rec.values.shape == (6, 1)
    np.testing.assert_array_equal(rec.values[:, 0], x)
    assert rec.frequency == 8000.0 and rec.axes == ("audio",)
    assert rec.sensors[0].units == "wav" and rec.label == "a" and rec.device_type == "WAV"


def test_chunks_before_fmt_extensible_and_odd_padding():
    """LIST chunks before fmt (odd-sized, padded), WAVE_FORMAT_EXTENSIBLE with PCM."""
    pcm = np.arange(-5, 5, dtype="<i2").tobytes()
    data = wav_bytes(pcm, extra_chunks=b"LIST" + struct.pack("<I", 3) + b"abc\x00",
                     extensible=True)
    values, rate, axis, units = parse_wav(data, "x.wav")
    np.testing.assert_array_equal(values[:, 0], np.arange(-5, 5))
    assert (rate, axis, units) == (16000.0, "audio", "wav")


PCM = np.zeros(100, dtype="<i2").tobytes()
BAD = {
    "stereo": (wav_bytes(PCM, channels=2), "2 channels"),
    "8bit": (wav_bytes(PCM, bits=8), "8-bit samples"),
    "24bit": (wav_bytes(PCM[:99], bits=24), "24-bit samples"),
    "float": (wav_bytes(PCM, bits=32, tag=3), "floating-point"),
    "alaw": (wav_bytes(PCM, tag=6), "format tag 6"),
    "zero_frames": (wav_bytes(b""), "0 frames"),
    "rate0": (wav_bytes(PCM, rate=0), "sampling rate is 0"),
    "short_header": (b"RIFF\x10\x00\x00", "truncated WAV header"),
    "header_cut_in_fmt": (wav_bytes(PCM)[:30], "truncated WAV header"),
    "no_fmt": (b"RIFF" + struct.pack("<I", 4) + b"WAVE", "no 'fmt ' chunk"),
    "data_cut": (wav_bytes(PCM)[:-40], "truncated WAV data"),
    "not_riff": (b"OggS" + b"\x00" * 40, "not a RIFF/WAVE file"),
    "no_data": (wav_bytes(PCM)[:36], "no 'data' chunk"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_wav_names_file_and_problem(tmp_path, name):
    data, what = BAD[name]
    path = tmp_path / f"{name}.wav"
    path.write_bytes(data)
    with pytest.raises(InputError) as ei:
        load_recording(path)
    msg = str(ei.value)
    assert str(path) in msg and what in msg, msg


@pytest.mark.parametrize("name", ["stereo", "24bit", "zero_frames", "short_header", "rate0"])
def test_bad_wav_on_the_command_line(tmp_path, capsys, caplog, name):
    """One `edgert: ERROR:` line naming the file and the problem, exit code 1, no traceback."""
    data, what = BAD[name]
    path = tmp_path / f"{name}.wav"
    path.write_bytes(data)
    code = main(["classify", str(BUNDLE), str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    text = err + caplog.text
    assert "Traceback" not in text
    line = next(x for x in text.splitlines() if "ERROR" in x)
    assert str(path) in line and what in line


def test_dataset_reads_wav_and_reports_bad_ones(tmp_path):
    (tmp_path / "testing").mkdir()
    write_wav(tmp_path / "testing" / "hum.1.wav", np.arange(8000) % 100, 16000)
    (tmp_path / "testing" / "broken.wav").write_bytes(BAD["stereo"][0])
    with Dataset(tmp_path, index_path=tmp_path / "idx.sqlite") as ds:
        good = [r for r in ds.query() if r.error is None]
        assert [(r.filename, r.label, r.category) for r in good] == [("hum.1", "hum", "testing")]
        row = good[0]
        assert row.frequency == 16000 and row.values_count == 8000 and row.axes_count == 1
        sample = ds.load(row)
        np.testing.assert_array_equal(sample.values[:, 0], np.arange(8000) % 100)
        assert sample.frequency == 16000 and sample.axes == ("audio",)
        assert sample.sensors[0].units == "wav" and sample.device_type == "WAV"
        bad = ds.errors()
        assert len(bad) == 1 and bad[0].filename == "broken" and "2 channels" in bad[0].error


def test_binary_int16_acquisition_document(tmp_path):
    """The firmware's audio upload (CBOR, Ref-BINARY-i16 payload) reads as a one-axis
    recording with the same samples a WAV of them gives."""
    rng = np.random.default_rng(0)
    x = rng.integers(-2000, 2000, 16000).astype(np.int16)
    doc = DataAcquisition(device_name="disco", device_type="DISCO-L475VG-IOT01A",
                          interval_ms=1000 / 16000, sensors=[Sensor("audio", "wav")], values=x)
    (tmp_path / "yes.cbor").write_bytes(encode_cbor(doc))
    write_wav(tmp_path / "yes.wav", x, 16000)
    a, b = load_recording(tmp_path / "yes.cbor"), load_recording(tmp_path / "yes.wav")
    assert a.values.shape == b.values.shape == (16000, 1)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.frequency == pytest.approx(b.frequency) and a.axes == b.axes == ("audio",)

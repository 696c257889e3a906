"""WAV recordings: 16-bit PCM mono RIFF/WAVE files, read into the values/frequency/axes triple
that :func:`edgert.recording.read_recording` turns into a :class:`~edgert.recording.Recording`
(one axis named ``audio`` with units ``wav``, as Edge Impulse names a microphone axis).

A small parser of its own rather than the stdlib ``wave`` module, so that every problem - a
stereo file, 8/24/32-bit or float samples, no samples, a header cut short, a rate of 0, a data
chunk longer than the file - is reported as one :class:`~edgert.errors.InputError` that names
the file and says what to do. A rate other than the impulse's is resampled like sensor data
(``Impulse.prepare``).
"""
from __future__ import annotations

import struct

import numpy as np

from ..errors import InputError

#: the axis a WAV file's samples become (Edge Impulse's microphone axis)
AUDIO_AXIS = ("audio", "wav")
_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
_CONVERT = "convert it to 16-bit PCM mono, e.g. `sox IN.wav -b 16 -c 1 OUT.wav` or " \
           "`ffmpeg -i IN.wav -ac 1 -c:a pcm_s16le OUT.wav`"


def is_wav(data: bytes) -> bool:
    """Whether ``data`` starts like a RIFF/WAVE file."""
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def parse_wav(data: bytes, name: str) -> tuple[np.ndarray, float, str, str]:
    """Decode a 16-bit PCM mono WAV file: ``(values (n, 1) float32 of int16 sample values,
    sampling frequency in Hz, axis name, units)``. ``name`` is used in error messages."""
    def fail(msg: str) -> InputError:
        return InputError(f"{name}: {msg}")

    if len(data) < 12:
        raise fail(f"truncated WAV header ({len(data)} bytes; a WAV file starts with a 12-byte "
                   "RIFF header): the file is cut short or not a WAV file")
    if not is_wav(data):
        kind = "RIFX (big-endian) WAV" if data[:4] == b"RIFX" else "not a RIFF/WAVE file"
        raise fail(f"{kind}: expected a 16-bit PCM mono WAV file; {_CONVERT}")
    fmt = None
    samples = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise fail(f"truncated WAV header: the 'fmt ' chunk holds {size} bytes, at least "
                           "16 are needed; the file is damaged")
            fmt = struct.unpack_from("<HHIIHH", data, body)
            tag = fmt[0]
            if tag == _EXTENSIBLE:
                if size < 40 or body + 26 > len(data):
                    raise fail("truncated WAV header: WAVE_FORMAT_EXTENSIBLE without its "
                               "sub-format; the file is damaged")
                tag = struct.unpack_from("<H", data, body + 24)[0]
            fmt = (tag,) + fmt[1:]
        elif cid == b"data":
            if fmt is None:
                raise fail("the 'data' chunk comes before the 'fmt ' chunk: not a valid WAV file")
            if body + size > len(data):
                raise fail(f"truncated WAV data: the header announces {size} bytes of samples "
                           f"but the file holds {len(data) - body}; the file was cut short "
                           "(re-export or re-record it)")
            samples = data[body:body + size]
            break
        pos = body + size + (size & 1)          # chunks are padded to an even size
    if fmt is None:
        raise fail("truncated WAV header: no 'fmt ' chunk (the file is cut short or damaged)")
    tag, channels, rate, _byte_rate, block_align, bits = fmt
    if tag == _FLOAT:
        raise fail(f"{bits}-bit floating-point samples; edgert reads 16-bit PCM mono: {_CONVERT}")
    if tag != _PCM:
        raise fail(f"compressed or unknown sample format (format tag {tag}); edgert reads "
                   f"16-bit PCM mono: {_CONVERT}")
    if channels != 1:
        raise fail(f"{channels} channels; edgert classifies mono audio (one channel): "
                   f"{_CONVERT}")
    if bits != 16:
        raise fail(f"{bits}-bit samples; edgert reads 16-bit PCM: {_CONVERT}")
    if rate == 0:
        raise fail("the sampling rate is 0 Hz: the header is damaged; re-export the file")
    if block_align not in (0, 2):
        raise fail(f"block align {block_align} does not match 16-bit mono (2): the header is "
                   "damaged")
    if samples is None:
        raise fail("no 'data' chunk: the file holds no samples (cut short?)")
    if len(samples) < 2:
        raise fail("0 frames: the file holds no samples")
    if len(samples) % 2:
        samples = samples[:-1]                  # a trailing odd byte is padding, not a sample
    values = np.frombuffer(samples, dtype="<i2").astype(np.float32).reshape(-1, 1)
    return values, float(rate), AUDIO_AXIS[0], AUDIO_AXIS[1]


def write_wav(path, samples: np.ndarray, rate: int) -> None:
    """Write int16 samples as a 16-bit PCM mono WAV file (for tests and examples)."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise InputError("write_wav takes one channel (a 1-D array)")
    pcm = np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, _PCM, 1, int(rate), int(rate) * 2, 2, 16)
    header += b"data" + struct.pack("<I", len(pcm))
    with open(path, "wb") as f:
        f.write(header + pcm)


__all__ = ["parse_wav", "is_wav", "write_wav", "AUDIO_AXIS"]

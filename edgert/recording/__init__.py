"""Recordings: the one :class:`Recording` type and the readers that make one from a file
(CSV, data-acquisition JSON/CBOR, 16-bit PCM mono WAV).

>>> rec = load_recording("examples/motion-demo/samples/idle.01.json")
>>> rec.values.shape, rec.frequency, rec.axes, rec.label
"""
from .csv_format import parse_csv
from .data import Recording, SensorAxis
from .files import load_recording, read_recording
from .wav import parse_wav, write_wav

__all__ = ["Recording", "SensorAxis", "load_recording", "parse_csv", "parse_wav",
           "read_recording", "write_wav"]

"""Parsers for what ``AT+RUNIMPULSE`` prints, in the three formats still in the field.

Current firmware (Edge Impulse SDK's ``ei_print_results``)::

    Timing: DSP 11 ms, inference 0 ms, anomaly 1 ms          (``N us`` below 1 ms)
    #Classification predictions:
      idle: 0.996094
    Anomaly prediction: -0.312345

2020 - May 2023::

    Predictions (DSP: 11 ms., Classification: 0 ms., Anomaly: 1 ms.):
        idle: 0.99609
        anomaly score: -0.312

2024 - Feb 2025::

    Predictions (DSP: 11 ms., Classification: 0 ms., Anomaly: 1 ms.):
    #Classification results:
        idle: 0.996094
    Anomaly prediction: -0.312

Around the results the ST firmware prints ``Sampling... Storing in file name: /fs/x.N`` (the
window's raw data) and, once that file is closed and signed, ``Finished inferencing, raw data is
stored in '/fs/x.N'. ...``.

The parser is line-driven and never raises: a line starting ``Timing`` or ``Predictions`` opens a
result, labels are any indented ``name: number`` inside it, the anomaly line closes it (it is
the last line in every format), and any other known line closes a result without anomaly. A
result whose label count disagrees with the impulse's ``No. of classes`` (or with the labels
seen in earlier results) is reported as garbled instead of as a result, as is any line the
parser cannot place.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

__all__ = ["InferenceResult", "InferenceSettings", "FileStored", "FileComplete", "DeviceError",
           "GarbledLine", "GarbledResult", "InferenceOutputParser", "Event"]

_TIMING_PART = re.compile(
    r"(dsp|classification|inference|anomaly|postprocessing)\s*:?\s*"
    r"([0-9]+(?:\.[0-9]+)?)\s*(ms|us)", re.IGNORECASE)
_STORING = re.compile(r"^Sampling\.\.\. Storing in file name: (\S.*?)\s*$")
_FINISHED = re.compile(r"^Finished inferencing, raw data is stored in '(.*)'")
_ANOMALY = re.compile(r"^(?:Anomaly prediction|\s+anomaly score)\s*:\s*(\S+)\s*$")
_LABEL = re.compile(r"^[ ]+(\S.*?)\s*:\s*(\S+)\s*$")
_SETTING = re.compile(r"^\t(Interval|Frame size|Sample length|No\. of classes)\s*:\s*(.*?)\s*$")
_NUMBER = re.compile(r"[-+]?[0-9]*\.?[0-9]+")

#: Lines the firmware prints during the loop that carry nothing we need.
_INFO_PREFIXES = ("Inferencing settings:", "Starting inferencing", "Sampling...", "Recording",
                  "Recording OK", "Edge Impulse standalone inferencing", "run_classifier",
                  # the boot banner of a board that reset
                  "Hello from the Edge Impulse", "Compiled on", "Mounting file system",
                  "Loaded configuration", "Type AT+HELP", "No filesystem found")

_TIMING_KEYS = {"dsp": "dsp", "classification": "classification", "inference": "classification",
                "anomaly": "anomaly", "postprocessing": "postprocessing"}


@dataclass
class InferenceResult:
    """One window's result as the board reported it."""

    classification: Dict[str, float]
    anomaly: Optional[float]
    #: ``{"dsp": us, "classification": us, "anomaly": us}`` (None when not printed)
    timing_us: Dict[str, Optional[int]]
    #: the raw-data file of this window (``/fs/device-classification.3``), when named
    file: Optional[str] = None
    #: ``current`` / ``2024`` / ``2020``
    format: str = "current"

    def to_json(self) -> dict:
        """The bridge's ``--json`` line (without the port/device tags)."""
        return {"classification": dict(self.classification), "anomaly": self.anomaly,
                "timing_us": {k: self.timing_us.get(k) for k in
                              ("dsp", "classification", "anomaly")}}


@dataclass
class InferenceSettings:
    """The ``Inferencing settings:`` block."""

    interval_ms: Optional[float] = None
    frame_size: Optional[int] = None
    sample_length_ms: Optional[float] = None
    n_classes: Optional[int] = None


@dataclass
class FileStored:
    """``Sampling... Storing in file name: NAME``: the next window is written to NAME."""
    name: str


@dataclass
class FileComplete:
    """``Finished inferencing, raw data is stored in 'NAME'``: NAME is closed and signed."""
    name: str


@dataclass
class DeviceError:
    """``ERR: ...`` / ``Failed to ...`` lines."""
    line: str


@dataclass
class GarbledLine:
    line: str


@dataclass
class GarbledResult:
    """A result block that was cut or corrupted on the wire."""
    reason: str
    lines: List[str] = field(default_factory=list)


Event = Union[InferenceResult, InferenceSettings, FileStored, FileComplete, DeviceError,
              GarbledLine, GarbledResult]


def _number(text: str) -> Optional[float]:
    try:
        v = float(text)
    except ValueError:
        return None
    return v


class _Pending:
    def __init__(self, fmt: str, timing: Dict[str, Optional[int]], file: Optional[str]):
        self.format = fmt
        self.timing = timing
        self.file = file
        self.labels: Dict[str, float] = {}
        self.anomaly: Optional[float] = None
        self.lines: List[str] = []
        self.bad = ""


class InferenceOutputParser:
    """Feed lines (without line terminators); get :data:`Event` objects back."""

    def __init__(self, n_classes: Optional[int] = None):
        self.settings = InferenceSettings(n_classes=n_classes)
        self._in_settings = False
        self._pending: Optional[_Pending] = None
        self._file: Optional[str] = None
        self._labels: Optional[tuple] = None

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _timing(line: str) -> Dict[str, Optional[int]]:
        out: Dict[str, Optional[int]] = {"dsp": None, "classification": None, "anomaly": None}
        for key, value, unit in _TIMING_PART.findall(line):
            v = float(value) * (1000.0 if unit.lower() == "ms" else 1.0)
            out[_TIMING_KEYS[key.lower()]] = int(round(v))
        return out

    def _close(self) -> List[Event]:
        p, self._pending = self._pending, None
        if p is None:
            return []
        if p.bad:
            return [GarbledResult(p.bad, p.lines)]
        if not p.labels and p.anomaly is None:
            return [GarbledResult("a result header without scores", p.lines)]
        n = self.settings.n_classes
        if n is not None and len(p.labels) != n:
            return [GarbledResult(f"{len(p.labels)} class scores, the impulse has {n}",
                                  p.lines)]
        names = tuple(p.labels)
        if self._labels is not None and names != self._labels and n is None:
            return [GarbledResult(f"labels {list(names)} differ from the earlier "
                                  f"{list(self._labels)}", p.lines)]
        if self._labels is None and p.labels:
            self._labels = names
        return [InferenceResult(dict(p.labels), p.anomaly, p.timing, p.file, p.format)]

    def _open(self, fmt: str, line: str, timing: Optional[Dict[str, Optional[int]]] = None
              ) -> List[Event]:
        events = self._close()
        self._pending = _Pending(fmt, timing or {"dsp": None, "classification": None,
                                                 "anomaly": None}, self._file)
        self._pending.lines.append(line)
        return events

    # -- the line handler ---------------------------------------------------------------------
    def feed(self, line: str) -> List[Event]:
        """Parse one line; returns the events it completes (often none)."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return []
        p = self._pending
        if line.startswith("Timing:"):
            return self._open("current", line, self._timing(line))
        if line.startswith("Predictions"):
            return self._open("2020", line, self._timing(line))
        if line.startswith("#Classification"):
            if p is not None and not p.labels and p.anomaly is None:
                if "results" in line:
                    p.format = "2024"
                p.lines.append(line)
                return []
            return self._open("current", line)
        m = _ANOMALY.match(line)
        if m and p is not None:
            v = _number(m.group(1))
            p.lines.append(line)
            if v is None or math.isnan(v):
                p.bad = p.bad or f"unreadable anomaly score {m.group(1)!r}"
            else:
                p.anomaly = v
            return self._close()
        if p is not None and line.startswith(" "):
            m = _LABEL.match(line)
            p.lines.append(line)
            v = _number(m.group(2)) if m else None
            if m is None or v is None or math.isnan(v):
                p.bad = p.bad or f"unreadable score line {line!r}"
            elif m.group(1) in p.labels:
                p.bad = p.bad or f"label {m.group(1)!r} twice"
            else:
                p.labels[m.group(1)] = v
            return []
        # anything else ends a result
        events = self._close()
        events += self._other(line)
        return events

    def _other(self, line: str) -> List[Event]:
        m = _STORING.match(line)
        if m:
            self._file = m.group(1)
            self._in_settings = False
            return [FileStored(self._file)]
        m = _FINISHED.match(line)
        if m:
            return [FileComplete(m.group(1))]
        if line.startswith("Inferencing settings:"):
            self._in_settings = True
            return []
        m = _SETTING.match(line)
        if m and self._in_settings:
            key, value = m.group(1), m.group(2)
            num = _NUMBER.search(value)
            if num is None:
                return [GarbledLine(line)]
            x = float(num.group(0))
            if key == "Interval":
                self.settings.interval_ms = x
            elif key == "Frame size":
                self.settings.frame_size = int(x)
            elif key == "Sample length":
                self.settings.sample_length_ms = x
            else:
                self.settings.n_classes = int(x)
                return [self.settings]
            return []
        if line.startswith(("ERR", "Failed to", "Error")):
            return [DeviceError(line)]
        if line.startswith(_INFO_PREFIXES):
            if line.startswith("Starting inferencing, press"):
                self._in_settings = False
            return []
        return [GarbledLine(line)]

    def flush(self) -> List[Event]:
        """Close a result still open (the stream stopped after its last label)."""
        return self._close()

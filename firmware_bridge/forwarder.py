"""Data-forwarder mode: a board that prints one reading per line, classified on the host.

Line format (as the Edge Impulse data forwarder reads it): values split on ``,``, TAB or
whitespace (empty fields dropped), ``\\r\\n`` or ``\\n`` line ends, a line starting ``ERR`` (or
``<ERR``) reports a device error. Frequency detection: read for max(1 s, 2.5 periods of the
expected rate), drop the first and last line when their field count differs from the others
(they may be cut), ``frequency = lines / seconds``; below 2 Hz it cannot be detected.

The readings go into the runtime's streaming classifier (``Impulse.stream()``), which emits a
result every window increase; :class:`HostInference` keeps the exact (float64) readings of
the last windows so that an anomalous window can be uploaded as it was received.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from edgert.errors import ConfigurationError

log = logging.getLogger("firmware_bridge.forwarder")

__all__ = ["ReadingParser", "ParsedChunk", "detect_frequency", "units_for", "HostInference",
           "WindowOutput", "FrequencyDetection"]

_SEPARATORS = bytes.maketrans(b",\t\r\x0b\x0c", b"     ")
_ERROR_PREFIXES = (b"ERR", b"<ERR")
MIN_DETECTABLE_HZ = 2.0


def _is_error(fields: List[bytes]) -> bool:
    """A line (split into fields) that reports a device error: ``ERR...``/``<ERR...``, any
    case."""
    return fields[0].upper().startswith(_ERROR_PREFIXES)


def units_for(axis: str) -> str:
    """The data forwarder's units: ``acc*`` -> ``m/s2``, ``audio`` -> ``wav``, else ``N/A``."""
    if axis.lower().startswith("acc"):
        return "m/s2"
    if axis.lower() == "audio":
        return "wav"
    return "N/A"


@dataclass
class ParsedChunk:
    rows: np.ndarray              # (k, n_axes) float64 - complete, well-formed readings
    garbled: List[str]            # lines that were not n_axes numbers
    errors: List[str]             # ERR lines


class ReadingParser:
    """Bytes as they arrive -> readings. Keeps an incomplete last line for the next chunk.

    A line is a reading when it holds exactly ``n_axes`` numbers (``n_axes`` is learned from
    the first reading when not given); anything else is garbled (counted, never raised).

    The bytes before the first line end are dropped: reading starts wherever the board is in
    its output, so the first line may be the cut tail of a reading (``34,1.2,3.4`` of
    ``12.34,1.2,3.4``), which could parse as a wrong reading."""

    def __init__(self, n_axes: Optional[int] = None, max_line: int = 4096):
        self.n_axes = n_axes
        self.max_line = max_line
        self._tail = b""
        self._synced = False
        self.readings = 0

    def reset(self) -> None:
        """Start again mid-stream (after a reconnect): the partial line is dropped."""
        self._tail = b""
        self._synced = False

    def feed(self, data: bytes) -> ParsedChunk:
        if not self._synced:
            nl = data.find(b"\n")
            if nl < 0:
                return ParsedChunk(np.zeros((0, self.n_axes or 0)), [], [])
            data = data[nl + 1:]
            self._synced = True
        data = self._tail + data
        end = data.rfind(b"\n")
        if end < 0:
            self._tail = data
            garbled = []
            if len(self._tail) > self.max_line:
                garbled = [self._tail[:120].decode("ascii", "replace") + "..."]
                self._tail = b""
            return ParsedChunk(np.zeros((0, self.n_axes or 0)), garbled, [])
        self._tail = data[end + 1:]
        lines = data[:end].translate(_SEPARATORS).split(b"\n")
        fields = [line.split() for line in lines]
        n = self.n_axes
        garbled: List[str] = []
        errors: List[str] = []
        good: List[list] = []
        for f, line in zip(fields, lines):
            if not f:
                continue                      # blank line
            if n is None and not _is_error(f):
                try:
                    [float(x) for x in f]
                    n = self.n_axes = len(f)
                except ValueError:
                    pass
            if len(f) == n:
                good.append(f)
            elif _is_error(f):
                errors.append(line.decode("ascii", "replace").strip())
            else:
                garbled.append(line.decode("ascii", "replace").strip())
        if not good:
            return ParsedChunk(np.zeros((0, n or 0)), garbled, errors)
        try:
            rows = np.array(good, dtype=np.float64)
        except ValueError:
            rows, bad = self._slow_rows(good)
            garbled += bad
        if rows.size and not np.isfinite(rows).all():
            ok = np.isfinite(rows).all(axis=1)
            garbled += [" ".join(x.decode("ascii", "replace") for x in good_row)
                        for good_row, keep in zip(good, ok) if not keep]
            rows = rows[ok]
        self.readings += len(rows)
        return ParsedChunk(rows, garbled, errors)

    @staticmethod
    def _slow_rows(good: List[list]) -> Tuple[np.ndarray, List[str]]:
        """Per-line conversion, to find the lines whose fields are not numbers."""
        rows, bad = [], []
        for f in good:
            try:
                rows.append([float(x) for x in f])
            except ValueError:
                bad.append(b" ".join(f).decode("ascii", "replace"))
        width = len(good[0]) if good else 0
        return (np.array(rows, dtype=np.float64).reshape(-1, width), bad)


@dataclass
class FrequencyDetection:
    frequency: float
    n_axes: int
    lines: int
    seconds: float
    example: List[float]
    garbled: List[str]


def detect_frequency(read: Any, expected: Optional[float] = None,
                     clock=time.monotonic) -> FrequencyDetection:
    """Read for max(1 s, 2.5 periods of ``expected``) with ``read()`` (bytes, b"" when nothing
    arrived) and count readings, as the data forwarder does. Raises ConfigurationError with
    the forwarder's advice when nothing usable arrives or the rate is 2 Hz or less."""
    seconds = 1.0 if not expected else max(1.0, 2.5 / float(expected))
    t0 = clock()
    buf = bytearray()
    while clock() - t0 < seconds:
        buf += read()
    text = bytes(buf).translate(_SEPARATORS)
    lines = [line.split() for line in text.split(b"\n") if line.strip()]
    err = [line for line in lines if _is_error(line)]
    if err:
        raise ConfigurationError("the board reported an error: "
                                 + b" ".join(err[0]).decode("ascii", "replace"))
    if len(lines) < 2:
        raise ConfigurationError(
            "could not detect the frequency: "
            + ("only a single reading" if lines else "no readings")
            + f" in {seconds:g} s; the data forwarder can only detect frequencies above "
            f"{MIN_DETECTABLE_HZ:g} Hz - pass --frequency")
    # the most common field count is the reading's width (a cut first/last line differs)
    counts = [len(f) for f in lines]
    width = max(set(counts), key=counts.count)
    if len(lines[0]) != width:
        lines = lines[1:]
    if lines and len(lines[-1]) != width:
        lines = lines[:-1]
    good, garbled = [], []
    for f in lines:
        try:
            vals = [float(x) for x in f]
        except ValueError:
            garbled.append(b" ".join(f).decode("ascii", "replace"))
            continue
        if len(vals) == width:
            good.append(vals)
        else:
            garbled.append(b" ".join(f).decode("ascii", "replace"))
    freq = len(lines) / seconds
    if not good or freq <= MIN_DETECTABLE_HZ:
        raise ConfigurationError(
            f"could not detect the frequency ({len(good)} readings in {seconds:g} s); the data "
            f"forwarder can only detect frequencies above {MIN_DETECTABLE_HZ:g} Hz - pass "
            "--frequency")
    return FrequencyDetection(freq, width, len(lines), seconds, good[0], garbled)


@dataclass
class WindowOutput:
    """One host-side classification of the board's stream."""

    window: int                     # window number since the bridge started (all gaps)
    start_ms: float                 # start of the window, ms since the bridge started
    classification: dict
    anomaly: Optional[float]
    rows: Optional[np.ndarray] = None   # the window's readings (float64), when kept

    def to_json(self) -> dict:
        return {"window": self.window, "start_ms": round(self.start_ms, 3),
                "classification": self.classification, "anomaly": self.anomaly}


class HostInference:
    """Readings in board column order -> window results from ``Impulse.stream()``.

    ``axes`` names the board's columns (readings are float64 as parsed; the stream gets
    float32, as the runtime computes); the impulse's axes are picked from them by name (extra
    columns are ignored). :meth:`restart` begins a new stream after a gap (windows never
    straddle one); window numbers and ``start_ms`` keep counting across gaps (``start_ms`` of
    a restarted stream is offset by the time elapsed since the bridge started)."""

    def __init__(self, impulse: Any, axes: Sequence[str], variant: Optional[str] = None,
                 rows_above: Optional[float] = None):
        self.impulse = impulse
        self.axes = list(axes)
        missing = [a for a in impulse.axes if a not in self.axes]
        if missing:
            raise ConfigurationError(
                f"the impulse needs axes {', '.join(impulse.axes)} but the board's columns are "
                f"named {', '.join(self.axes)} (missing {', '.join(missing)}); name the columns "
                f"with --axes")
        self.columns = [self.axes.index(a) for a in impulse.axes]
        self._identity = self.columns == list(range(len(self.axes)))
        self.variant = variant
        #: windows whose anomaly score exceeds this carry their readings (None: never)
        self.rows_above = rows_above
        self.keep_rows = rows_above is not None
        self.W = impulse.window_samples
        self.S = impulse.window_increase_samples
        self.frequency = float(impulse.frequency)
        self.windows = 0
        self.t0 = time.monotonic()
        self._stream = impulse.stream(variant=variant)
        self._base_ms = 0.0
        self._k = 0                  # windows of the current stream
        self._held: List[np.ndarray] = []
        self._held_from = 0          # stream row of _held[0][0]

    def restart(self) -> None:
        self._stream = self.impulse.stream(variant=self.variant)
        self._base_ms = (time.monotonic() - self.t0) * 1000.0
        self._k = 0
        self._held = []
        self._held_from = 0

    def _window_rows(self, start: int) -> Optional[np.ndarray]:
        if not self._held:
            return None
        data = np.concatenate(self._held) if len(self._held) > 1 else self._held[0]
        lo = start - self._held_from
        if lo < 0 or lo + self.W > len(data):
            return None
        return data[lo:lo + self.W].copy()

    def push(self, rows: np.ndarray) -> List[WindowOutput]:
        if rows.shape[0] == 0:
            return []
        chunk = rows if self._identity else rows[:, self.columns]
        if self.keep_rows:
            self._held.append(chunk)
        results = self._stream.push(chunk.astype(np.float32))
        out = []
        for r in results:
            start = self._k * self.S
            w = r.window
            anomaly = None if w.anomaly is None else float(w.anomaly)
            wanted = self.keep_rows and anomaly is not None and anomaly > self.rows_above
            out.append(WindowOutput(
                self.windows, self._base_ms + start * 1000.0 / self.frequency,
                {k: float(v) for k, v in w.scores.items()}, anomaly,
                self._window_rows(start) if wanted else None))
            self._k += 1
            self.windows += 1
        if self.keep_rows:   # keep only what the next windows can still need
            keep_from = self._k * self.S
            while self._held and self._held_from + len(self._held[0]) <= keep_from:
                self._held_from += len(self._held.pop(0))
        return out

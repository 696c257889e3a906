"""Edge Impulse's CSV recordings: a ``timestamp`` column in milliseconds followed by one column
per axis (``timestamp,accX,accY,accZ``; a header ``accX (m/s2)`` also gives the units), the
layout of Studio's CSV export and of the CSV wizard's default. One parser for `edgert classify`,
datasets and uploads."""
from __future__ import annotations

import csv
import io
import re

import numpy as np

from ..errors import InputError
from .data import SensorAxis

_UNITS_RE = re.compile(r"^\s*(.*?)\s*\(([^)]*)\)\s*$")
#: The largest magnitude a float32 holds: values beyond it would silently become inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _rows(text: str, name: str) -> list[list[str]]:
    """The CSV's non-empty rows. Line ends are CRLF, LF or (old Mac files) CR throughout; a
    lone CR in a file whose lines end in LF is a carriage return inside a row, named with its
    line (not read as a line end that splits the row in two), and malformed CSV is never a
    ``_csv.Error``."""
    if "\n" in text:
        lone = re.search("\r(?!\n)", text)
        if lone is not None and lone.end() < len(text):
            line = text.count("\n", 0, lone.start()) + 1
            raise InputError(f"{name}: line {line} holds a carriage return (CR) inside the "
                             "row; save the file with one record per line (LF or CRLF line "
                             "ends)")
    try:
        return [r for r in csv.reader(io.StringIO(text, newline=""))
                if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        # the csv module counts physical lines itself: say which one is malformed
        line = text.count("\n", 0, _error_offset(text)) + 1
        raise InputError(f"{name}: malformed CSV near line {line} ({exc}); save the file "
                         "with one record per line (LF or CRLF line ends)") from None


def _error_offset(text: str) -> int:
    # where csv gives up: the first CR that is not followed by LF and not at the end
    for m in re.finditer("\r", text):
        nxt = text[m.end():m.end() + 1]
        if nxt not in ("\n", ""):
            return m.start()
    return len(text)


def parse_csv(data: bytes, name: str) -> tuple[np.ndarray, float, tuple[SensorAxis, ...]]:
    """Parse an Edge Impulse CSV recording: the values (rows, axes) float32, the frequency in
    Hz and the axes; ``InputError`` naming ``name`` and the line for anything else (ragged
    rows, non-numeric, non-finite or beyond-float32 values, timestamps that do not increase
    evenly)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not a UTF-8 CSV file ({exc})") from exc
    rows = _rows(text, name)
    if len(rows) < 2:
        raise InputError(f"{name}: a CSV recording needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if header[0].lower() not in ("timestamp", "time", "t", "timestamp_ms"):
        raise InputError(f"{name}: the first CSV column must be 'timestamp' (milliseconds), "
                         f"got {header[0]!r}")
    if len(header) < 2:
        raise InputError(f"{name}: the CSV has no value columns after the timestamp")
    for i, r in enumerate(rows[1:]):
        if len(r) != len(header):
            raise InputError(f"{name}: line {i + 2} has {len(r)} columns, the header has "
                             f"{len(header)}")
    try:
        arr = np.array([[float(c) for c in r] for r in rows[1:]], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{name}: non-numeric CSV value ({exc})") from exc
    if not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise InputError(f"{name}: line {row + 2} holds NaN or infinity")
    big = np.abs(arr[:, 1:]) > FLOAT32_MAX
    if big.any():
        row, col = (int(v) for v in np.argwhere(big)[0])
        raise InputError(f"{name}: line {row + 2}, column {header[col + 1]!r}: "
                         f"{arr[row, col + 1]:g} is beyond float32's range (+-{FLOAT32_MAX:.4g}), "
                         "which impulses compute in")
    ts = arr[:, 0]
    if arr.shape[0] < 2:
        raise InputError(f"{name}: a CSV recording needs at least two rows to know its "
                         "frequency")
    dt = np.diff(ts)
    if np.any(dt <= 0):
        raise InputError(f"{name}: timestamps must increase strictly")
    interval = float(np.median(dt))
    if np.max(np.abs(dt - interval)) > 0.1 * interval + 1.0:
        raise InputError(f"{name}: timestamps are not evenly spaced (intervals "
                         f"{dt.min():g}..{dt.max():g} ms); resample the data first")
    # mean interval over the whole file: robust to millisecond rounding of the timestamps
    frequency = 1000.0 * (arr.shape[0] - 1) / float(ts[-1] - ts[0])
    sensors = tuple(SensorAxis(m.group(1), m.group(2)) if (m := _UNITS_RE.match(h))
                    else SensorAxis(h, "N/A") for h in header[1:])
    return arr[:, 1:].astype(np.float32), frequency, sensors


__all__ = ["parse_csv", "FLOAT32_MAX"]

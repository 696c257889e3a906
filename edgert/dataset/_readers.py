"""Decoders of the dataset's sample files (the default reader of :class:`~.index.Dataset`).

* ``.json`` / ``.cbor``: Edge Impulse data-acquisition documents through
  :mod:`edgert.acquisition` (format checks, HS256 verification with the dataset's key).
* ``.csv``: the CSV of ``edgert.recording`` (a ``timestamp`` column in milliseconds, then one
  column per axis; timestamps strictly increasing and evenly spaced; the interval is the mean
  step over the file, robust to rounded timestamps), plus: a header ``name (units)`` gives the
  axis its SenML units (``audio (wav)``).
"""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import AcquisitionFormatError, DatasetError
from .index import SampleData

_UNITS_RE = re.compile(r"^\s*(.*?)\s*\(([^)]*)\)\s*$")


def read_sample(path: Path, data: bytes, hmac_key: Optional[bytes]) -> SampleData:
    suffix = path.suffix.lower()
    if suffix in (".json", ".cbor"):
        return read_acquisition(data, hmac_key)
    if suffix == ".csv":
        return read_csv(data)
    raise DatasetError(f"unsupported file type {suffix!r}; use .json, .cbor or .csv")


def read_acquisition(data: bytes, hmac_key: Optional[bytes]) -> SampleData:
    """JSON or CBOR, told apart by content (as the ingestion service does without a
    Content-Type), so a mis-named file still reads."""
    from ..acquisition import SignatureError, decode, verify
    ctype = None
    doc = decode(data, ctype)
    values = np.asarray(doc.values)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    values = values.astype(np.float32)
    if values.shape[0] == 0:
        raise AcquisitionFormatError("the document holds no values")
    valid = False
    if doc.alg == "HS256" and hmac_key is not None:
        try:
            valid = verify(data, hmac_key, ctype)
        except SignatureError:
            valid = False
    created = None
    if doc.iat is not None:
        created = datetime.fromtimestamp(int(doc.iat), tz=timezone.utc)
    return SampleData(
        values=values, interval_ms=float(doc.interval_ms),
        sensors=[{"name": s.name, "units": s.units} for s in doc.sensors],
        device_name=doc.device_name, device_type=doc.device_type,
        signature_valid=valid, signature_method=doc.alg, created=created)


def read_csv(data: bytes) -> SampleData:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("CSV is not UTF-8 text") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DatasetError("CSV needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise DatasetError("CSV needs a timestamp column and at least one axis column")
    if header[0].lower() not in ("timestamp", "time", "t", "timestamp_ms"):
        raise DatasetError(f"the first CSV column must be 'timestamp' (milliseconds), got "
                           f"{header[0]!r}")
    sensors: List[dict] = []
    for h in header[1:]:
        m = _UNITS_RE.match(h)
        sensors.append({"name": m.group(1), "units": m.group(2)} if m
                       else {"name": h, "units": "N/A"})
    for i, r in enumerate(rows[1:]):
        if len(r) != len(header):
            raise DatasetError(f"CSV line {i + 2} has {len(r)} columns, the header has "
                               f"{len(header)}")
    try:
        table = np.array([[float(c) for c in r] for r in rows[1:]], dtype=np.float64)
    except ValueError as exc:
        raise DatasetError(f"CSV holds a non-numeric value ({exc})") from None
    if table.ndim != 2 or table.shape[1] != len(header):
        raise DatasetError(f"CSV rows must have {len(header)} columns like the header")
    if not np.all(np.isfinite(table)):
        raise DatasetError("CSV holds NaN or infinity")
    ts = table[:, 0]
    if len(ts) < 2:
        raise DatasetError("CSV needs at least two rows to know its sampling interval")
    steps = np.diff(ts)
    if np.any(steps <= 0):
        raise DatasetError("CSV timestamps (first column, ms) must increase strictly")
    median = float(np.median(steps))
    if np.max(np.abs(steps - median)) > 0.1 * median + 1.0:
        raise DatasetError(f"CSV timestamps are not evenly spaced (intervals "
                           f"{steps.min():g}..{steps.max():g} ms); resample the data first")
    interval = float(ts[-1] - ts[0]) / (len(ts) - 1)
    return SampleData(values=table[:, 1:].astype(np.float32), interval_ms=interval,
                      sensors=sensors, device_type="CSV", signature_method=None)

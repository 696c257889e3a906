"""Decoders of the dataset's sample files (the default reader of :class:`~.index.Dataset`).

* ``.json`` / ``.cbor``: Edge Impulse data-acquisition documents through
  :mod:`edgert.acquisition` (format checks, HS256 verification with the dataset's key).
* ``.csv``: the CSV of ``edgert.recording`` (a ``timestamp`` column in milliseconds, then one
  column per axis; timestamps strictly increasing and evenly spaced; the interval is the mean
  step over the file, robust to rounded timestamps), plus: a header ``name (units)`` gives the
  axis its SenML units (``audio (wav)``).
* ``.wav``: 16-bit PCM mono audio (:mod:`edgert.wav`), one axis ``audio`` (units ``wav``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import AcquisitionFormatError, DatasetError, InputError
from ..recording import parse_csv
from .index import SampleData



def read_sample(path: Path, data: bytes, hmac_key: Optional[bytes]) -> SampleData:
    suffix = path.suffix.lower()
    if suffix in (".json", ".cbor"):
        return read_acquisition(data, hmac_key)
    if suffix == ".csv":
        return read_csv(data)
    if suffix == ".wav":
        return read_wav(data)
    raise DatasetError(f"unsupported file type {suffix!r}; use .json, .cbor, .csv or .wav")


def read_acquisition(data: bytes, hmac_key: Optional[bytes]) -> SampleData:
    """JSON or CBOR, told apart by content (as the ingestion service does without a
    Content-Type), so a mis-named file still reads."""
    from ..acquisition.signing import decode_verified
    ctype = None
    # one decode: the HS256 check hashes the same bytes at the signature's offset
    doc, checked = decode_verified(data, hmac_key, ctype)
    values = np.asarray(doc.values)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    values = values.astype(np.float32)
    if values.shape[0] == 0:
        raise AcquisitionFormatError("the document holds no values")
    valid = bool(checked)
    created = None
    if doc.iat is not None:
        created = datetime.fromtimestamp(int(doc.iat), tz=timezone.utc)
    return SampleData(
        values=values, interval_ms=float(doc.interval_ms),
        sensors=[{"name": s.name, "units": s.units} for s in doc.sensors],
        device_name=doc.device_name, device_type=doc.device_type,
        signature_valid=valid, signature_method=doc.alg, created=created)


def read_wav(data: bytes) -> SampleData:
    """A 16-bit PCM mono WAV file (the same parser as ``edgert classify`` uses)."""
    from ..wav import parse_wav
    try:
        values, rate, axis, units = parse_wav(data, "WAV")
    except InputError as exc:
        raise DatasetError(str(exc)) from None
    return SampleData(values=values, interval_ms=1000.0 / rate,
                      sensors=[{"name": axis, "units": units}], device_type="WAV",
                      signature_method=None)


def read_csv(data: bytes) -> SampleData:
    """An Edge Impulse CSV file (the same parser as ``edgert classify`` uses)."""
    try:
        values, frequency, axes = parse_csv(data, "CSV")
    except InputError as exc:
        raise DatasetError(str(exc)) from None
    return SampleData(values=values, interval_ms=1000.0 / frequency,
                      sensors=[{"name": a.name, "units": a.units} for a in axes],
                      device_type="CSV", signature_method=None)

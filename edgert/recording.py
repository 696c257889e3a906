"""Load a recording file for classification: an Edge Impulse data-acquisition document (JSON
or CBOR, decoded by :mod:`edgert.acquisition`, including the firmware's ``Ref-BINARY-i16``
audio), a CSV with a ``timestamp`` column in milliseconds followed by one column per axis
(``timestamp,accX,accY,accZ``), the layout of Studio's CSV export and of the CSV wizard's
default, or a 16-bit PCM mono WAV file (:mod:`edgert.wav`; one axis ``audio``).

The label comes from the file name as the ingestion API infers it: the leading run of
``[a-zA-Z0-9 whitespace - _]`` (``wave.01.json`` -> ``wave``).
"""
from __future__ import annotations

import csv
import re
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from .acquisition.labels import infer_label
from .errors import AcquisitionFormatError, InputError

#: The ingestion API's label inference from a file name (None when nothing matches).
label_from_filename = infer_label


@dataclass(frozen=True)
class SensorAxis:
    name: str
    units: str


@dataclass
class Recording:
    """A whole recording: ``values`` (rows, axes) float32 in the file's column order."""
    values: np.ndarray
    frequency: float
    sensors: tuple[SensorAxis, ...]
    filename: str = "recording"
    label: Optional[str] = None
    device_name: Optional[str] = None
    device_type: str = "unknown"
    signature_method: Optional[str] = None
    signature_valid: Optional[bool] = None
    sha256: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.frequency

    @property
    def length_ms(self) -> float:
        return self.values.shape[0] * 1000.0 / self.frequency


_UNITS_RE = re.compile(r"^\s*(.*?)\s*\(([^)]*)\)\s*$")


def parse_csv(data: bytes, name: str) -> tuple[np.ndarray, float, tuple[SensorAxis, ...]]:
    """Parse an Edge Impulse CSV recording: a ``timestamp`` column in milliseconds, then one
    column per axis (a header ``accX (m/s2)`` also gives the units). Returns the values
    (rows, axes) float32, the frequency in Hz and the axes; ``InputError`` naming ``name`` and
    the line for anything else (ragged rows, non-numeric or non-finite values, timestamps that
    do not increase evenly)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not a UTF-8 CSV file ({exc})") from exc
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
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
    except Exception as exc:  # ragged rows
        raise InputError(f"{name}: CSV rows have different column counts ({exc})") from exc
    if arr.ndim != 2 or arr.shape[1] != len(header):
        raise InputError(f"{name}: every CSV row must have {len(header)} columns")
    if not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise InputError(f"{name}: line {row + 2} holds NaN or infinity")
    ts = arr[:, 0]
    if arr.shape[0] < 2:
        raise InputError(f"{name}: a CSV recording needs at least two rows to know its "
                         "frequency")
    dt = np.diff(ts)
    if not np.all(np.isfinite(dt)) or np.any(dt <= 0):
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


def load_recording(path: Union[str, Path], hmac_key: Optional[str] = None,
                   label: Optional[str] = None) -> Recording:
    """Read a recording file (data-acquisition JSON/CBOR, CSV or WAV).

    ``hmac_key``: when given, an HS256 signature is verified (``signature_valid``).
    ``label``: overrides the label inferred from the file name.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:  # a directory, no permission, an I/O error: say so, no traceback
        raise InputError(f"{p}: cannot read the recording ({exc.strerror or exc})") from exc
    name = p.name
    sha = hashlib.sha256(data).hexdigest()
    inferred = label if label is not None else label_from_filename(name)
    if p.suffix.lower() == ".csv":
        values, freq, sensors = parse_csv(data, str(p))
        return Recording(values, freq, sensors, name, inferred, sha256=sha)
    from .wav import is_wav, parse_wav   # 16-bit PCM mono audio
    if p.suffix.lower() == ".wav" or is_wav(data):
        values, freq, axis, units = parse_wav(data, str(p))
        return Recording(values, freq, (SensorAxis(axis, units),), name, inferred,
                         device_type="WAV", sha256=sha)
    from . import acquisition  # JSON and CBOR data-acquisition documents
    from .acquisition.codec import decode_located, detect_format
    from .acquisition.json_codec import signature_offset_json
    from .acquisition.signing import verify_at
    try:
        # one decode (a CBOR document's signature offset comes with it; a JSON one's is found
        # by a token scan below): the HS256 check hashes the same bytes, no second decode
        doc, sig_at = decode_located(data)
    except AcquisitionFormatError as exc:
        # the decoder's message says what is wrong; the file name says where
        raise AcquisitionFormatError(f"{p}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise AcquisitionFormatError(f"{p}: not a data-acquisition document ({exc})") from exc
    values = np.asarray(doc.values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    freq = float(getattr(doc, "frequency", 0.0) or 1000.0 / float(doc.interval_ms))
    sensors = tuple(SensorAxis(s.name, s.units) for s in doc.sensors)
    valid: Optional[bool] = None
    alg = getattr(doc, "alg", None)
    if hmac_key is not None and alg and alg != "none":
        if detect_format(data) == "json":
            sig_at = signature_offset_json(data)
        if sig_at is None:
            raise acquisition.SignatureError(
                "the CBOR signature is not encoded as a 64-byte text string (78 40 + 64 hex) "
                "and cannot be verified in place")
        valid = verify_at(data, doc, sig_at, hmac_key)
    return Recording(values.astype(np.float32), freq, sensors, name, inferred,
                     device_name=getattr(doc, "device_name", None),
                     device_type=getattr(doc, "device_type", None) or "unknown",
                     signature_method=alg, signature_valid=valid, sha256=sha)


def order_columns(values: np.ndarray, have: Sequence[str], want: Sequence[str],
                  where: str = "recording") -> np.ndarray:
    """Columns of ``values`` (named ``have``) rearranged to the impulse's axes ``want``.
    Names must all be present; when the names differ entirely but the counts match, the
    columns are taken in order (Studio does the same for unnamed CSV axes)."""
    have = list(have)
    if all(w in have for w in want):
        idx = [have.index(w) for w in want]
        return np.ascontiguousarray(values[:, idx])
    if len(have) == len(want) and not any(w in have for w in want):
        return values
    missing = [w for w in want if w not in have]
    raise InputError(f"{where}: the impulse needs axes {list(want)}, the recording has "
                     f"{have} (missing {missing})")


__all__ = ["Recording", "SensorAxis", "load_recording", "label_from_filename", "parse_csv",
           "order_columns"]

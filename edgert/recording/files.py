"""Read a recording file into a :class:`~edgert.recording.data.Recording`: an Edge Impulse
data-acquisition document (JSON or CBOR, decoded and HS256-verified by
:mod:`edgert.acquisition`, including the firmware's ``Ref-BINARY-i16`` audio), a CSV
(:mod:`edgert.recording.csv_format`) or a 16-bit PCM mono WAV file
(:mod:`edgert.recording.wav`).

The label comes from the file name as the ingestion API infers it
(:func:`edgert.acquisition.labels.infer_label`: ``wave.01.json`` -> ``wave``).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..acquisition.labels import infer_label
from ..acquisition.signing import decode_verified
from ..errors import AcquisitionFormatError, InputError
from .csv_format import FLOAT32_MAX, parse_csv
from .data import Recording, SensorAxis
from .wav import is_wav, parse_wav

#: File suffixes read as WAV (so is any file that starts like a RIFF/WAVE file).
WAV_SUFFIXES = (".wav",)
#: File suffixes read as CSV; everything else is tried as a data-acquisition document (told
#: apart as JSON or CBOR by content, as the ingestion service does without a Content-Type).
CSV_SUFFIXES = (".csv",)


def read_recording(data: bytes, name: str, hmac_key: Union[str, bytes, None] = None,
                   label: Optional[str] = None, content_type: Optional[str] = None, *,
                   document: bool = False) -> Recording:
    """A recording from a file's bytes. ``name``: the file name (format by suffix, the label
    inferred from it, and the errors' prefix); ``hmac_key``: verify an HS256 signature
    (``signature_valid``); ``label``: overrides the inferred label; ``document``: always a
    data-acquisition document, whatever the suffix (what an ingestion endpoint receives,
    named by its client). Errors are
    :class:`~edgert.errors.InputError` / :class:`~edgert.errors.AcquisitionFormatError`
    naming the file and what is wrong."""
    sha = hashlib.sha256(data).hexdigest()
    base = Path(name).name
    inferred = label if label is not None else infer_label(base)
    if not document and Path(name).suffix.lower() in CSV_SUFFIXES:
        values, freq, sensors = parse_csv(data, name)
        return Recording(values, freq, sensors, base, inferred, device_type="CSV", sha256=sha)
    if Path(name).suffix.lower() in WAV_SUFFIXES or is_wav(data):
        values, freq, axis, units = parse_wav(data, name)
        return Recording(values, freq, (SensorAxis(axis, units),), base, inferred,
                         device_type="WAV", sha256=sha)
    try:
        # one decode; the HS256 check hashes the same bytes at the signature's offset
        doc, valid = decode_verified(data, hmac_key, content_type)
    except AcquisitionFormatError as exc:
        # the decoder's message says what is wrong; the file name says where
        raise AcquisitionFormatError(f"{name}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise AcquisitionFormatError(f"{name}: not a data-acquisition document ({exc})") from exc
    values = np.asarray(doc.values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.shape[0] == 0:
        raise AcquisitionFormatError(f"{name}: the document holds no values")
    sensors = tuple(SensorAxis(s.name, s.units) for s in doc.sensors)
    big = np.abs(values) > FLOAT32_MAX
    if big.any():
        row, col = (int(v) for v in np.argwhere(big)[0])
        raise InputError(f"{name}: values[{row}] of axis {sensors[col].name!r} is "
                         f"{values[row, col]:g}, beyond float32's range (+-{FLOAT32_MAX:.4g}), "
                         "which impulses compute in")
    created = (datetime.fromtimestamp(int(doc.iat), tz=timezone.utc)
               if doc.iat is not None else None)
    return Recording(values.astype(np.float32), 1000.0 / float(doc.interval_ms), sensors, base,
                     inferred, device_name=doc.device_name,
                     device_type=doc.device_type or "unknown", signature_method=doc.alg,
                     signature_valid=valid, sha256=sha, created=created)


def load_recording(path: Union[str, Path], hmac_key: Union[str, bytes, None] = None,
                   label: Optional[str] = None) -> Recording:
    """Read a recording file (data-acquisition JSON/CBOR, CSV or WAV); see
    :func:`read_recording`.
    A missing file raises ``FileNotFoundError``; a directory or unreadable file an
    ``InputError`` that says so."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:  # a directory, no permission, an I/O error: say so, no traceback
        what = "is a directory, not a recording file" if p.is_dir() else \
            f"cannot be read ({exc.strerror or exc})"
        raise InputError(f"{p}: {what}") from exc
    return read_recording(data, str(p), hmac_key, label)


__all__ = ["CSV_SUFFIXES", "WAV_SUFFIXES", "load_recording", "read_recording"]

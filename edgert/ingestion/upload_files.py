"""Files on disk made into ingestion uploads (what ``edgert ingest upload FILE...`` queues).

The ingestion API's ``/data`` endpoint takes data-acquisition documents (JSON or CBOR): those
are sent as they are - the server decides what it stores, and a document it refuses is
dead-lettered with its reason. A CSV recording (``timestamp`` in ms, then one column per axis)
is not such a document: it is read with edgert's CSV reader and converted to a
data-acquisition JSON document (signed HS256 when a key is given, else ``alg: none``) named
``<name>.json``, so its label is inferred from the same name. Everything is read and converted
before anything is queued: a directory, an unreadable file or a malformed CSV refuses the
whole upload with an error naming the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from ..acquisition import DataAcquisition, Sensor, encode_json
from ..errors import InputError
from ..recording import read_recording
from ..recording.files import CSV_SUFFIXES

__all__ = ["UploadFile", "read_upload", "read_uploads"]


@dataclass(frozen=True)
class UploadFile:
    """One file ready to queue: the ``x-file-name`` to send, the body, and where it came from
    (``converted`` when the body was made from a CSV)."""
    path: str
    filename: str
    body: bytes
    converted: bool = False


def read_upload(path: Union[str, os.PathLike], hmac_key: Optional[str] = None) -> UploadFile:
    """The upload for one file (see the module docstring). InputError naming the file for a
    directory, a missing or unreadable file, or a CSV that does not parse."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a directory; give the recording files in it "
                         f"(e.g. {p}/*.json)")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise InputError(f"{p}: the file is empty")
    if p.suffix.lower() not in CSV_SUFFIXES:
        return UploadFile(str(p), p.name, data)
    rec = read_recording(data, str(p))          # InputError naming the file and the line
    doc = DataAcquisition(device_name=None, device_type=rec.device_type,
                          interval_ms=rec.interval_ms,
                          sensors=[Sensor(s.name, s.units) for s in rec.sensors],
                          # each float32 as its shortest decimal (0.1, not 0.10000000149)
                          values=rec.values.astype(str).astype(np.float64),
                          alg="HS256" if hmac_key else "none")
    return UploadFile(str(p), p.stem + ".json", encode_json(doc, hmac_key), converted=True)


def read_uploads(paths: Sequence[Union[str, os.PathLike]],
                 hmac_key: Optional[str] = None) -> List[UploadFile]:
    """:func:`read_upload` of every path, all before anything is queued."""
    return [read_upload(p, hmac_key) for p in paths]

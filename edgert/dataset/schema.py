"""The dataset index's tables and its row type: one ``samples`` row per recording file (what
was measured from it, how it is labelled, its dates and its read error), and the
``classifications`` cache of classify-all (rows encoded by :mod:`edgert.dataset.cache_codec`).
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any, Dict, List, Optional

__all__ = ["SCHEMA", "SCHEMA_VERSION", "STUDIO_CATEGORY", "SampleRow"]

#: Studio's RawDataCategory has no ``anomaly``: the ingestion API's anomaly bucket holds data to
#: test against, so Studio clients see it as ``testing`` (its predictions carry
#: ``expectedAnomalyOutcome: anomaly``); the index and the filters keep ``anomaly``.
STUDIO_CATEGORY = {"anomaly": "testing"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    format TEXT NOT NULL,
    category TEXT NOT NULL,
    label TEXT,
    file_label TEXT,
    frequency REAL,
    interval_ms REAL,
    values_count INTEGER,
    axes_count INTEGER,
    total_length_ms REAL,
    sensors TEXT,
    sha256 TEXT NOT NULL,
    signature_valid INTEGER NOT NULL DEFAULT 0,
    signature_method TEXT,
    device_name TEXT,
    device_type TEXT,
    metadata TEXT,
    added TEXT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS samples_category ON samples(category, label);
CREATE TABLE IF NOT EXISTS classifications (
    sha256 TEXT NOT NULL,
    variant TEXT NOT NULL,
    impulse TEXT NOT NULL,
    label TEXT NOT NULL,
    summary TEXT,
    summary_values BLOB,
    detail TEXT,
    detail_values BLOB,
    error TEXT,
    created TEXT NOT NULL,
    PRIMARY KEY (sha256, variant, impulse, label)
);
"""
#: Bumped whenever the tables change; an index of another version is rebuilt (it only caches
#: what the folder holds).
SCHEMA_VERSION = 3


@dataclasses.dataclass
class SampleRow:
    """One indexed sample (a row of the ``samples`` table)."""

    id: int
    path: str
    filename: str
    format: str
    category: str
    label: Optional[str]
    file_label: Optional[str]
    frequency: Optional[float]
    interval_ms: Optional[float]
    values_count: Optional[int]
    axes_count: Optional[int]
    total_length_ms: Optional[float]
    sensors: List[Dict[str, str]]
    sha256: str
    signature_valid: bool
    signature_method: Optional[str]
    device_name: Optional[str]
    device_type: Optional[str]
    metadata: Optional[Dict[str, str]]
    added: str
    created: str
    last_modified: str
    mtime_ns: int
    size: int
    error: Optional[str]

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> "SampleRow":
        d = dict(row)
        d["sensors"] = json.loads(d["sensors"]) if d["sensors"] else []
        d["metadata"] = json.loads(d["metadata"]) if d["metadata"] else None
        d["signature_valid"] = bool(d["signature_valid"])
        return cls(**d)

    def to_studio(self, project_id: int = 1) -> Dict[str, Any]:
        """The sample object of Studio's API (seed 000 ``sample.sample``; the official client's
        ``Sample`` model), filled from the index. An unreadable file has ``processingError``
        true and its reason in ``processingErrorString``. The ``anomaly`` bucket is reported as
        category ``testing`` (Studio has no ``anomaly`` category)."""
        freq = float(self.frequency or 0.0)
        interval = float(self.interval_ms or 0.0)
        sensors = [{"index": i, "name": str(s.get("name", "")),
                    "units": str(s.get("units", "N/A"))} for i, s in enumerate(self.sensors)]
        out: Dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "signatureValidate": self.signature_valid,
            "created": self.created,
            "lastModified": self.last_modified,
            "category": STUDIO_CATEGORY.get(self.category, self.category),
            "coldstorageFilename": self.path,
            "label": self.label if self.label is not None else "",
            "intervalMs": interval,
            "frequency": freq,
            "originalIntervalMs": interval,
            "originalFrequency": freq,
            "deviceType": self.device_type or "",
            "sensors": sensors,
            "valuesCount": int(self.values_count or 0),
            "totalLengthMs": float(self.total_length_ms or 0.0),
            "added": self.added,
            "boundingBoxes": [],
            "boundingBoxesType": "object_detection",
            "chartType": "chart",
            "isDisabled": False,
            "isProcessing": False,
            "processingError": self.error is not None,
            "isCropped": False,
            "projectId": int(project_id),
            "sha256Hash": self.sha256,
            # edgeimpulse-api >= 1.96 requires the per-datastream view (one datastream here)
            "datastreams": [{"index": 0, "chartType": "chart", "intervalMs": interval,
                             "frequencyHz": freq, "sensors": sensors,
                             "valuesCount": int(self.values_count or 0),
                             "totalLengthMs": float(self.total_length_ms or 0.0)}],
        }
        if self.signature_method:
            out["signatureMethod"] = self.signature_method
        if self.device_name:
            out["deviceName"] = self.device_name
        if self.error is not None:
            out["processingErrorString"] = self.error
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


"""Ingested samples on the gateway: the ingestion endpoints store into a dataset folder (the
same :class:`~edgert.dataset.Dataset` that classify-all, the sample listing and classify v2
read), and every stored sample is scanned for anomaly events.

:class:`DatasetStore` is :class:`~edgert.ingestion.IngestionService`'s store on the gateway
(the ingestion server's :class:`~edgert.ingestion.SampleStore` keeps bodies in SQLite
instead). :class:`AnomalyScanner` classifies a stored sample once (by content) and queues its
anomaly events before the upload is answered; a sample stored but not yet scanned when the
daemon stopped is scanned at the next start, and queuing an event twice queues it once.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from ..dataset import Dataset, SampleFilter, SampleRow
from ..errors import DatasetError, EdgertError
from ..ingestion.store import DuplicateSample, NewSample
from ..recording import Recording
from ..web.logs import escape
from .anomalies import document_values

log = logging.getLogger("edgert.daemon.samples")

_SUFFIX = {"application/json": ".json", "application/cbor": ".cbor",
           "application/octet-stream": ".cbor"}


def stored_name(filename: str, content_type: str) -> str:
    """The file name in the dataset folder: the upload's name (a path reduced to its last
    part; a hidden or empty one prefixed ``sample``) with the extension of its format."""
    name = Path(str(filename).replace("\\", "/")).name.strip()
    if not name or name.startswith("."):
        name = "sample" + name
    suffix = _SUFFIX.get(content_type, ".cbor")
    if not name.lower().endswith(suffix):
        name += suffix
    return name


class AnomalyScanner:
    def __init__(self, dataset: Dataset, db: Any, classifier: Any, events: Any) -> None:
        self.dataset = dataset
        self.db = db
        self.classifier = classifier
        self.events = events

    def scan(self, row: SampleRow, rec: Optional[Recording] = None,
             body: Optional[bytes] = None) -> int:
        """Queue the anomaly events of a stored sample (once per content); the number queued.
        ``rec``/``body``: the decoded upload and its bytes when at hand (else read from the
        dataset). An outbox that is full raises (the sample stays unscanned, for the next
        start)."""
        if self.db.scanned(row.sha256):
            return 0
        try:
            if rec is None:
                rec = self.dataset.load(row)
            if body is None:
                body = (self.dataset.root / row.path).read_bytes()
            res = self.classifier.classify(rec, source="ingestion")
        except (EdgertError, OSError) as exc:
            # a sample the impulse cannot take (other sensors, too short...): stored, no events
            log.info("sample %d (%s) not scanned for anomalies: %s", row.id, escape(row.path),
                     escape(exc))
            self.db.mark_scanned(row.sha256, row.id, 0, str(exc)[:500])
            return 0
        data = body

        def values() -> Any:
            try:  # the document's own numbers (a CSV sample has only the float32 ones)
                return document_values(data)
            except EdgertError:
                return None

        events = self.events.queue(rec, res, row.path, origin="ingestion", values=values)
        self.db.mark_scanned(row.sha256, row.id, len(events))
        return len(events)

    def scan_unscanned(self, stop: Optional[threading.Event] = None) -> int:
        """Scan every stored sample not scanned yet (at start: what a crash left over)."""
        done = self.db.scanned_hashes()
        n = 0
        for row in self.dataset.query(SampleFilter(category="all")):
            if stop is not None and stop.is_set():
                break
            if row.error is not None or row.sha256 in done:
                continue
            try:
                n += self.scan(row)
            except EdgertError as exc:
                log.error("sample %d (%s): anomaly events not queued: %s", row.id,
                          escape(row.path), escape(exc))
            done.add(row.sha256)
        return n


class DatasetStore:
    """The store of :class:`~edgert.ingestion.IngestionService` on the gateway."""

    def __init__(self, dataset: Dataset,
                 scanner: Optional[Callable[[SampleRow, Optional[Recording], bytes], Any]] = None
                 ) -> None:
        self.dataset = dataset
        self.scanner = scanner
        self._lock = threading.Lock()  # duplicate check and insert are one step

    def insert(self, s: NewSample, disallow_duplicates: bool = False,
               unique_name: Optional[Callable[[str], str]] = None) -> Dict[str, Any]:
        with self._lock:
            if disallow_duplicates:
                dup = self.dataset.find_content(s.sha256)
                if dup is not None:
                    raise DuplicateSample(dup.id, dup.path)
            name = unique_name(s.filename) if unique_name is not None else s.filename
            try:
                row = self.dataset.add_sample(
                    s.body, filename=stored_name(name, s.content_type), category=s.category,
                    label=s.label, no_label=s.label is None)
            except DatasetError as exc:
                raise EdgertError(f"the gateway could not store {name!r}: {exc}") from exc
        if self.scanner is not None:
            self.scanner(row, s.recording, s.body)
        return {"id": row.id, "filename": name, "created": time.time()}

    # what the ingestion tests read from a SampleStore
    def count(self, category: Optional[str] = None) -> int:
        return self.dataset.count(SampleFilter(category=category or "all"))


__all__ = ["AnomalyScanner", "DatasetStore", "stored_name"]

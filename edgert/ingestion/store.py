"""SQLite storage of ingested samples (the local ingestion server's dataset).

One table, ``samples``, with what the gateway later needs to answer Studio-style sample
listings (``gateway-api.md``): category, file name, label, sha256, content type, the raw body as
uploaded (so the original signature can be re-verified), signature validity and method, device
name/type, interval, sensors, value count, created time. Writes are serialised by a lock; the
duplicate check and the insert happen in one transaction so two concurrent uploads of the same
content with ``x-disallow-duplicates`` store it once.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from ..recording import Recording

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    category         TEXT    NOT NULL,
    filename         TEXT    NOT NULL,
    label            TEXT,
    sha256           TEXT    NOT NULL,
    content_type     TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    size             INTEGER NOT NULL,
    signature_valid  INTEGER NOT NULL,
    signature_method TEXT,
    device_name      TEXT,
    device_type      TEXT,
    interval_ms      REAL,
    sensors          TEXT,
    values_count     INTEGER,
    created          REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_sha256 ON samples (sha256);
CREATE INDEX IF NOT EXISTS samples_category ON samples (category, id);
"""

_META_COLS = ("id", "category", "filename", "label", "sha256", "content_type", "size",
              "signature_valid", "signature_method", "device_name", "device_type",
              "interval_ms", "sensors", "values_count", "created")


@dataclass
class NewSample:
    """A validated sample ready to be stored."""

    category: str
    filename: str
    label: Optional[str]
    sha256: str
    content_type: str
    body: bytes
    signature_valid: bool
    signature_method: Optional[str] = None
    device_name: Optional[str] = None
    device_type: Optional[str] = None
    interval_ms: Optional[float] = None
    sensors: List[Dict[str, Any]] = field(default_factory=list)
    values_count: Optional[int] = None
    #: the decoded upload (not stored here; a store that needs the values takes them from it)
    recording: Optional["Recording"] = None


class DuplicateSample(Exception):
    """Raised by :meth:`SampleStore.insert` when ``disallow_duplicates`` and the hash exists."""

    def __init__(self, existing_id: int, existing_filename: str) -> None:
        super().__init__(existing_id, existing_filename)
        self.existing_id = existing_id
        self.existing_filename = existing_filename


class SampleStore:
    """Thread-safe SQLite store (``path`` may be ``":memory:"`` for tests)."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._conn = sqlite3.connect(path, timeout=60.0, isolation_level=None,
                                     check_same_thread=False)
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a 200 tells the device it may delete its copy; it must survive power loss.
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def insert(self, s: NewSample, disallow_duplicates: bool = False,
               unique_name: Optional[Any] = None) -> Dict[str, Any]:
        """Store a sample; returns its metadata. ``unique_name`` (callable taking a filename,
        returning a candidate) renames until the file name is unused (x-add-date-id)."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                if disallow_duplicates:
                    row = c.execute("SELECT id, filename FROM samples WHERE sha256=? LIMIT 1",
                                    (s.sha256,)).fetchone()
                    if row is not None:
                        raise DuplicateSample(int(row[0]), str(row[1]))
                name = s.filename
                if unique_name is not None:
                    for _ in range(100):
                        name = unique_name(s.filename)
                        if c.execute("SELECT 1 FROM samples WHERE filename=? LIMIT 1",
                                     (name,)).fetchone() is None:
                            break
                now = time.time()
                cur = c.execute(
                    "INSERT INTO samples (category, filename, label, sha256, content_type, body, "
                    "size, signature_valid, signature_method, device_name, device_type, "
                    "interval_ms, sensors, values_count, created) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (s.category, name, s.label, s.sha256, s.content_type, s.body, len(s.body),
                     int(s.signature_valid), s.signature_method, s.device_name, s.device_type,
                     s.interval_ms, json.dumps(s.sensors), s.values_count, now))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return {"id": int(cur.lastrowid), "filename": name, "created": now}

    # -- queries (used by tests and, later, the gateway's sample listing) ------------------
    def count(self, category: Optional[str] = None) -> int:
        with self._lock:
            if category is None:
                return int(self._conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
            return int(self._conn.execute("SELECT COUNT(*) FROM samples WHERE category=?",
                                          (category,)).fetchone()[0])

    def hashes(self, category: Optional[str] = None) -> List[str]:
        """sha256 of every stored sample, one entry per row (duplicates show up twice)."""
        with self._lock:
            if category is None:
                rows = self._conn.execute("SELECT sha256 FROM samples ORDER BY id").fetchall()
            else:
                rows = self._conn.execute("SELECT sha256 FROM samples WHERE category=? "
                                          "ORDER BY id", (category,)).fetchall()
        return [r[0] for r in rows]

    def list(self, category: Optional[str] = None, limit: int = 100, offset: int = 0
             ) -> List[Dict[str, Any]]:
        sql = f"SELECT {', '.join(_META_COLS)} FROM samples"
        args: Sequence[Any] = ()
        if category is not None:
            sql += " WHERE category=?"
            args = (category,)
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._conn.execute(sql, tuple(args) + (limit, offset)).fetchall()
        return [self._meta(r) for r in rows]

    def get(self, sample_id: int, with_body: bool = False) -> Optional[Dict[str, Any]]:
        cols = ", ".join(_META_COLS) + (", body" if with_body else "")
        with self._lock:
            r = self._conn.execute(f"SELECT {cols} FROM samples WHERE id=?",
                                   (sample_id,)).fetchone()
        if r is None:
            return None
        meta = self._meta(r[:len(_META_COLS)])
        if with_body:
            meta["body"] = bytes(r[-1])
        return meta

    @staticmethod
    def _meta(r: Sequence[Any]) -> Dict[str, Any]:
        d = dict(zip(_META_COLS, r))
        d["signature_valid"] = bool(d["signature_valid"])
        d["sensors"] = json.loads(d["sensors"]) if d["sensors"] else []
        return d

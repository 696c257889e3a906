"""A local dataset: a folder of recordings, indexed in SQLite.

Layout (everything optional except the recordings themselves)::

    DATASET/
      training/idle.01.json        data-acquisition document (JSON or CBOR, signed or not)
      training/idle.01.json.metadata.json   sidecar: {"site": "A", "machine": "m3"}
      testing/wave.7.cbor
      anomaly/broken-bearing.csv   CSV: timestamp (ms) column, then one column per axis
      loose.json                   not in a category folder: category from info.labels, else
                                   "training"
      info.labels                  optional manifest (Edge Impulse's export format)

* **Files**: ``*.json``, ``*.cbor`` (data acquisition, see ``spec/ingestion.md``) and
  ``*.csv`` are samples; hidden files/folders, sidecars and the manifest are not. Other files are
  ignored.
* **Category**: the manifest entry's ``category``, else the first folder of the relative path
  when it is ``training``, ``testing``, ``validation``, ``post-processing`` or ``anomaly``
  (the ingestion API's anomaly bucket), else ``training``.
* **Label**: the manifest entry's ``label`` (``{"type": "label", "label": "idle"}`` or a plain
  string; ``{"type": "unlabeled"}`` means no label), else a label the recording itself carries,
  else - like the ingestion API infers it from ``x-file-name`` - the longest prefix of the file
  name matching ``^[a-zA-Z0-9\\s-_]+`` (``idle.01.json`` -> ``idle``).
* **Metadata** (Studio's ``metadata``: string keys, string values): the manifest entry's
  ``metadata`` updated by the sidecar ``<file>.metadata.json`` (a flat JSON object; non-string
  values are stored as their JSON text).
* **Manifest** ``info.labels``: ``{"version": 1, "files": [{"path": "training/idle.01.json",
  "category": "training", "label": {"type": "label", "label": "idle"}, "metadata": {...}},
  ...]}``; paths are relative to the dataset folder.
* **Signatures**: HS256 documents are verified with the ``hmac_key`` given to
  :class:`Dataset` (``signatureValidate`` false without a key or for ``alg: none``/CSV);
  ``signatureMethod`` is the document's ``alg``.
* **Dates**: ``created`` = the document's ``protected.iat`` when present, else the file's
  modification time; ``added`` = when the index first saw the path (kept across re-indexing);
  ``lastModified`` = the file's modification time.

The index (default ``DATASET/.edgert-index.sqlite``, or any path, or ``":memory:"``; SQLite in
write-ahead-log mode, so ``-wal``/``-shm`` files sit next to it while it is open) keeps one
row per file: ``id`` (stable per path), ``filename`` (the file name without its format
extension), category, label, frequency, interval, value count, total length, sensors, SHA-256
of the file bytes (Studio: "including CBOR envelope"), signature validity/method, device
name/type, metadata, dates, and the file's mtime+size. :meth:`Dataset.refresh` re-reads only
files whose mtime or size changed (labels, categories and metadata are re-applied every time -
they live outside the files), and drops rows of deleted files. A file that cannot be read gets
a row with ``error`` set to the reason (and no measurements); nothing else is affected.

:meth:`Dataset.add_sample` stores an upload the way the ingestion API does (``x-file-name``,
``x-label``, ``x-no-label``, ``x-disallow-duplicates``; metadata to the sidecar, an explicit
label to ``info.labels``) and indexes just that file - what a gateway's ingestion endpoint needs.
The same SQLite file caches classification results (see :mod:`edgert.dataset.classify_all`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from ..acquisition.labels import infer_label
from ..recording import Recording, read_recording
from ..errors import DatasetError, EdgertError
from .filters import CATEGORIES, SampleFilter, format_date

log = logging.getLogger(__name__)

__all__ = ["Dataset", "SampleRow", "SAMPLE_SUFFIXES", "MANIFEST_NAME", "SIDECAR_SUFFIX",
           "default_reader"]

SAMPLE_SUFFIXES = (".json", ".cbor", ".csv")
MANIFEST_NAME = "info.labels"
SIDECAR_SUFFIX = ".metadata.json"
DEFAULT_INDEX_NAME = ".edgert-index.sqlite"
DEFAULT_CATEGORY = "training"
#: Studio's RawDataCategory has no ``anomaly``: the ingestion API's anomaly bucket holds data to
#: test against, so Studio clients see it as ``testing`` (its predictions carry
#: ``expectedAnomalyOutcome: anomaly``); the index and the filters keep ``anomaly``.
STUDIO_CATEGORY = {"anomaly": "testing"}

_SCHEMA = """
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
#: Decoded samples kept by :meth:`Dataset.refresh` for the classification that usually follows
#: (so a fresh classify-all decodes each file once); each is handed out once by
#: :meth:`Dataset.load`, the oldest dropped past this many bytes of values, all on close().
DECODED_CACHE_BYTES = 32 * 1024 * 1024


Reader = Callable[[Path, bytes, Optional[bytes]], Recording]


def default_reader(path: Path, data: bytes, hmac_key: Optional[bytes]) -> Recording:
    """Decode one sample file with edgert's own readers (:func:`edgert.recording.read_recording`:
    data-acquisition JSON/CBOR told apart by content, CSV by suffix). Errors are
    :class:`DatasetError` without the file name (the index prefixes the sample's path)."""
    suffix = path.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise DatasetError(f"unsupported file type {suffix!r}; use "
                           f"{', '.join(SAMPLE_SUFFIXES)}")
    try:
        return read_recording(data, path.name, hmac_key)
    except EdgertError as exc:
        raise DatasetError(str(exc).removeprefix(f"{path.name}: ")) from None


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


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _iso_from_ns(ns: int) -> str:
    return format_date(datetime.fromtimestamp(ns / 1e9, tz=timezone.utc))


def _manifest_label(entry: Dict[str, Any]) -> Tuple[bool, Optional[str]]:
    """(has_label_info, label) of a manifest entry."""
    if "label" not in entry:
        return False, None
    lab = entry["label"]
    if lab is None or isinstance(lab, str):
        return True, lab
    if isinstance(lab, dict):
        if lab.get("type") == "unlabeled":
            return True, None
        if "label" in lab:
            return True, str(lab["label"])
    raise DatasetError(f"{MANIFEST_NAME}: label of {entry.get('path')!r} must be a string or "
                       "{\"type\": \"label\", \"label\": ...}")


def _string_metadata(obj: Any, where: str) -> Dict[str, str]:
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: metadata must be a JSON object of key -> value")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}


class Dataset:
    """A folder of recordings and its SQLite index (see the module docstring for the layout).

    ``Dataset(folder)`` opens (creating if needed) the index and brings it up to date;
    ``hmac_key`` verifies HS256 signatures; ``index_path`` puts the index elsewhere (e.g. for a
    read-only folder, or ``":memory:"``); ``reader`` replaces the file decoder (tests, or a
    daemon that stores decoded samples). The object is safe to use from several threads (one
    SQLite connection guarded by a lock). Samples decoded while indexing are kept (at most
    ``DECODED_CACHE_BYTES`` of values) until :meth:`load` hands each out once, so indexing then
    classifying decodes every file once.
    """

    def __init__(self, root: Union[str, os.PathLike], *, hmac_key: Union[str, bytes, None] = None,
                 index_path: Union[str, os.PathLike, None] = None,
                 reader: Optional[Reader] = None, refresh: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a folder; a dataset is a folder of .json, "
                               ".cbor and .csv recordings (optionally in training/, testing/, "
                               "anomaly/ subfolders)")
        if isinstance(hmac_key, str):
            hmac_key = hmac_key.encode("utf-8")
        self.hmac_key: Optional[bytes] = hmac_key
        self.reader: Reader = reader or default_reader
        if index_path is None:
            index_path = self.root / DEFAULT_INDEX_NAME
        self.index_path = str(index_path)
        self._lock = threading.RLock()
        self._decoded: "OrderedDict[Tuple[str, str], Recording]" = OrderedDict()
        self._decoded_bytes = 0
        try:
            self.conn = sqlite3.connect(self.index_path, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            # The index is a cache of what the folder holds (rebuilt when lost), so commits need
            # not wait for the disk: write-ahead log + synchronous=NORMAL stays consistent after a
            # crash but does not fsync every commit. With the default (rollback journal, FULL)
            # each cached classification cost an fsync (~15 ms, 2/3 of classify-all's time) taken
            # under the dataset lock, which serialised the worker threads.
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            with self._lock, self.conn:
                version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    self.conn.execute("DROP TABLE IF EXISTS samples")
                    self.conn.execute("DROP TABLE IF EXISTS classifications")
                    self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self.conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise DatasetError(f"{self.index_path}: cannot open the dataset index ({exc}); "
                               "for a read-only folder put it elsewhere (index_path=..., "
                               "--index PATH)") from None
        if refresh:
            self.refresh()

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._decoded.clear()
            self._decoded_bytes = 0
            self.conn.close()

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- indexing ----------------------------------------------------------------------------
    def _scan(self) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name == MANIFEST_NAME:
                    continue
                if name.endswith(SIDECAR_SUFFIX):
                    continue
                if not name.lower().endswith(SAMPLE_SUFFIXES):
                    continue
                yield Path(dirpath) / name

    def _read_manifest(self) -> Dict[str, Dict[str, Any]]:
        path = self.root / MANIFEST_NAME
        if not path.exists():
            return {}
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: not a readable JSON manifest ({exc}); fix or remove "
                               "it") from None
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, list):
            raise DatasetError(f"{path}: expected {{\"version\": 1, \"files\": [...]}}")
        out = {}
        for entry in files:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                out[Path(entry["path"]).as_posix().lstrip("./")] = entry
        return out

    def _labelling(self, rel: str, path: Path, manifest: Dict[str, Dict[str, Any]],
                   recording_label: Optional[str]) -> Tuple[str, Optional[str],
                                                            Optional[Dict[str, str]]]:
        entry = manifest.get(rel, {})
        category = entry.get("category")
        if category is None:
            first = rel.split("/", 1)[0] if "/" in rel else ""
            category = first.lower() if first.lower() in CATEGORIES else DEFAULT_CATEGORY
        elif category not in CATEGORIES:
            raise DatasetError(f"{MANIFEST_NAME}: category {category!r} of {rel!r} is not one "
                               f"of {', '.join(CATEGORIES)}")
        has_label, label = _manifest_label(entry)
        if not has_label:
            label = recording_label if recording_label else infer_label(path.name)
        meta: Dict[str, str] = {}
        if "metadata" in entry and entry["metadata"] is not None:
            meta.update(_string_metadata(entry["metadata"], f"{MANIFEST_NAME} ({rel})"))
        side = path.with_name(path.name + SIDECAR_SUFFIX)
        if side.exists():
            try:
                meta.update(_string_metadata(json.loads(side.read_text(encoding="utf-8")),
                                             str(side)))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{side}: not a JSON object ({exc})") from None
        return category, label, (meta or None)

    def refresh(self) -> Dict[str, int]:
        """Bring the index up to date with the folder; returns counts
        ``{"added", "updated", "unchanged", "removed", "errors"}``."""
        manifest = self._read_manifest()
        stats = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0, "errors": 0}
        now = format_date(datetime.now(timezone.utc))
        seen = set()
        with self._lock, self.conn:
            known = {r["path"]: r for r in self.conn.execute(
                "SELECT id, path, mtime_ns, size, file_label, error FROM samples")}
            for path in self._scan():
                rel = path.relative_to(self.root).as_posix()
                seen.add(rel)
                st = path.stat()
                old = known.get(rel)
                if old is not None and old["mtime_ns"] == st.st_mtime_ns \
                        and old["size"] == st.st_size:
                    stats["unchanged"] += 1
                    # Labels/categories/metadata live outside the file: re-apply them.
                    try:
                        category, label, meta = self._labelling(rel, path, manifest,
                                                                old["file_label"])
                        self.conn.execute(
                            "UPDATE samples SET category = ?, label = ?, metadata = ? "
                            "WHERE id = ?",
                            (category, label, json.dumps(meta) if meta else None, old["id"]))
                        if old["error"] is not None:
                            stats["errors"] += 1
                    except DatasetError as exc:
                        self._set_error(old["id"], str(exc))
                        stats["errors"] += 1
                    continue
                fields = self._index_file(path, rel, st, manifest, remember=True)
                if fields.get("error"):
                    stats["errors"] += 1
                if old is None:
                    fields["added"] = now
                    cols = ", ".join(fields)
                    self.conn.execute(
                        f"INSERT INTO samples ({cols}) VALUES ({', '.join('?' * len(fields))})",
                        list(fields.values()))
                    stats["added"] += 1
                else:
                    sets = ", ".join(f"{c} = ?" for c in fields)
                    self.conn.execute(f"UPDATE samples SET {sets} WHERE id = ?",
                                      list(fields.values()) + [old["id"]])
                    stats["updated"] += 1
            for rel, old in known.items():
                if rel not in seen:
                    self.conn.execute("DELETE FROM samples WHERE id = ?", (old["id"],))
                    stats["removed"] += 1
        log.info("dataset %s: %s", self.root, stats)
        return stats

    # -- adding samples (the gateway's ingestion) ---------------------------------------------
    def add_sample(self, data: bytes, *, filename: str, category: str = "training",
                   label: Optional[str] = None, no_label: bool = False,
                   metadata: Optional[Dict[str, Any]] = None,
                   disallow_duplicates: bool = False) -> SampleRow:
        """Store one uploaded sample the way the ingestion API does and index it.

        ``filename`` is the upload's file name (``x-file-name``; a path is reduced to its
        name); a name already used in ``category`` gets ``.1``, ``.2``... before the extension;
        without a .json/.cbor/.csv extension the document's format decides (JSON or CBOR).
        ``label`` (``x-label``) is recorded in ``info.labels``; without it the label is inferred
        from the file name, and ``no_label`` (``x-no-label``) records "unlabeled". ``metadata``
        goes to the sidecar. The document is decoded (and its signature checked with the
        dataset's key) before anything is written: a malformed upload raises and stores
        nothing. ``disallow_duplicates`` (``x-disallow-duplicates``) rejects content whose
        SHA-256 is already stored."""
        if category not in CATEGORIES:
            raise DatasetError(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
        name = Path(str(filename).replace("\\", "/")).name.strip()
        if not name or name.startswith("."):
            raise DatasetError(f"file name {filename!r}: give a name that does not start "
                               "with '.'")
        if not name.lower().endswith(SAMPLE_SUFFIXES):
            name += ".json" if bytes(data[:1]) in (b"{", b" ", b"\n") else ".cbor"
        sha = hashlib.sha256(data).hexdigest()
        if disallow_duplicates:
            with self._lock:
                dup = self.conn.execute("SELECT path FROM samples WHERE sha256 = ?",
                                        (sha,)).fetchone()
            if dup is not None:
                raise DatasetError(f"the same content is already stored as {dup['path']}")
        sample = self.reader(Path(name), bytes(data), self.hmac_key)   # raises when malformed
        del sample
        folder = self.root / category
        folder.mkdir(parents=True, exist_ok=True)
        base = Path(name)
        stem, suffix = name[: -len(base.suffix)], base.suffix
        target = folder / name
        n = 0
        with self._lock:
            while target.exists() or (target.with_name(target.name + SIDECAR_SUFFIX)).exists():
                n += 1
                target = folder / f"{stem}.{n}{suffix}"
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(bytes(data))
            os.replace(tmp, target)
            rel = target.relative_to(self.root).as_posix()
            if metadata:
                side = target.with_name(target.name + SIDECAR_SUFFIX)
                side.write_text(json.dumps(_string_metadata(metadata, "metadata")) + "\n",
                                encoding="utf-8")
            if label is not None or no_label:
                self._manifest_set(rel, {"type": "unlabeled"} if no_label
                                   else {"type": "label", "label": str(label)})
            with self.conn:
                fields = self._index_file(target, rel, target.stat(), self._read_manifest())
                fields["added"] = format_date(datetime.now(timezone.utc))
                cols = ", ".join(fields)
                cur = self.conn.execute(
                    f"INSERT INTO samples ({cols}) VALUES ({', '.join('?' * len(fields))})",
                    list(fields.values()))
            return self.get(int(cur.lastrowid))

    def _manifest_set(self, rel: str, label: Dict[str, Any]) -> None:
        path = self.root / MANIFEST_NAME
        doc: Dict[str, Any] = {"version": 1, "files": []}
        if path.exists():
            doc = json.loads(path.read_text(encoding="utf-8"))
        files = [f for f in doc.get("files", []) if f.get("path") != rel]
        files.append({"path": rel, "label": label})
        doc["files"] = files
        _atomic_text(path, json.dumps(doc, indent=1) + "\n")

    def _set_error(self, sample_id: int, reason: str) -> None:
        self.conn.execute("UPDATE samples SET error = ? WHERE id = ?", (reason, sample_id))

    def _index_file(self, path: Path, rel: str, st: os.stat_result,
                    manifest: Dict[str, Dict[str, Any]], remember: bool = False
                    ) -> Dict[str, Any]:
        data = path.read_bytes()
        mtime = _iso_from_ns(st.st_mtime_ns)
        name = path.name
        stem = name[: -len(path.suffix)] if path.suffix else name
        fields: Dict[str, Any] = {
            "path": rel, "filename": stem, "format": path.suffix.lower().lstrip("."),
            "sha256": hashlib.sha256(data).hexdigest(), "created": mtime,
            "last_modified": mtime, "mtime_ns": st.st_mtime_ns, "size": st.st_size,
            "frequency": None, "interval_ms": None, "values_count": None, "axes_count": None,
            "total_length_ms": None, "sensors": None, "signature_valid": 0,
            "signature_method": None, "device_name": None, "device_type": None, "error": None,
        }
        rec_label = None
        try:
            sample = self.reader(path, data, self.hmac_key)
            n = int(sample.values.shape[0])
            fields.update({
                "frequency": float(sample.frequency),
                "interval_ms": float(sample.interval_ms),
                "values_count": n,
                "axes_count": int(sample.values.shape[1]) if sample.values.ndim == 2 else 1,
                "total_length_ms": float(n * sample.interval_ms),
                "sensors": json.dumps(sample.sensors_json()),
                "signature_valid": int(bool(sample.signature_valid)),
                "signature_method": sample.signature_method,
                "device_name": sample.device_name,
                "device_type": sample.device_type,
            })
            if sample.created is not None:
                fields["created"] = format_date(sample.created)
            rec_label = sample.label
            if remember:
                self._remember(rel, fields["sha256"], sample)
        except (EdgertError, ValueError, KeyError, TypeError, IndexError, OSError) as exc:
            fields["error"] = f"{rel}: {exc}"
            # INFO, not WARNING: the reason is kept in the index and reported with the results
            log.info("dataset: cannot read %s: %s", rel, exc)
        try:
            category, label, meta = self._labelling(rel, path, manifest, rec_label)
        except DatasetError as exc:
            category, label, meta = DEFAULT_CATEGORY, infer_label(name), None
            fields["error"] = fields["error"] or str(exc)
        fields.update({"category": category, "label": label, "file_label": rec_label,
                       "metadata": json.dumps(meta) if meta else None})
        return fields

    def _remember(self, rel: str, sha256: str, sample: Recording) -> None:
        """Keep a sample decoded by the default reader while indexing, for :meth:`load`
        (bounded by DECODED_CACHE_BYTES; a custom reader's output is not kept)."""
        size = int(getattr(sample.values, "nbytes", 0))
        if self.reader is not default_reader or not 0 < size <= DECODED_CACHE_BYTES:
            return
        with self._lock:
            old = self._decoded.pop((rel, sha256), None)
            if old is not None:
                self._decoded_bytes -= int(old.values.nbytes)
            self._decoded[(rel, sha256)] = sample
            self._decoded_bytes += size
            while self._decoded_bytes > DECODED_CACHE_BYTES:
                _, gone = self._decoded.popitem(last=False)
                self._decoded_bytes -= int(gone.values.nbytes)

    # -- queries -----------------------------------------------------------------------------
    def count(self, flt: Optional[SampleFilter] = None) -> int:
        flt = flt or SampleFilter()
        with self._lock:
            where, params = flt.register(self.conn)
            return int(self.conn.execute(f"SELECT count(*) FROM samples WHERE {where}",
                                         params).fetchone()[0])

    def query(self, flt: Optional[SampleFilter] = None, *, limit: Optional[int] = None,
              offset: int = 0) -> List[SampleRow]:
        """Samples matching ``flt``, ordered by id, ``limit``/``offset`` applied."""
        flt = flt or SampleFilter()
        if limit is not None and int(limit) < 0:
            raise DatasetError(f"limit: {limit} is negative")
        if int(offset) < 0:
            raise DatasetError(f"offset: {offset} is negative")
        with self._lock:
            where, params = flt.register(self.conn)
            sql = f"SELECT * FROM samples WHERE {where} ORDER BY id LIMIT ? OFFSET ?"
            big = 2**63 - 1     # SQLite's largest integer; a larger limit/offset means as much
            lim = -1 if limit is None else min(int(limit), big)
            rows = self.conn.execute(sql, params + [lim, min(int(offset), big)]).fetchall()
        return [SampleRow.from_sql(r) for r in rows]

    def get(self, sample_id: int) -> SampleRow:
        with self._lock:
            row = self.conn.execute("SELECT * FROM samples WHERE id = ?",
                                    (int(sample_id),)).fetchone()
        if row is None:
            raise DatasetError(f"no sample with id {sample_id} in {self.root}")
        return SampleRow.from_sql(row)

    def find_content(self, sha256: str) -> Optional[SampleRow]:
        """The first sample whose file has this SHA-256, or None (an upload's duplicate
        check)."""
        with self._lock:
            row = self.conn.execute("SELECT * FROM samples WHERE sha256 = ? ORDER BY id "
                                    "LIMIT 1", (sha256,)).fetchone()
        return None if row is None else SampleRow.from_sql(row)

    def errors(self) -> List[SampleRow]:
        """Samples whose file could not be read (``error`` holds the reason)."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT * FROM samples WHERE error IS NOT NULL ORDER BY id").fetchall()
        return [SampleRow.from_sql(r) for r in rows]

    def __len__(self) -> int:
        return self.count()

    def load(self, row: Union[SampleRow, int], *, verify: bool = False) -> Recording:
        """Decode a sample's file again (for classification). The signature was checked when
        the file was indexed (``row.signature_valid``); ``verify=True`` checks it again (the
        returned ``signature_valid``). Raises :class:`DatasetError` when the file is
        unreadable, changed since indexing (SHA-256), or gone."""
        if not isinstance(row, SampleRow):
            row = self.get(row)
        path = self.root / row.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatasetError(f"{row.path}: cannot read ({exc.strerror}); run refresh()") \
                from None
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise DatasetError(f"{row.path}: changed since it was indexed; run refresh()")
        if row.error is not None:
            raise DatasetError(row.error)
        if not verify:
            with self._lock:
                kept = self._decoded.pop((row.path, row.sha256), None)
                if kept is not None:
                    self._decoded_bytes -= int(kept.values.nbytes)
            if kept is not None:
                # decoded from these very bytes (same SHA-256) when indexing; as a reader
                # without the key returns it: the signature not checked (None)
                return dataclasses.replace(kept, signature_valid=None)
        try:
            return self.reader(path, data, self.hmac_key if verify else None)
        except (EdgertError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise DatasetError(f"{row.path}: {exc}") from exc

    # -- classification cache (used by edgert.dataset.classify_all) -----------------------------------
    def cache_get(self, sha256: str, variant: str, impulse: str, label: str, *,
                  detail: bool = False) -> Optional[Tuple[Optional[Dict[str, Any]],
                                                          Optional[str]]]:
        """A cached classification: ``(summary, error)``, or None when not cached. The
        summary holds the per-window arrays; with ``detail=True`` it also holds
        ``classifications`` (Studio's objects, stored apart because only a page needs them)."""
        cols = "summary, summary_values, error" + (", detail, detail_values" if detail else "")
        with self._lock:
            row = self.conn.execute(
                f"SELECT {cols} FROM classifications WHERE sha256 = ? AND variant = ? "
                "AND impulse = ? AND label = ?", (sha256, variant, impulse, label)).fetchone()
        if row is None:
            return None
        if row["summary"] is None:
            return None, row["error"]
        summary = _unpack_summary(row["summary"], row["summary_values"])
        if detail:
            summary["classifications"] = (_unpack_detail(row["detail"], row["detail_values"])
                                          if row["detail"] else [])
        return summary, row["error"]

    def cache_put(self, sha256: str, variant: str, impulse: str, label: str,
                  summary: Optional[Dict[str, Any]], detail: Optional[Any],
                  error: Optional[str]) -> None:
        self.cache_write([self.cache_entry(sha256, variant, impulse, label, summary, detail,
                                           error)])

    @staticmethod
    def cache_entry(sha256: str, variant: str, impulse: str, label: str,
                    summary: Optional[Dict[str, Any]], detail: Optional[Any],
                    error: Optional[str]) -> Tuple[Any, ...]:
        """One cache row, encoded (no lock, no SQLite: worker threads call this) for
        :meth:`cache_write`. Raises ValueError for NaN/Infinity (the page JSON cannot hold
        them)."""
        text, values = (None, None) if detail is None else _pack_detail(detail)
        s_text, s_values = (None, None) if summary is None else _pack_summary(summary)
        return (sha256, variant, impulse, label, s_text, s_values, text, values, error,
                format_date(datetime.now(timezone.utc)))

    def cache_write(self, entries: List[Tuple[Any, ...]]) -> None:
        """Store rows from :meth:`cache_entry`, all in one transaction."""
        if not entries:
            return
        with self._lock, self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO classifications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                entries)

    def cache_clear(self) -> None:
        """Forget every cached classification (they are keyed by content, variant and bundle
        fingerprint, so this is only needed to reclaim space or force a re-run)."""
        with self._lock, self.conn:
            self.conn.execute("DELETE FROM classifications")


#: Marks a ``result`` list stored as a float64 block in ``detail_values``.
_PACKED = "$packedColumns"


def _pack_detail(detail: Any) -> Tuple[str, Optional[bytes]]:
    """Studio's classification objects as (JSON, float64 bytes): each block's ``result`` (one
    ``{key: float}`` object per window, the bulk of it) is stored as a column matrix - JSON
    writing every float's shortest repr was most of a fresh classify-all's cache cost. A
    ``result`` may also be given as ``(keys, (n, keys) float matrix)`` (classify-all's compact
    form, :meth:`edgert.runtime.results.ClassificationResult.window_columns`). Floats round-trip
    exactly; anything not of that shape stays plain JSON; NaN/Infinity raise ValueError as
    ``json.dumps(allow_nan=False)`` does."""
    if not isinstance(detail, list):
        return json.dumps(detail, allow_nan=False), None
    out: List[Any] = []
    blocks: List[np.ndarray] = []
    for c in detail:
        res = c.get("result") if type(c) is dict else None
        keys, m = None, None
        if type(res) is tuple:
            keys, m = list(res[0]), np.asarray(res[1], dtype=np.float64)
        # C-level passes (map/set), not a Python loop per window: the same keys in the same
        # order in every window object, and every value a float
        elif type(res) is list and res and set(map(type, res)) == {dict} \
                and len(set(map(tuple, res))) == 1 and res[0]:
            rows = list(map(list, map(dict.values, res)))
            if set(map(type, itertools.chain.from_iterable(rows))) == {float}:
                keys, m = list(res[0]), np.array(rows, dtype=np.float64)
        spans = _window_spans(c.get("expectedLabels") if type(c) is dict else None)
        if m is None and spans is None:
            out.append(c)
            continue
        c = dict(c)
        if m is not None:
            if not np.isfinite(m).all():
                raise ValueError("Out of range float values are not JSON compliant")
            c["result"] = {_PACKED: keys, "rows": int(m.shape[0])}
            blocks.append(m.ravel())
        if spans is not None:
            label, ints = spans
            c["expectedLabels"] = {_PACKED_SPANS: label, "rows": int(ints.shape[0])}
            blocks.append(ints.ravel().view(np.float64))   # int64 bits, restored as such
        out.append(c)
    if not blocks:
        return json.dumps(detail, allow_nan=False), None
    return json.dumps(out, allow_nan=False), np.concatenate(blocks).tobytes()


#: Marks an ``expectedLabels`` list stored as (startIndex, endIndex) int64 pairs.
_PACKED_SPANS = "$packedSpans"
_SPAN_KEYS = ("startIndex", "endIndex", "label")


def _window_spans(spans: Any) -> Optional[Tuple[str, np.ndarray]]:
    """``expectedLabels`` (``{startIndex, endIndex, label}`` per window, one label) as
    (label, (n, 2) int64), or None when it is not exactly that."""
    if type(spans) is not list or not spans or set(map(type, spans)) != {dict} \
            or set(map(tuple, spans)) != {_SPAN_KEYS}:
        return None
    labels = {d["label"] for d in spans}
    if len(labels) != 1 or type(next(iter(labels))) is not str:
        return None
    starts = [d["startIndex"] for d in spans]
    ends = [d["endIndex"] for d in spans]
    if set(map(type, starts)) != {int} or set(map(type, ends)) != {int}:
        return None
    try:
        ints = np.array([starts, ends], dtype=np.int64).T.copy()
    except OverflowError:
        return None
    return next(iter(labels)), ints


def expand_detail(detail: Any) -> Any:
    """Classification objects with any compact ``(keys, matrix)`` result turned into the
    per-window objects (the form :meth:`Dataset.cache_get` returns)."""
    if not isinstance(detail, list):
        return detail
    out = []
    for c in detail:
        res = c.get("result") if type(c) is dict else None
        if type(res) is tuple:
            keys = list(res[0])
            c = dict(c, result=[dict(zip(keys, r)) for r in
                                np.asarray(res[1], dtype=np.float64).tolist()])
        out.append(c)
    return out


def _unpack_detail(text: str, values: Optional[bytes]) -> Any:
    detail = json.loads(text)
    if values is None:
        return detail
    flat = np.frombuffer(values, dtype=np.float64)
    at = 0
    for c in detail:
        res = c.get("result") if type(c) is dict else None
        if type(res) is dict and _PACKED in res:
            keys, n = res[_PACKED], int(res["rows"])
            block = flat[at:at + n * len(keys)].reshape(n, len(keys)).tolist()
            at += n * len(keys)
            c["result"] = [dict(zip(keys, r)) for r in block]
        spans = c.get("expectedLabels") if type(c) is dict else None
        if type(spans) is dict and _PACKED_SPANS in spans:
            label, n = spans[_PACKED_SPANS], int(spans["rows"])
            pairs = flat[at:at + 2 * n].view(np.int64).reshape(n, 2).tolist()
            at += 2 * n
            c["expectedLabels"] = [{"startIndex": a, "endIndex": b, "label": label}
                                   for a, b in pairs]
    return detail


def _float_array(v: Any) -> Optional[np.ndarray]:
    """``v`` as a float64 array when it is a non-empty list of floats or of equally long
    non-empty lists of floats (checked in C-level passes), else None."""
    if type(v) is not list or not v:
        return None
    kinds = set(map(type, v))
    if kinds == {float}:
        arr = np.array(v, dtype=np.float64)
    elif kinds == {list} and len(set(map(len, v))) == 1 and v[0] \
            and set(map(type, itertools.chain.from_iterable(v))) == {float}:
        arr = np.array(v, dtype=np.float64)
    else:
        return None
    if not np.isfinite(arr).all():
        raise ValueError("Out of range float values are not JSON compliant")
    return arr


def _pack_summary(summary: Dict[str, Any]) -> Tuple[str, Optional[bytes]]:
    """The cached per-window arrays as (JSON, float64 bytes): top-level lists of floats (or
    of rows of floats) go to the bytes, exactly, everything else stays JSON."""
    out: Dict[str, Any] = {}
    blocks: List[np.ndarray] = []
    for k, v in summary.items():
        arr = _float_array(v)
        if arr is None:
            out[k] = v
        else:
            out[k] = {_PACKED: list(arr.shape)}
            blocks.append(arr.ravel())
    if not blocks:
        return json.dumps(summary, allow_nan=False), None
    return json.dumps(out, allow_nan=False), np.concatenate(blocks).tobytes()


def _unpack_summary(text: str, values: Optional[bytes]) -> Dict[str, Any]:
    summary = json.loads(text)
    if values is None:
        return summary
    flat = np.frombuffer(values, dtype=np.float64)
    at = 0
    for k, v in summary.items():
        if type(v) is dict and _PACKED in v:
            shape = [int(n) for n in v[_PACKED]]
            size = int(np.prod(shape))
            summary[k] = flat[at:at + size].reshape(shape).tolist()
            at += size
    return summary

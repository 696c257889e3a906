"""A local dataset: a folder of recordings, indexed in SQLite.

Layout (everything optional except the recordings themselves)::

    DATASET/
      training/idle.01.json        data-acquisition document (JSON or CBOR, signed or not)
      training/idle.01.json.metadata.json   sidecar: {"site": "A", "machine": "m3"}
      testing/wave.7.cbor
      anomaly/broken-bearing.csv   CSV: timestamp (ms) column, then one column per axis
      training/yes.3.wav           16-bit PCM mono WAV (one axis: audio)
      loose.json                   not in a category folder: category from info.labels, else
                                   "training"
      info.labels                  optional manifest (Edge Impulse's export format)

* **Files**: ``*.json``, ``*.cbor`` (data acquisition, see ``spec/ingestion.md``), ``*.csv``
  and ``*.wav`` are samples; hidden files/folders, sidecars and the manifest are not. Other
  files are ignored.
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

The index (default: a file in the user's cache folder, ``$XDG_CACHE_HOME/edgert/datasets/``,
``~/.cache/edgert/datasets/`` without it - never inside the dataset folder, which may be a
checkout or read-only; or any path, or ``":memory:"``; SQLite in write-ahead-log mode, so
``-wal``/``-shm`` files sit next to it while it is open) keeps one
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

The pieces live in their own modules: the tables and row type (:mod:`.schema`), the labelling
rules and manifest (:mod:`.manifest`), file decoding (:mod:`.decoding`), uploads
(:mod:`.uploads`) and the result cache's codec (:mod:`.cache_codec`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

from ..acquisition.labels import infer_label
from ..recording import Recording
from ..errors import DatasetError, EdgertError
from .cache_codec import pack_detail, pack_summary, unpack_detail, unpack_summary
from .decoding import (DECODED_CACHE_BYTES, SAMPLE_SUFFIXES, DecodedSamples, Reader,
                       default_reader)
from .filters import SampleFilter, format_date
from .manifest import (DEFAULT_CATEGORY, MANIFEST_NAME, SIDECAR_SUFFIX, labelling,
                       read_manifest)
from .schema import SCHEMA, SCHEMA_VERSION, SampleRow
from .uploads import store_upload

log = logging.getLogger(__name__)

__all__ = ["Dataset", "SampleRow", "SAMPLE_SUFFIXES", "MANIFEST_NAME", "SIDECAR_SUFFIX",
           "default_reader", "default_index_path", "DECODED_CACHE_BYTES"]


def default_index_path(root: Union[str, os.PathLike]) -> Path:
    """Where a dataset's index goes when no path is given: the user's cache folder
    (``$XDG_CACHE_HOME/edgert/datasets``, else ``~/.cache/edgert/datasets``), one file per
    dataset folder, named after the folder and a hash of its absolute path - never inside the
    folder itself (a checkout, a read-only mount, someone else's data)."""
    folder = Path(root).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or ""
    cache = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    digest = hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in folder.name)[:60]
    return cache / "edgert" / "datasets" / f"{safe or 'dataset'}-{digest}.sqlite"


def _iso_from_ns(ns: int) -> str:
    return format_date(datetime.fromtimestamp(ns / 1e9, tz=timezone.utc))


@dataclasses.dataclass(frozen=True)
class FileToIndex:
    """A file of the folder that :meth:`Dataset.refresh` must (re)index."""
    path: Path
    rel: str
    mtime_ns: int
    size: int


#: What indexing a file yields: the file, its content-dependent index fields (no category,
#: label or metadata: those come from outside the file) and, when decoded here, the sample.
IndexedFile = Tuple[FileToIndex, Dict[str, Any], Optional[Recording]]
#: ``refresh(indexer=...)``: computes :data:`IndexedFile` for many files (e.g. on a cluster).
Indexer = Callable[[Sequence[FileToIndex]], Iterable[IndexedFile]]


def file_fields(f: FileToIndex, data: bytes, reader: Reader, hmac_key: Optional[bytes]
                ) -> Tuple[Dict[str, Any], Optional[Recording]]:
    """The index fields that depend on a file's bytes (format, SHA-256, measurements,
    signature; ``error`` when it cannot be decoded) and the decoded sample (None then). Pure:
    runs wherever the bytes are (a Dask worker, see :mod:`edgert.dataset.distributed`)."""
    mtime = _iso_from_ns(f.mtime_ns)
    name = f.path.name
    stem = name[: -len(f.path.suffix)] if f.path.suffix else name
    fields: Dict[str, Any] = {
        "path": f.rel, "filename": stem, "format": f.path.suffix.lower().lstrip("."),
        "sha256": hashlib.sha256(data).hexdigest(), "created": mtime,
        "last_modified": mtime, "mtime_ns": f.mtime_ns, "size": f.size,
        "frequency": None, "interval_ms": None, "values_count": None, "axes_count": None,
        "total_length_ms": None, "sensors": None, "signature_valid": 0,
        "signature_method": None, "device_name": None, "device_type": None, "error": None,
        "file_label": None,
    }
    try:
        sample = reader(f.path, data, hmac_key)
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
            "file_label": sample.label,
        })
        if sample.created is not None:
            fields["created"] = format_date(sample.created)
        return fields, sample
    except (EdgertError, ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        fields["error"] = f"{f.rel}: {exc}"
        # INFO, not WARNING: the reason is kept in the index and reported with the results
        log.info("dataset: cannot read %s: %s", f.rel, exc)
        return fields, None


class Dataset:
    """A folder of recordings and its SQLite index (see the module docstring for the layout).

    ``Dataset(folder)`` opens (creating if needed) the index and brings it up to date;
    ``hmac_key`` verifies HS256 signatures; ``index_path`` is where the index lives (default
    :func:`default_index_path`, in the user's cache folder; or ``":memory:"``); ``reader``
    replaces the file decoder (tests, or a daemon that stores decoded samples). The object is
    safe to use from several threads (one SQLite connection guarded by a lock). Samples decoded
    while indexing are kept (at most ``DECODED_CACHE_BYTES`` of values) until :meth:`load` hands
    each out once, so indexing then classifying decodes every file once.
    """

    def __init__(self, root: Union[str, os.PathLike], *, hmac_key: Union[str, bytes, None] = None,
                 index_path: Union[str, os.PathLike, None] = None,
                 reader: Optional[Reader] = None, refresh: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a folder; a dataset is a folder of .json, "
                               ".cbor, .csv and .wav recordings (optionally in training/, "
                               "testing/, anomaly/ subfolders)")
        if isinstance(hmac_key, str):
            hmac_key = hmac_key.encode("utf-8")
        self.hmac_key: Optional[bytes] = hmac_key
        self.reader: Reader = reader or default_reader
        if index_path is None:
            index_path = default_index_path(self.root)
            try:
                index_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatasetError(f"{index_path.parent}: cannot create the cache folder for "
                                   f"the dataset index ({exc.strerror or exc}); give a path "
                                   "(index_path=..., --index PATH)") from None
        self.index_path = str(index_path)
        self._lock = threading.RLock()
        self._decoded = DecodedSamples()
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
                self.conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise DatasetError(f"{self.index_path}: cannot open the dataset index ({exc}); "
                               "give another path (index_path=..., --index PATH)") from None
        if refresh:
            self.refresh()

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._decoded.clear()
            self.conn.close()

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def lock(self) -> threading.RLock:
        """The lock guarding the SQLite connection and the folder's writes."""
        return self._lock

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

    def refresh(self, indexer: Optional[Indexer] = None) -> Dict[str, int]:
        """Bring the index up to date with the folder; returns counts
        ``{"added", "updated", "unchanged", "removed", "errors"}``. ``indexer`` computes the
        new and changed files' fields elsewhere (e.g. on Dask workers); by default they are
        read and decoded here, and the decoded samples kept for :meth:`load`."""
        manifest = read_manifest(self.root)
        stats = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0, "errors": 0}
        now = format_date(datetime.now(timezone.utc))
        seen = set()
        with self._lock, self.conn:
            known = {r["path"]: r for r in self.conn.execute(
                "SELECT id, path, mtime_ns, size, file_label, error FROM samples")}
            todo: List[FileToIndex] = []
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
                        category, label, meta = labelling(rel, path, manifest, old["file_label"])
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
                todo.append(FileToIndex(path, rel, st.st_mtime_ns, st.st_size))
            for f, fields, sample in (indexer or self._index_here)(todo):
                if sample is not None:
                    self._remember(f.rel, fields["sha256"], sample)
                fields = self._with_labelling(f, fields, manifest)
                if fields.get("error"):
                    stats["errors"] += 1
                old = known.get(f.rel)
                if old is None:
                    fields["added"] = now
                    self._insert(fields)
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

    def _index_here(self, files: Sequence[FileToIndex]) -> Iterator[IndexedFile]:
        for f in files:
            fields, sample = file_fields(f, f.path.read_bytes(), self.reader, self.hmac_key)
            yield f, fields, sample

    # -- adding samples (the gateway's ingestion) ---------------------------------------------
    def add_sample(self, data: bytes, *, filename: str, category: str = "training",
                   label: Optional[str] = None, no_label: bool = False,
                   metadata: Optional[Dict[str, Any]] = None,
                   disallow_duplicates: bool = False) -> SampleRow:
        """Store one uploaded sample the way the ingestion API does and index it.

        ``filename`` is the upload's file name (``x-file-name``; a path is reduced to its
        name; control characters or more than :data:`~edgert.dataset.uploads.MAX_NAME_BYTES`
        bytes are a DatasetError); a name already used in ``category`` gets ``.1``,
        ``.2``... before the extension; without a .json/.cbor/.csv/.wav extension the document's
        format decides (JSON or CBOR). ``label`` (``x-label``) is recorded in
        ``info.labels``; without it the label is inferred from the file name, and
        ``no_label`` (``x-no-label``) records "unlabeled". ``metadata`` goes to the sidecar.
        The document is decoded (and its signature checked with the dataset's key) before
        anything is written: a malformed upload raises and stores nothing.
        ``disallow_duplicates`` (``x-disallow-duplicates``) rejects content whose SHA-256 is
        already stored."""
        return store_upload(self, data, filename=filename, category=category, label=label,
                            no_label=no_label, metadata=metadata,
                            disallow_duplicates=disallow_duplicates)

    def index_new_file(self, path: Path, rel: str, added: str,
                       sample: Optional[Recording] = None) -> SampleRow:
        """Index one file just written into the folder (a new row); its row. ``sample``: the
        file's content as this dataset's reader decoded it (an upload checked before it was
        written), so it is not decoded again."""
        reader = self.reader if sample is None else (lambda _path, _data, _key: sample)
        with self._lock:
            with self.conn:
                st = path.stat()
                f = FileToIndex(path, rel, st.st_mtime_ns, st.st_size)
                fields, _ = file_fields(f, path.read_bytes(), reader, self.hmac_key)
                fields = self._with_labelling(f, fields, read_manifest(self.root))
                fields["added"] = added
                cur = self._insert(fields)
            return self.get(int(cur.lastrowid))

    def _set_error(self, sample_id: int, reason: str) -> None:
        self.conn.execute("UPDATE samples SET error = ? WHERE id = ?", (reason, sample_id))

    def _insert(self, fields: Dict[str, Any]) -> sqlite3.Cursor:
        """Insert a new sample row (caller holds the lock and the transaction)."""
        cols = ", ".join(fields)
        return self.conn.execute(
            f"INSERT INTO samples ({cols}) VALUES ({', '.join('?' * len(fields))})",
            list(fields.values()))

    @staticmethod
    def _with_labelling(f: FileToIndex, fields: Dict[str, Any],
                        manifest: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
        """``fields`` with the category, label and metadata from outside the file (folder,
        manifest, sidecar)."""
        try:
            category, label, meta = labelling(f.rel, f.path, manifest, fields["file_label"])
        except DatasetError as exc:
            category, label, meta = DEFAULT_CATEGORY, infer_label(f.path.name), None
            fields["error"] = fields["error"] or str(exc)
        fields.update({"category": category, "label": label,
                       "metadata": json.dumps(meta) if meta else None})
        return fields

    def _remember(self, rel: str, sha256: str, sample: Recording) -> None:
        """Keep a sample decoded by the default reader while indexing, for :meth:`load`
        (bounded by DECODED_CACHE_BYTES; a custom reader's output is not kept)."""
        if self.reader is default_reader:
            self._decoded.keep(rel, sha256, sample)

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
            kept = self._decoded.take(row.path, row.sha256)
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
        summary = unpack_summary(row["summary"], row["summary_values"])
        if detail:
            summary["classifications"] = (unpack_detail(row["detail"], row["detail_values"])
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
        text, values = (None, None) if detail is None else pack_detail(detail)
        s_text, s_values = (None, None) if summary is None else pack_summary(summary)
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

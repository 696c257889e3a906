"""The daemon's own SQLite database (``--db``): live classification results, webhook
deliveries, Studio jobs, cached long classifications and the anomaly scans of ingested samples.

One connection in WAL mode with ``synchronous=NORMAL``, guarded by a lock (the methods are
called from worker threads, never from the event loop): a commit survives the daemon being
killed (``kill -9``, a crash, a restart); the last commits before a power cut may be lost. What
must survive a power cut - the anomaly events on their way upstream - lives in the outbox
(``synchronous=FULL``).

Tables:

``results``
    one row per ``POST /api/classify``: ``status`` (``accepted``, ``in-progress``, ``done``,
    ``error``), the request body while it waits (async), the result object (JSON) when done.
``webhook_deliveries``
    one row per (result, URL): ``pending`` / ``sent`` / ``failed``, attempts, next attempt,
    last error.
``jobs``
    Studio jobs (classify-all, classification of a long sample): progress, finished, success.
``sample_classifications``
    classify v2 documents of long samples, computed by a job, answered on the repeated call.
``scans``
    ingested samples (by SHA-256) whose anomaly windows were looked for and queued.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import ConfigurationError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    accepted_ts REAL NOT NULL,
    created_at  TEXT NOT NULL,
    body        BLOB,
    content_type TEXT,
    request     TEXT,
    result      TEXT
);
CREATE INDEX IF NOT EXISTS results_status ON results (status, accepted_ts);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    result_id       TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    last_status     INTEGER,
    created         REAL NOT NULL,
    finished        REAL,
    UNIQUE (result_id, url)
);
CREATE INDEX IF NOT EXISTS webhook_due ON webhook_deliveries (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    params      TEXT NOT NULL,
    created     REAL NOT NULL,
    started     REAL,
    finished    REAL,
    success     INTEGER,
    error       TEXT,
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key, id);
CREATE TABLE IF NOT EXISTS sample_classifications (
    key     TEXT PRIMARY KEY,
    doc     TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
    sha256     TEXT PRIMARY KEY,
    sample_id  INTEGER,
    scanned_at REAL NOT NULL,
    events     INTEGER NOT NULL,
    error      TEXT
);
"""

RESULT_STATES = ("accepted", "in-progress", "done", "error")
log = logging.getLogger("edgert.daemon.db")
#: Results the background writer takes per round at most, how many rows its statements write
#: (5 parameters each: within SQLite's oldest limit of 999), and how long it lets a burst
#: gather before writing. ``_UPSERT[1]`` is also :meth:`GatewayDB.finish`'s statement.
_BATCH = 256
_CHUNKS = (64, 16, 4, 1)
_UPSERT = {n: "INSERT INTO results (id, status, accepted_ts, created_at, result) VALUES "
              + ",".join(["(?, ?, ?, ?, ?)"] * n)
              + " ON CONFLICT(id) DO UPDATE SET status=excluded.status, result=excluded.result,"
              " body=NULL" for n in _CHUNKS}
_GATHER_S = 0.005


class GatewayDB:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(path, timeout=30.0, isolation_level=None,
                                         check_same_thread=False)
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal" and path != ":memory:":
                raise ConfigurationError(f"{path}: cannot use WAL journaling (got {mode}); "
                                         "put the database on a local filesystem")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # a small page cache (SQLite's default is 2 MB per connection): the rows written
            # are rarely read again, and a gateway's memory is better spent elsewhere
            self._conn.execute("PRAGMA cache_size=-512")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(f"{path}: cannot open the daemon database ({exc})") \
                from None
        self._lock = threading.Lock()
        # finished synchronous results are written by one thread, many per transaction: it
        # wakes for the first, waits a moment for more, and writes them all at once
        self._pending: Dict[str, Tuple[str, bytes, str]] = {}
        self._order: List[str] = []
        self._first_at = 0.0  # (monotonic) when the oldest result in _order was added
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="edgert-results",
                                        daemon=True)
        self._writer.start()

    def close(self) -> None:
        """Write what is pending, then close."""
        self._closing = True
        self._wake.set()
        self._writer.join(30.0)
        with self._lock:
            self._conn.close()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            if not self._closing:
                time.sleep(_GATHER_S)  # let a burst gather into one transaction
            self._wake.clear()
            with self._pending_lock:
                ids, self._order = self._order, []
            for k in range(0, len(ids), _BATCH):
                self._write(ids[k:k + _BATCH])
            if self._closing:
                with self._pending_lock:
                    left = bool(self._order)
                if not left:
                    return

    def _write(self, ids: List[str]) -> None:
        if not ids:
            return
        with self._pending_lock:
            rows = [(rid,) + self._pending[rid] for rid in ids]
        now = time.time()
        try:
            with self._lock:
                # a statement per chunk of _CHUNKS rows (atomic on its own): every step into
                # SQLite lets go of the GIL, and taking it back from a busy event loop thread
                # costs that thread a switch - a statement per row would cost one per result;
                # a few fixed sizes keep the prepared statements few (each is cached)
                k = 0
                for size in _CHUNKS:
                    while len(rows) - k >= size:
                        args: List[Any] = []
                        for rid, st, text, created in rows[k:k + size]:
                            args += (rid, st, now, created, text.decode("utf-8"))
                        self._conn.execute(_UPSERT[size], args)
                        k += size
        except Exception:  # noqa: BLE001 - logged; the answers were already sent
            log.exception("results: %d finished result(s) could not be stored", len(ids))
        with self._pending_lock:
            for rid in ids:
                self._pending.pop(rid, None)

    def finish_soon(self, rid: str, status: str, text: bytes, created_at: str) -> None:
        """Store a finished result in the background (batched with others, within
        milliseconds): for results whose answer already carries them and that have no
        webhook deliveries. :meth:`result` sees it at once."""
        with self._pending_lock:
            self._pending[rid] = (status, text, created_at)
            if not self._order:
                self._first_at = time.monotonic()
            self._order.append(rid)
        if not self._wake.is_set():
            self._wake.set()

    def backlog_age(self) -> float:
        """Seconds the oldest finished result not yet taken by the writer has waited (0 when
        none waits): how far the writer thread is behind."""
        return time.monotonic() - self._first_at if self._order else 0.0

    def _tx(self, statements: Iterable[Tuple[str, Sequence[Any]]]) -> None:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    c.execute(sql, tuple(args))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def _all(self, sql: str, args: Sequence[Any] = ()) -> List[tuple]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    # -- results --------------------------------------------------------------------------
    def accept(self, rid: str, created_at: str, body: bytes, content_type: str,
               request: Dict[str, Any]) -> None:
        self._tx([("INSERT INTO results (id, status, accepted_ts, created_at, body, "
                   "content_type, request) VALUES (?, 'accepted', ?, ?, ?, ?, ?)",
                   (rid, time.time(), created_at, body, content_type, json.dumps(request)))])

    def pending_body(self, rid: str) -> Optional[Tuple[str, bytes, str, Dict[str, Any]]]:
        """(status, body, content type, request info) of an accepted/in-progress result."""
        rows = self._all("SELECT status, body, content_type, request FROM results WHERE id=? "
                         "AND status IN ('accepted', 'in-progress')", (rid,))
        if not rows or rows[0][1] is None:
            return None
        st, body, ctype, req = rows[0]
        return st, bytes(body), ctype or "", json.loads(req or "{}")

    def set_status(self, rid: str, status: str) -> None:
        """A waiting result's new status; its result stays NULL until :meth:`finish`."""
        self._tx([("UPDATE results SET status=?, result=NULL WHERE id=?", (status, rid))])

    def finish(self, rid: str, status: str, text: bytes, created_at: str,
               deliveries: Sequence[Tuple[str, bytes]] = ()) -> None:
        """Store a finished result (``text``: its JSON; inserted, or updating an accepted
        one, whose body is dropped) and its webhook deliveries, in one transaction."""
        now = time.time()
        stmts: List[Tuple[str, Sequence[Any]]] = [
            (_UPSERT[1], (rid, status, now, created_at, text.decode("utf-8")))]
        for url, body in deliveries:
            stmts.append(("INSERT OR IGNORE INTO webhook_deliveries (result_id, url, body, "
                          "next_attempt_at, created) VALUES (?, ?, ?, ?, ?)",
                          (rid, url, body, now, now)))
        self._tx(stmts)

    def result(self, rid: str) -> Optional[Tuple[str, Optional[Dict[str, Any]], str,
                                                  Dict[str, Any]]]:
        """(status, result object or None, created_at, request info)."""
        with self._pending_lock:
            pending = self._pending.get(rid)
        if pending is not None:
            return pending[0], json.loads(pending[1]), pending[2], {}
        rows = self._all("SELECT status, result, created_at, request FROM results WHERE id=?",
                         (rid,))
        if not rows:
            return None
        st, res, created, req = rows[0]
        return st, (json.loads(res) if res else None), created, json.loads(req or "{}")

    def unfinished(self) -> List[str]:
        return [r[0] for r in self._all("SELECT id FROM results WHERE status IN "
                                        "('accepted', 'in-progress') ORDER BY accepted_ts")]

    def prune_results(self, older_than: float, keep: int) -> int:
        """Drop finished results accepted before ``older_than`` (epoch s), and the oldest
        finished ones beyond ``keep`` rows; never a result still waiting."""
        with self._lock:
            c = self._conn
            n = c.execute("DELETE FROM results WHERE status IN ('done', 'error') AND "
                          "accepted_ts < ?", (older_than,)).rowcount
            total = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            if total > keep:
                n += c.execute(
                    "DELETE FROM results WHERE rowid IN (SELECT rowid FROM results WHERE "
                    "status IN ('done', 'error') ORDER BY accepted_ts LIMIT ?)",
                    (total - keep,)).rowcount
            c.execute("DELETE FROM webhook_deliveries WHERE state != 'pending' AND "
                      "finished < ?", (older_than,))
        return int(n)

    # -- webhook deliveries -----------------------------------------------------------------
    def due_deliveries(self, now: float, exclude_urls: Iterable[str], exclude_ids: Iterable[int],
                       limit: int) -> List[Tuple[int, str, str, bytes, int]]:
        """(id, result id, url, body, attempts) of pending deliveries due at ``now``, oldest
        first, at most one per URL, skipping URLs (and ids) already in flight."""
        rows = self._all("SELECT id, result_id, url, body, attempts FROM webhook_deliveries "
                         "WHERE state='pending' AND next_attempt_at<=? ORDER BY id LIMIT ?",
                         (now, max(limit * 8, 64)))
        busy = set(exclude_urls)
        skip = set(exclude_ids)
        out = []
        for rid, res_id, url, body, attempts in rows:
            if url in busy or rid in skip:
                continue
            busy.add(url)
            out.append((rid, res_id, url, bytes(body), int(attempts)))
            if len(out) >= limit:
                break
        return out

    def next_delivery_at(self) -> Optional[float]:
        rows = self._all("SELECT MIN(next_attempt_at) FROM webhook_deliveries "
                         "WHERE state='pending'")
        return rows[0][0] if rows and rows[0][0] is not None else None

    def delivery_done(self, did: int, attempts: int, status: int) -> None:
        self._tx([("UPDATE webhook_deliveries SET state='sent', attempts=?, last_status=?, "
                   "last_error=NULL, finished=? WHERE id=?", (attempts, status, time.time(),
                                                              did))])

    def delivery_failed(self, did: int, attempts: int, status: Optional[int], error: str,
                        retry_at: Optional[float]) -> None:
        if retry_at is None:
            self._tx([("UPDATE webhook_deliveries SET state='failed', attempts=?, "
                       "last_status=?, last_error=?, finished=? WHERE id=?",
                       (attempts, status, error[:2000], time.time(), did))])
        else:
            self._tx([("UPDATE webhook_deliveries SET attempts=?, last_status=?, "
                       "last_error=?, next_attempt_at=? WHERE id=?",
                       (attempts, status, error[:2000], retry_at, did))])

    def delivery_counts(self) -> Dict[str, int]:
        return {st: int(n) for st, n in self._all(
            "SELECT state, COUNT(*) FROM webhook_deliveries GROUP BY state")}

    def deliveries(self, result_id: Optional[str] = None) -> List[Dict[str, Any]]:
        sql = ("SELECT id, result_id, url, state, attempts, last_status, last_error FROM "
               "webhook_deliveries")
        args: Tuple[Any, ...] = ()
        if result_id is not None:
            sql += " WHERE result_id=?"
            args = (result_id,)
        keys = ("id", "result_id", "url", "state", "attempts", "last_status", "last_error")
        return [dict(zip(keys, r)) for r in self._all(sql + " ORDER BY id", args)]

    # -- jobs -------------------------------------------------------------------------------
    def new_job(self, kind: str, key: str, params: Dict[str, Any]) -> int:
        with self._lock:
            cur = self._conn.execute("INSERT INTO jobs (kind, key, params, created) "
                                     "VALUES (?, ?, ?, ?)",
                                     (kind, key, json.dumps(params), time.time()))
            return int(cur.lastrowid)

    def job(self, job_id: int) -> Optional[Dict[str, Any]]:
        rows = self._all("SELECT id, kind, key, params, created, started, finished, success, "
                         "error, done, total FROM jobs WHERE id=?", (int(job_id),))
        if not rows:
            return None
        keys = ("id", "kind", "key", "params", "created", "started", "finished", "success",
                "error", "done", "total")
        d = dict(zip(keys, rows[0]))
        d["params"] = json.loads(d["params"])
        return d

    def running_job(self, key: str) -> Optional[int]:
        rows = self._all("SELECT id FROM jobs WHERE key=? AND finished IS NULL "
                         "ORDER BY id DESC LIMIT 1", (key,))
        return int(rows[0][0]) if rows else None

    def last_job(self, key: str) -> Optional[Dict[str, Any]]:
        rows = self._all("SELECT id FROM jobs WHERE key=? ORDER BY id DESC LIMIT 1", (key,))
        return self.job(rows[0][0]) if rows else None

    def job_started(self, job_id: int) -> None:
        self._tx([("UPDATE jobs SET started=? WHERE id=?", (time.time(), job_id))])

    def job_progress(self, job_id: int, done: int, total: int) -> None:
        self._tx([("UPDATE jobs SET done=?, total=? WHERE id=?", (done, total, job_id))])

    def job_finished(self, job_id: int, success: bool, error: Optional[str] = None) -> None:
        self._tx([("UPDATE jobs SET finished=?, success=?, error=? WHERE id=?",
                   (time.time(), int(success), error, job_id))])

    def interrupt_jobs(self) -> int:
        """Jobs a previous run left unfinished: finished unsuccessfully."""
        with self._lock:
            return int(self._conn.execute(
                "UPDATE jobs SET finished=?, success=0, error='interrupted by a restart of "
                "the daemon; start it again' WHERE finished IS NULL", (time.time(),)).rowcount)

    # -- long classifications ---------------------------------------------------------------
    def classification(self, key: str) -> Optional[Dict[str, Any]]:
        rows = self._all("SELECT doc FROM sample_classifications WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def put_classification(self, key: str, doc: Dict[str, Any]) -> None:
        self._tx([("INSERT OR REPLACE INTO sample_classifications (key, doc, created) "
                   "VALUES (?, ?, ?)", (key, json.dumps(doc, separators=(",", ":")),
                                        time.time()))])

    # -- anomaly scans of ingested samples --------------------------------------------------
    def scanned(self, sha256: str) -> bool:
        return bool(self._all("SELECT 1 FROM scans WHERE sha256=?", (sha256,)))

    def scanned_hashes(self) -> set:
        return {r[0] for r in self._all("SELECT sha256 FROM scans")}

    def mark_scanned(self, sha256: str, sample_id: Optional[int], events: int,
                     error: Optional[str] = None) -> None:
        self._tx([("INSERT OR REPLACE INTO scans (sha256, sample_id, scanned_at, events, "
                   "error) VALUES (?, ?, ?, ?, ?)", (sha256, sample_id, time.time(), events,
                                                     error))])


__all__ = ["GatewayDB", "RESULT_STATES"]

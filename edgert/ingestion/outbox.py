"""A durable store-and-forward outbox for ingestion uploads (SQLite, WAL).

The contract, in order of importance:

1. **A sample the producer was told is accepted is never lost.** :meth:`Outbox.enqueue` returns
   only after the row is committed with ``synchronous=FULL`` (in WAL mode ``NORMAL`` may lose
   the last commits on power failure; ``FULL`` fsyncs the WAL on every commit, which is the
   price of the promise). The sender's own bookkeeping runs with ``synchronous=NORMAL``: losing
   a "sent" mark to a power cut only causes a re-send, which the server de-duplicates (3.), so
   the cheaper setting is safe there.
2. **It gets there.** Background sender threads (``concurrency``, default 2) claim rows in
   enqueue order (oldest first, at most ``concurrency`` requests in flight). With one sender
   the server stores them in that order; with several, neighbouring rows travel in parallel
   and may be stored in either order (use ``concurrency=1`` when storage order matters). Transient failures (429, 5xx, timeouts, resets, refused connections) are
   retried forever by default with capped exponential backoff and full jitter, honouring
   Retry-After; while the server is failing, the whole outbox pauses rather than hammering it.
   Permanent failures (400, 401, 413, 421, ...) move the sample to a dead-letter table with the
   server's reason, from where it can be listed and requeued.
3. **Exactly once on the server.** The idempotency key is the sha256 of the body: enqueueing the
   same content again is a no-op that returns the existing id. Every re-send of a row (any
   attempt after the first, including rows that were in flight when the process died) carries
   ``x-disallow-duplicates: 1``; a server that already stored it answers "duplicate", which
   counts as delivered. So a 200 lost on the way back costs one extra request, not a copy.
   By default (``disallow_duplicates="always"``) first sends carry the header too: that also
   closes the one remaining window - a lease that expires while its first, header-less request
   is still being answered, so that two requests for the row overlap. ``"resend"`` sends it on
   re-sends only; ``"never"`` not at all (then a lost 200 can duplicate a sample).
4. **Crash-safe.** Rows are claimed with a lease (``state='inflight'``, ``attempts+1``,
   ``lease_until``) in a transaction before sending. One process owns an outbox file at a time
   (an exclusive ``flock`` on ``<db>.lock``, released by the kernel even on ``kill -9``); on open,
   rows left in flight by a dead owner become pending again.
5. **Bounded disk.** ``max_bytes`` caps the bytes of bodies held (pending, in flight and
   dead-lettered; bodies of sent rows are cleared). Policy ``reject`` (default) raises
   :class:`OutboxFull` - the sample was not accepted, the producer still has it; ``drop-oldest``
   deletes the oldest pending samples to make room. Rejections and drops are counted in
   :meth:`Outbox.status`. The file itself does not shrink below its high-water mark except
   through SQLite's incremental vacuum, which runs after sent bodies are cleared.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
import uuid
import weakref
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import ConfigurationError
from . import protocol as P
from .client import IngestionClient, RetryPolicy, UploadOutcome, RETRY, PERMANENT
from .errors import OutboxError, OutboxFull

try:  # POSIX advisory locks; the outbox is single-owner by design
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("edgert.ingestion.outbox")

FULL_POLICIES = ("reject", "drop-oldest")
DUPLICATE_POLICIES = ("resend", "always", "never")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256          TEXT    NOT NULL UNIQUE,
    category        TEXT    NOT NULL,
    filename        TEXT    NOT NULL,
    label           TEXT,
    no_label        INTEGER NOT NULL DEFAULT 0,
    add_date_id     INTEGER NOT NULL DEFAULT 0,
    content_type    TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    size            INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'inflight', 'sent')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    enqueued_at     REAL    NOT NULL,
    next_attempt_at REAL    NOT NULL,
    lease_owner     TEXT,
    lease_until     REAL,
    last_error      TEXT,
    sent_at         REAL,
    server_filename TEXT
);
CREATE INDEX IF NOT EXISTS outbox_ready ON outbox (state, next_attempt_at, id);
CREATE TABLE IF NOT EXISTS dead_letter (
    id              INTEGER PRIMARY KEY,
    sha256          TEXT    NOT NULL UNIQUE,
    category        TEXT    NOT NULL,
    filename        TEXT    NOT NULL,
    label           TEXT,
    no_label        INTEGER NOT NULL DEFAULT 0,
    add_date_id     INTEGER NOT NULL DEFAULT 0,
    content_type    TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    size            INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    enqueued_at     REAL    NOT NULL,
    failed_at       REAL    NOT NULL,
    http_status     INTEGER,
    reason          TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""

_COLS = ("id, sha256, category, filename, label, no_label, add_date_id, content_type, body, "
         "size, attempts, enqueued_at")


@dataclass(frozen=True)
class OutboxStatus:
    """Snapshot of an outbox (all counts survive restarts)."""

    pending: int            #: waiting to be sent (including rows in backoff)
    inflight: int           #: claimed by a sender right now
    sent: int               #: delivered (stored, or found already stored) since creation
    dead_lettered: int      #: rows currently in the dead-letter table
    bytes: int              #: body bytes held (pending + in flight + dead-lettered)
    max_bytes: int
    oldest_age_s: Optional[float]  #: age of the oldest undelivered sample
    next_attempt_in_s: Optional[float]
    last_error: Optional[str]
    rejected: int           #: enqueues refused with OutboxFull
    dropped: int            #: samples deleted by the drop-oldest policy
    retries: int            #: failed attempts that were scheduled for retry
    duplicates: int         #: deliveries the server reported as already stored

    @property
    def depth(self) -> int:
        return self.pending + self.inflight

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["depth"] = self.depth
        return d


@dataclass(frozen=True)
class DeadLetter:
    id: int
    sha256: str
    category: str
    filename: str
    label: Optional[str]
    content_type: str
    size: int
    attempts: int
    enqueued_at: float
    failed_at: float
    http_status: Optional[int]
    reason: str

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect on a new database
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise OutboxError(f"outbox {path}: cannot enable WAL journaling (got {mode!r}); "
                          "put the outbox on a local filesystem")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


class _Tx:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _bump(conn: sqlite3.Connection, name: str, n: int = 1) -> None:
    conn.execute("INSERT INTO counters (name, value) VALUES (?, ?) "
                 "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, n))


def _set_meta(conn: sqlite3.Connection, name: str, value: str) -> None:
    conn.execute("INSERT INTO meta (name, value) VALUES (?, ?) "
                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))


def default_filename(sha256: str, content_type: str) -> str:
    ext = {P.CT_JSON: ".json", P.CT_CBOR: ".cbor"}.get(content_type, ".bin")
    return f"sample.{sha256[:12]}{ext}"


_FINALIZER_JOIN_S = 5.0  # how long a collected/exiting outbox waits for busy senders


class _SenderState:
    """What the sender threads and the finalizer share with an :class:`Outbox`, so that
    neither needs a strong reference to the Outbox itself."""

    def __init__(self, lock_fd: Optional[int]) -> None:
        self.wake = threading.Condition()
        self.generation = 0
        self.stop = threading.Event()
        self.threads: List[threading.Thread] = []
        self.pause_until = 0.0
        self.closed = False
        self.lock_fd = lock_fd

    def notify(self) -> None:
        with self.wake:
            self.generation += 1
            self.wake.notify_all()

    def wait(self, seconds: float, generation: int) -> None:
        with self.wake:
            if self.generation == generation and not self.stop.is_set():
                self.wake.wait(max(0.0, seconds))


def _sender_main(ref: "weakref.ReferenceType[Outbox]", st: _SenderState) -> None:
    """A sender thread: holds the Outbox only for the duration of one step, so an outbox
    dropped without close() is collected (and its finalizer stops this loop)."""
    ob = ref()
    if ob is None:
        return
    path = ob.path
    ob = None
    try:
        conn = _connect(path, "NORMAL")
    except (sqlite3.Error, OutboxError):
        log.exception("outbox %s: sender cannot open the database", path)
        return
    owner_prefix = uuid.uuid4().hex[:8]
    try:
        while not st.stop.is_set():
            with st.wake:
                gen = st.generation
            pause = st.pause_until - time.time()
            if pause > 0:
                st.wait(pause, gen)
                continue
            ob = ref()
            if ob is None:
                break
            try:
                nxt = ob._sender_step(conn, owner_prefix)
            finally:
                ob = None  # may run the finalizer here, in this thread: it skips joining us
            if nxt is None:
                continue
            kind, seconds = nxt
            if kind == "stop":
                st.stop.wait(seconds)
            else:
                st.wait(seconds, gen)
    finally:
        conn.close()


def _shutdown(st: _SenderState, pconn: sqlite3.Connection, plock: threading.Lock, path: str,
              join_s: Optional[float]) -> None:
    """Finalizer of an Outbox (also its close()): stop the senders, close the producer
    connection unless already closed, release the ownership lock. Runs at most once."""
    st.stop.set()
    st.notify()
    me = threading.current_thread()
    deadline = None if join_s is None else time.monotonic() + join_s
    for t in list(st.threads):
        if t is not me:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    st.threads = [t for t in st.threads if t.is_alive() and t is not me]
    if st.threads:
        log.warning("outbox %s: %d sender(s) still busy when the outbox was released",
                    path, len(st.threads))
    with plock:  # never close the connection under a producer using it
        if not st.closed:  # (sqlite3 may crash on a connection closed mid-call)
            st.closed = True
            pconn.close()
    fd, st.lock_fd = st.lock_fd, None
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock


class Outbox:
    """Durable queue of samples for an ingestion server; see the module docstring.

    >>> ob = Outbox("outbox.db", IngestionClient("http://127.0.0.1:4810", "ei_..."))
    >>> ob.start()
    >>> sample_id = ob.enqueue(doc_bytes, category="anomaly", filename="wave.01.cbor")
    >>> ob.flush(timeout=30); ob.stop()

    ``client`` may be None for an outbox that is only filled (or inspected) by this process.
    """

    def __init__(self, path: str, client: Optional[IngestionClient] = None, *,
                 max_bytes: int = 256 * 1024 * 1024, full_policy: str = "reject",
                 concurrency: int = 2, retry: Optional[RetryPolicy] = None,
                 batch_size: int = 1, disallow_duplicates: str = "always",
                 max_sample_bytes: int = P.MAX_FILE_BYTES,
                 lease_seconds: Optional[float] = None, idle_poll: float = 1.0) -> None:
        if not path or path == ":memory:" or path.startswith("file:"):
            raise ConfigurationError("the outbox needs a file path (an in-memory outbox is "
                                     "not durable)")
        if full_policy not in FULL_POLICIES:
            raise ConfigurationError(
                f"full_policy must be one of {FULL_POLICIES}, got {full_policy!r}")
        if disallow_duplicates not in DUPLICATE_POLICIES:
            raise ConfigurationError(f"disallow_duplicates must be one of "
                                     f"{DUPLICATE_POLICIES}, got {disallow_duplicates!r}")
        if max_bytes <= 0 or max_sample_bytes <= 0:
            raise ConfigurationError("max_bytes and max_sample_bytes must be positive")
        if not 1 <= concurrency <= 32:
            raise ConfigurationError(f"concurrency must be 1..32, got {concurrency}")
        if not 1 <= batch_size <= P.MAX_FILES_PER_REQUEST:
            raise ConfigurationError(
                f"batch_size must be 1..{P.MAX_FILES_PER_REQUEST}, got {batch_size}")
        self.path = os.path.abspath(path)
        self.client = client
        self.max_bytes = int(max_bytes)
        self.full_policy = full_policy
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.disallow_duplicates = disallow_duplicates
        self.max_sample_bytes = int(max_sample_bytes)
        timeout = client.timeout if client is not None else 30.0
        self.lease_seconds = float(lease_seconds if lease_seconds is not None
                                   else 2 * timeout + 30.0)
        self.idle_poll = idle_poll

        self._lock_fd_initial = self._acquire_file_lock()
        try:
            self._pconn = _connect(self.path, "FULL")
            self._pconn.executescript(_SCHEMA)
            with _Tx(self._pconn) as c:  # rows a dead owner left in flight become pending
                n = c.execute("UPDATE outbox SET state='pending', lease_owner=NULL, "
                              "lease_until=NULL, next_attempt_at=? WHERE state='inflight'",
                              (time.time(),)).rowcount
            if n:
                log.info("outbox %s: %d sample(s) left in flight by a previous run are pending "
                         "again (they will be re-sent with x-disallow-duplicates)", self.path, n)
        except sqlite3.DatabaseError as exc:
            self._release_file_lock()
            raise OutboxError(f"outbox {self.path}: {exc}") from exc
        self._plock = threading.Lock()
        st = self._st = _SenderState(self._lock_fd_initial)
        self._lock_fd_initial = None  # owned by the shared state (released by _shutdown)
        self._wake = st.wake
        self._stop = st.stop
        # An outbox dropped without close() (or still open at interpreter exit) stops its
        # senders and releases the database and lock. The finalizer and the sender threads
        # hold only the shared state, never the Outbox itself (the senders take a weak
        # reference for each step), so dropping the last reference does collect it.
        self._finalizer = weakref.finalize(self, _shutdown, st, self._pconn, self._plock,
                                           self.path, _FINALIZER_JOIN_S)

    # -- ownership ------------------------------------------------------------------------
    def _acquire_file_lock(self) -> Optional[int]:
        if fcntl is None:  # pragma: no cover
            return None
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutboxError(f"outbox {self.path} is in use by another process (lock "
                              f"{self.path}.lock held); one process owns an outbox at a time")
        return fd

    def _release_file_lock(self) -> None:
        fd, self._lock_fd_initial = self._lock_fd_initial, None
        if fd is not None:  # only before the shared state exists (a failed open)
            os.close(fd)  # closing the descriptor drops the flock

    # State shared with the sender threads and the finalizer (see _SenderState).
    @property
    def _generation(self) -> int:
        return self._st.generation

    @property
    def _pause_until(self) -> float:
        return self._st.pause_until

    @_pause_until.setter
    def _pause_until(self, value: float) -> None:
        self._st.pause_until = value

    @property
    def _threads(self) -> List[threading.Thread]:
        return self._st.threads

    @_threads.setter
    def _threads(self, value: List[threading.Thread]) -> None:
        self._st.threads = value

    @property
    def _closed(self) -> bool:
        return self._st.closed

    # -- producer side --------------------------------------------------------------------
    def enqueue(self, body: bytes, category: str = "training", filename: Optional[str] = None,
                label: Optional[str] = None, content_type: Optional[str] = None, *,
                no_label: bool = False, add_date_id: bool = False) -> int:
        """Store a sample durably for upload; returns its id once it is committed.

        Enqueueing content that is already in the outbox (pending, sent or dead-lettered) is a
        no-op returning the existing id. Raises :class:`OutboxFull` (policy ``reject``, or a
        sample that alone exceeds the quota) - the sample was then NOT accepted.
        """
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(f"body must be bytes, got {type(body).__name__}")
        body = bytes(body)
        if category not in P.CATEGORIES:
            raise ConfigurationError(
                f"category must be one of {', '.join(P.CATEGORIES)}, got {category!r}")
        if not body:
            raise ConfigurationError("refusing to enqueue an empty sample body")
        size = len(body)
        if size > self.max_sample_bytes:
            raise ConfigurationError(
                f"sample of {size} bytes exceeds the per-file limit of {self.max_sample_bytes} "
                "bytes (the ingestion API accepts at most 100 MB per file)")
        sha = hashlib.sha256(body).hexdigest()
        ctype = P.normalise_content_type(content_type) if content_type else None
        if not ctype:
            ctype = P.guess_content_type(filename or "", body)
        name = filename or default_filename(sha, ctype)
        now = time.time()
        with self._plock:
            self._check_open()  # under the lock: close() cannot pull the connection away
            full_msg = None
            with _Tx(self._pconn) as c:
                row = c.execute("SELECT id FROM outbox WHERE sha256=? UNION ALL "
                                "SELECT id FROM dead_letter WHERE sha256=?", (sha, sha)).fetchone()
                if row is not None:
                    return int(row[0])
                held = self._held_bytes(c)
                if held + size > self.max_bytes:
                    if self.full_policy == "drop-oldest" and size <= self.max_bytes:
                        held = self._drop_oldest(c, held + size - self.max_bytes, held)
                    if held + size > self.max_bytes:
                        _bump(c, "rejected")
                        full_msg = (f"outbox {self.path} is full: {held} of {self.max_bytes} "
                                    f"bytes held, sample of {size} bytes rejected (policy "
                                    f"{self.full_policy}); raise max_bytes, wait for uploads "
                                    "to drain, or purge dead letters")
                if full_msg is None:
                    cur = c.execute(
                        "INSERT INTO outbox (sha256, category, filename, label, no_label, "
                        "add_date_id, content_type, body, size, enqueued_at, next_attempt_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (sha, category, name, label, int(no_label), int(add_date_id), ctype,
                         body, size, now, now))
                    new_id = int(cur.lastrowid)
            if full_msg is not None:
                raise OutboxFull(full_msg)
        self._notify()
        return new_id

    @staticmethod
    def _held_bytes(c: sqlite3.Connection) -> int:
        a = c.execute("SELECT COALESCE(SUM(size), 0) FROM outbox "
                      "WHERE state IN ('pending', 'inflight')").fetchone()[0]
        b = c.execute("SELECT COALESCE(SUM(size), 0) FROM dead_letter").fetchone()[0]
        return int(a) + int(b)

    def _drop_oldest(self, c: sqlite3.Connection, need: int, held: int) -> int:
        freed, victims = 0, []
        for rid, size, sha in c.execute("SELECT id, size, sha256 FROM outbox WHERE "
                                        "state='pending' ORDER BY id"):
            if freed >= need:
                break
            victims.append((rid, sha))
            freed += int(size)
        if freed < need:
            return held  # cannot make room by dropping pending samples alone
        c.executemany("DELETE FROM outbox WHERE id=?", [(v[0],) for v in victims])
        _bump(c, "dropped", len(victims))
        log.warning("outbox %s full: dropped %d oldest pending sample(s) (%d bytes): ids %s",
                    self.path, len(victims), freed, [v[0] for v in victims][:20])
        return held - freed

    # -- sender side ----------------------------------------------------------------------
    def start(self) -> "Outbox":
        """Start the sender threads (idempotent)."""
        self._check_open()
        if self.client is None:
            raise ConfigurationError("this outbox has no IngestionClient; pass client=... "
                                     "to send")
        if self._threads:
            return self
        self._stop.clear()
        for i in range(self.concurrency):
            t = threading.Thread(target=_sender_main, args=(weakref.ref(self), self._st),
                                 name=f"edgert-outbox-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop the senders after their current request (in-flight rows are settled, or become
        pending again at the next open if the process dies first)."""
        self._stop.set()
        self._notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    def close(self) -> None:
        """Stop the senders and release the database and the ownership lock."""
        if self._closed:
            return
        self.stop()
        if self._threads:
            log.warning("outbox %s: sender threads still busy at close", self.path)
        self._finalizer()  # closes the connection and releases the lock (once)

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise OutboxError(f"outbox {self.path} is closed")

    def _open_tx(self) -> _Tx:
        """A transaction on the producer connection; call with ``_plock`` held (the check and
        the use are then atomic with respect to close())."""
        self._check_open()
        return _Tx(self._pconn)

    def _notify(self) -> None:
        self._st.notify()

    def _wait(self, seconds: float, generation: int) -> None:
        self._st.wait(seconds, generation)

    def _sender_step(self, conn: sqlite3.Connection, owner_prefix: str
                     ) -> Optional[Tuple[str, float]]:
        """One claim-send-settle round of a sender; returns what to wait for next:
        ("wake", seconds) for new work or the next due time, ("stop", seconds) for a pause
        that only stop() cuts short, None to go on at once."""
        token = f"{owner_prefix}-{uuid.uuid4().hex[:12]}"
        try:
            rows = self._claim(conn, token)
        except sqlite3.OperationalError as exc:  # e.g. a long writer lock
            log.warning("outbox %s: claim failed (%s); retrying", self.path, exc)
            return ("stop", 0.2)
        if not rows:
            return ("wake", self._idle_wait(conn))
        try:
            outcomes = self._send(rows)
        except Exception as exc:  # never let a bug kill the sender silently
            log.exception("outbox %s: sending failed unexpectedly", self.path)
            outcomes = [UploadOutcome(RETRY, None, f"internal error: {exc!r}")] * len(rows)
        self._settle(conn, rows, outcomes, token)
        self._notify()
        return None

    def _idle_wait(self, conn: sqlite3.Connection) -> float:
        row = conn.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE state='pending'"
                           ).fetchone()
        wait = self.idle_poll
        if row and row[0] is not None:
            wait = min(wait, max(0.0, float(row[0]) - time.time()))
        lease = conn.execute("SELECT MIN(lease_until) FROM outbox WHERE state='inflight'"
                             ).fetchone()
        if lease and lease[0] is not None:
            wait = min(wait, max(0.0, float(lease[0]) - time.time()))
        return max(wait, 0.001)

    def _claim(self, conn: sqlite3.Connection, token: str) -> List[sqlite3.Row]:
        now = time.time()
        ready = ("((state='pending' AND next_attempt_at<=?) OR "
                 "(state='inflight' AND lease_until<?))")
        with _Tx(conn) as c:
            c.row_factory = sqlite3.Row
            first = c.execute(f"SELECT {_COLS} FROM outbox WHERE {ready} ORDER BY id LIMIT 1",
                              (now, now)).fetchone()
            if first is None:
                return []
            rows = [first]
            if self.batch_size > 1:
                rows += c.execute(
                    f"SELECT {_COLS} FROM outbox WHERE {ready} AND id>? AND category=? AND "
                    "label IS ? AND no_label=? AND add_date_id=? ORDER BY id LIMIT ?",
                    (now, now, first["id"], first["category"], first["label"],
                     first["no_label"], first["add_date_id"], self.batch_size - 1)).fetchall()
            c.executemany("UPDATE outbox SET state='inflight', attempts=attempts+1, "
                          "lease_owner=?, lease_until=? WHERE id=?",
                          [(token, now + self.lease_seconds, r["id"]) for r in rows])
        return rows

    def _disallow(self, rows: Sequence[sqlite3.Row]) -> bool:
        if self.disallow_duplicates == "always":
            return True
        if self.disallow_duplicates == "never":
            return False
        return any(int(r["attempts"]) > 0 for r in rows)  # attempts before this claim

    def _send(self, rows: Sequence[sqlite3.Row]) -> List[UploadOutcome]:
        assert self.client is not None
        first = rows[0]
        label = first["label"]
        disallow = self._disallow(rows)
        if len(rows) == 1 and self.batch_size == 1:
            return [self.client.upload_data(
                first["body"], category=first["category"], filename=first["filename"],
                content_type=first["content_type"], label=label,
                no_label=bool(first["no_label"]), disallow_duplicates=disallow,
                add_date_id=bool(first["add_date_id"]))]
        parts = [P.FilePart(r["filename"], r["body"], r["content_type"]) for r in rows]
        return self.client.upload_files(
            parts, category=first["category"], label=label, no_label=bool(first["no_label"]),
            disallow_duplicates=disallow, add_date_id=bool(first["add_date_id"]))

    def _settle(self, conn: sqlite3.Connection, rows: Sequence[sqlite3.Row],
                outcomes: Sequence[UploadOutcome], token: str) -> None:
        now = time.time()
        pause = 0.0
        with _Tx(conn) as c:
            for row, out in zip(rows, outcomes):
                rid = row["id"]
                owned = c.execute("SELECT attempts FROM outbox WHERE id=? AND lease_owner=? "
                                  "AND state='inflight'", (rid, token)).fetchone()
                if owned is None:
                    continue  # lease expired and another sender took it over
                attempts = int(owned[0])
                if out.delivered:
                    c.execute("UPDATE outbox SET state='sent', body=X'', sent_at=?, "
                              "server_filename=?, lease_owner=NULL, lease_until=NULL, "
                              "last_error=NULL WHERE id=?", (now, out.filename, rid))
                    _bump(c, "sent")
                    if out.kind == "duplicate":
                        _bump(c, "duplicates")
                    continue
                reason = out.message.strip()[:2000] or f"HTTP {out.status}"
                _set_meta(c, "last_error", f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now))}"
                          f" sample {rid} ({row['filename']}): {reason}")
                gave_up = (out.kind == RETRY and self.retry.max_attempts is not None
                           and attempts >= self.retry.max_attempts)
                if out.kind == PERMANENT or gave_up:
                    if gave_up:
                        reason = f"gave up after {attempts} attempts; last error: {reason}"
                    self._dead_letter(c, rid, out.status, reason, now)
                    log.warning("outbox %s: sample %d (%s) dead-lettered: %s", self.path, rid,
                                row["filename"], reason)
                    continue
                delay = self.retry.delay(attempts, out.retry_after)
                c.execute("UPDATE outbox SET state='pending', next_attempt_at=?, last_error=?, "
                          "lease_owner=NULL, lease_until=NULL WHERE id=?",
                          (now + delay, reason, rid))
                _bump(c, "retries")
                log.info("outbox %s: sample %d attempt %d failed (%s); retry in %.2fs",
                         self.path, rid, attempts, reason, delay)
                # A server-wide condition (down, overloaded, rate limiting): pause everyone.
                if out.status is None or out.status == 429 or out.status >= 500:
                    pause = max(pause, delay)
        if pause > 0:
            self._pause_until = max(self._pause_until, time.time() + pause)
        self._maybe_vacuum(conn)

    @staticmethod
    def _dead_letter(c: sqlite3.Connection, rid: int, status: Optional[int], reason: str,
                     now: float) -> None:
        c.execute("INSERT INTO dead_letter (id, sha256, category, filename, label, no_label, "
                  "add_date_id, content_type, body, size, attempts, enqueued_at, failed_at, "
                  "http_status, reason) SELECT id, sha256, category, filename, label, no_label, "
                  "add_date_id, content_type, body, size, attempts, enqueued_at, ?, ?, ? "
                  "FROM outbox WHERE id=?", (now, status, reason, rid))
        c.execute("DELETE FROM outbox WHERE id=?", (rid,))
        _bump(c, "dead_lettered")

    def _maybe_vacuum(self, conn: sqlite3.Connection) -> None:
        try:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free > 256:
                conn.execute("PRAGMA incremental_vacuum(256)")
        except sqlite3.OperationalError:  # busy: try again after the next settle
            pass

    # -- inspection and maintenance -------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until nothing is pending or in flight (dead letters do not count); True if the
        outbox drained within ``timeout`` seconds."""
        if not self._threads:
            raise OutboxError("flush() waits for the senders: call start() first")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st = self.status()
            if st.depth == 0:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            with self._wake:
                self._wake.wait(0.05)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> List[tuple]:
        with self._plock:
            self._check_open()
            return self._pconn.execute(sql, tuple(args)).fetchall()

    def status(self) -> OutboxStatus:
        now = time.time()
        counts = dict(self._read("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        counters = dict(self._read("SELECT name, value FROM counters"))
        dead = self._read("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM dead_letter")[0]
        live = self._read("SELECT COALESCE(SUM(size), 0), MIN(enqueued_at) FROM outbox "
                          "WHERE state IN ('pending', 'inflight')")[0]
        nxt = self._read("SELECT MIN(next_attempt_at) FROM outbox WHERE state='pending'")[0][0]
        last = self._read("SELECT value FROM meta WHERE name='last_error'")
        return OutboxStatus(
            pending=int(counts.get("pending", 0)), inflight=int(counts.get("inflight", 0)),
            sent=int(counters.get("sent", 0)), dead_lettered=int(dead[0]),
            bytes=int(live[0]) + int(dead[1]), max_bytes=self.max_bytes,
            oldest_age_s=None if live[1] is None else max(0.0, now - float(live[1])),
            next_attempt_in_s=None if nxt is None else max(0.0, float(nxt) - now),
            last_error=last[0][0] if last else None,
            rejected=int(counters.get("rejected", 0)), dropped=int(counters.get("dropped", 0)),
            retries=int(counters.get("retries", 0)),
            duplicates=int(counters.get("duplicates", 0)))

    def dead_letters(self, limit: int = 100, offset: int = 0) -> List[DeadLetter]:
        rows = self._read("SELECT id, sha256, category, filename, label, content_type, size, "
                          "attempts, enqueued_at, failed_at, http_status, reason "
                          "FROM dead_letter ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
        return [DeadLetter(*r) for r in rows]

    def requeue(self, ids: Optional[Sequence[int]] = None) -> int:
        """Move dead letters (all, or the given ids) back to the queue with a fresh attempt
        count - after fixing the cause (API key, server limit, ...). Returns how many moved."""
        self._check_open()
        now = time.time()
        with self._plock, self._open_tx() as c:
            where, args = ("", ()) if ids is None else (
                f"WHERE id IN ({','.join('?' * len(ids))})", tuple(int(i) for i in ids))
            if ids is not None and not ids:
                return 0
            c.execute("INSERT INTO outbox (id, sha256, category, filename, label, no_label, "
                      "add_date_id, content_type, body, size, state, attempts, enqueued_at, "
                      "next_attempt_at, last_error) SELECT id, sha256, category, filename, "
                      "label, no_label, add_date_id, content_type, body, size, 'pending', 0, "
                      f"enqueued_at, ?, reason FROM dead_letter {where}", (now,) + args)
            n = c.execute(f"DELETE FROM dead_letter {where}", args).rowcount
        self._pause_until = 0.0
        self._notify()
        return int(n)

    def purge_dead(self, ids: Optional[Sequence[int]] = None) -> int:
        """Delete dead letters for good (all, or the given ids); frees their quota."""
        self._check_open()
        with self._plock, self._open_tx() as c:
            if ids is None:
                return int(c.execute("DELETE FROM dead_letter").rowcount)
            return int(c.executemany("DELETE FROM dead_letter WHERE id=?",
                                     [(int(i),) for i in ids]).rowcount)

    def prune_sent(self, older_than_s: float = 7 * 86400) -> int:
        """Forget delivered rows older than ``older_than_s`` (their hashes stop de-duplicating
        re-enqueues; the server's x-disallow-duplicates still does on re-send)."""
        self._check_open()
        with self._plock, self._open_tx() as c:
            return int(c.execute("DELETE FROM outbox WHERE state='sent' AND sent_at<?",
                                 (time.time() - older_than_s,)).rowcount)

    def get(self, sample_id: int) -> Optional[Dict[str, Any]]:
        """Metadata of one queued/sent row (no body), or None."""
        rows = self._read("SELECT id, sha256, category, filename, label, content_type, size, "
                          "state, attempts, enqueued_at, next_attempt_at, last_error, sent_at, "
                          "server_filename FROM outbox WHERE id=?", (sample_id,))
        if not rows:
            return None
        keys = ("id", "sha256", "category", "filename", "label", "content_type", "size",
                "state", "attempts", "enqueued_at", "next_attempt_at", "last_error", "sent_at",
                "server_filename")
        return dict(zip(keys, rows[0]))

"""The runner's process lifecycle, in the standard library only: stop signals, the listening
socket, and the runner that answers every request with an error when it cannot run.

Used by the runner (:mod:`edgert.eim.server`) and by the ``.eim`` file's entry point
(:mod:`edgert.eim.launcher`), which must work when edgert cannot be imported: the writer puts a
copy of this module into every ``.eim`` (as ``edgert_eim_lifecycle.py``) next to the launcher.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PARENT_CHECK_S = 0.5
#: The largest message accepted, in bytes from its first ``{`` (the runner's 32 MiB buffer).
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
# the outermost "id": N of a message is not known without parsing; the last one is the
# official clients' (they add "id" last), and a nested set_threshold "id" comes before it
_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,18})\s*[,}]')


class Stopped(BaseException):
    """Raised by the stop-signal handler to unwind to the cleanup (a BaseException, so no
    handler of ordinary errors swallows it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class StartupError(Exception):
    """The runner cannot serve; the message says why, for the user."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise Stopped(signum)


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP raise :class:`Stopped` inside the block; SIGPIPE is ignored."""
    previous = {s: signal.signal(s, _raise_stop) for s in STOP_SIGNALS}
    previous_pipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        signal.signal(signal.SIGPIPE, previous_pipe)


@contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Hold stop signals while a resource is created and recorded (a signal in between would
    leave it behind); they are delivered when the block ends."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def finish(stopped: Optional[int], status: int) -> int:
    """After the cleanup: end by the stop signal that was received (the parent sees the
    process killed by it), or return ``status``. Call with stop signals blocked."""
    pending = signal.sigpending() & set(STOP_SIGNALS)
    if stopped is None and pending:
        stopped = min(pending)
    if stopped is not None:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        os.kill(os.getpid(), stopped)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        time.sleep(5)                # pragma: no cover - the signal has ended the process
        return 128 + stopped         # pragma: no cover
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return status


def parent_watch() -> Callable[[], bool]:
    """A check that the process which started this one is still its parent."""
    start = os.getppid()
    return lambda: os.getppid() == start


class Listener:
    """A listening AF_UNIX socket that appears at ``path`` only once it accepts connections
    (bound under a temporary name, then renamed), and is removed from there when closed -
    only if the file is still this socket."""

    def __init__(self, path: str):
        self.path = path
        self.sock: Optional[socket.socket] = None
        self._inode: Optional[tuple[int, int]] = None
        try:
            st: Optional[os.stat_result] = os.lstat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise StartupError(f"cannot use socket path {path}: {exc.strerror}") from None
        if st is not None and not stat.S_ISSOCK(st.st_mode):
            raise StartupError(f"{path} exists and is not a socket; give a new path (the "
                               "runner creates the socket)")
        parent = os.path.dirname(os.path.abspath(path))
        tmp = os.path.join(parent, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            sock.bind(tmp)
            sock.listen(1)
            os.rename(tmp, path)     # replaces a stale socket file, as the SDK's unlink+bind
            st = os.lstat(path)
        except OSError as exc:
            sock.close()
            try:
                os.unlink(tmp)
            except OSError:
                pass
            reason = exc.strerror or str(exc)
            if "too long" in str(exc):
                reason = "the path is too long for a Unix socket (at most 107 bytes)"
            raise StartupError(f"cannot create socket {path}: {reason}") from None
        self._inode = (st.st_dev, st.st_ino)
        self.sock = sock

    def accept(self, parent_alive: Callable[[], bool]) -> socket.socket:
        """The one connection. While waiting, the parent is checked every half second: a
        client that died before connecting does not leave the runner waiting forever."""
        assert self.sock is not None
        self.sock.settimeout(PARENT_CHECK_S)
        while True:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                if not parent_alive():
                    raise StartupError("the process that started the runner exited before "
                                       "connecting") from None
                continue
            conn.settimeout(None)
            return conn

    def close(self) -> None:
        """Close and remove the socket file (idempotent)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self._inode is not None:
            inode, self._inode = self._inode, None
            try:
                st = os.lstat(self.path)
                if (st.st_dev, st.st_ino) == inode:
                    os.unlink(self.path)
            except OSError:
                pass


# ---------------------------------------------------------------- answering with an error
def _messages(conn: socket.socket) -> Iterator[bytes]:
    """Messages on ``conn`` by the runner's brace counting (simple and slow: only for the
    error runner, which answers a client once or twice)."""
    parts: list[bytes] = []
    size = depth = 0
    while True:
        data = conn.recv(65536)
        if not data:
            return
        start = 0 if depth else None
        for m in re.finditer(rb"[{}]", data):
            i = m.start()
            if data[i] == 0x7B:
                if depth == 0:
                    start = i
                depth += 1
            elif depth:
                depth -= 1
                if depth == 0 and start is not None:
                    parts.append(data[start:i + 1])
                    yield b"".join(parts)[:MAX_MESSAGE_BYTES]
                    parts, size, start = [], 0, None
        if depth and start is not None and size < MAX_MESSAGE_BYTES:
            parts.append(data[start:])
            size += len(data) - start


def _request_id(message: bytes) -> Optional[int]:
    try:
        doc = json.loads(message)
        rid = doc.get("id") if isinstance(doc, dict) else None
        if isinstance(rid, int) and not isinstance(rid, bool):
            return rid
    except (ValueError, RecursionError):
        pass
    return request_id_in(message)


def request_id_in(data: bytes) -> Optional[int]:
    """The last ``"id": <integer>`` in raw message bytes (for answering a message that could
    not be parsed), or None."""
    found = None
    for m in _ID.finditer(data):
        found = m
    return int(found.group(1)) if found else None


def serve_one_client(socket_path: str, handle: Callable[[socket.socket], int],
                     on_startup_error: Callable[[Exception], int],
                     startup_errors: tuple = (StartupError,),
                     cleanup: Optional[Callable[[], None]] = None) -> int:
    """The runner's life around its one client: watch the parent, create the socket (stop
    signals held off meanwhile, so a signal never leaves a half-made socket file), accept the
    client, then ``handle(conn)`` gives the exit status. ``startup_errors`` raised on the way
    go to ``on_startup_error``, which gives the status. A stop signal ends it all; the cleanup
    (connection, socket file, then ``cleanup``) runs with stop signals blocked, so a second
    signal does not cut it short, and the process then ends by that signal (:func:`finish`)."""
    listener: Optional[Listener] = None
    conn: Optional[socket.socket] = None
    stopped: Optional[int] = None
    status = 1
    with stop_signals_raise():
        try:
            try:
                alive = parent_watch()
                with stop_signals_blocked():
                    listener = Listener(socket_path)
                conn = listener.accept(alive)
                listener.close()
                status = handle(conn)
            except startup_errors as exc:
                status = on_startup_error(exc)
        except Stopped as exc:
            stopped = exc.signum
        finally:
            while True:
                try:
                    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
                    if conn is not None:
                        conn.close()
                    if listener is not None:
                        listener.close()
                    if cleanup is not None:
                        cleanup()
                    break
                except Stopped as exc:
                    stopped = stopped or exc.signum
    return finish(stopped, status)


def serve_error(socket_path: str, message: str, name: str = "model.eim") -> int:
    """Create the socket, accept the connection and answer every request with
    ``{"success": false, "error": message}`` until the client closes it. Returns 1."""
    def answer_errors(conn: socket.socket) -> int:
        try:
            for msg in _messages(conn):
                resp: dict[str, Any] = {}
                rid = _request_id(msg)
                if rid is not None:
                    resp["id"] = rid
                resp.update({"success": False, "error": message})
                conn.sendall(json.dumps(resp).encode() + b"\n\0")
        except (BrokenPipeError, ConnectionResetError):
            pass                         # the client went away: nothing more to tell
        return 1

    def report(exc: Exception) -> int:
        sys.stderr.write(f"{name}: ERROR: {exc}\n")
        return 1

    return serve_one_client(socket_path, answer_errors, report, (StartupError, OSError))


def fail(name: str, message: str, argv: list[str]) -> int:
    """Report a runner that cannot start: on stderr, and - when ``argv`` names a socket - to
    the client, as the error of every request (:func:`serve_error`). Returns 1."""
    sys.stderr.write(f"{name}: ERROR: {message}\n")
    sys.stderr.flush()
    if argv and not argv[0].startswith("-") and argv[0] != "stdin":
        return serve_error(argv[0], message, name)
    return 1

"""The runner process: ``model.eim SOCKET_PATH`` serves one connection on an AF_UNIX stream
socket, ``model.eim --print-info`` prints the hello response.

Lifecycle (:func:`serve`):

1. the impulse is loaded and checked before anything appears on disk;
2. the socket is bound under a temporary name next to SOCKET_PATH, listens, and is then
   renamed to SOCKET_PATH: a client that sees the path can connect at once (the official
   Python client connects as soon as the file exists);
3. one connection is accepted; the socket file is removed and the listening socket closed
   right away (nothing else can connect, and nothing is left on disk if the runner is killed
   later). While waiting, the runner checks every half second that the process that started
   it is still there: a client that dies before connecting does not leave a runner waiting
   forever;
4. requests are answered until the client closes the connection (or dies: the kernel closes
   it), then the shared-memory segment is unlinked and the runner exits with status 0.

SIGINT, SIGTERM and SIGHUP at any point: the socket file and the shared-memory segment are
removed, then the runner ends by that signal (its exit status says so, as for any process
killed by it). SIGPIPE is ignored: a write to a closed connection is an ordinary error.
Nothing is written to stdout in socket mode, and diagnostics go to stderr only when stderr can
take them without blocking: a client that passes a pipe and never reads it cannot hang the
runner.
"""
from __future__ import annotations

import json
import logging
import os
import select
import socket
import sys
import time
from typing import Any

from .lifecycle import serve_one_client
from .model import EimModel
from .protocol import Framer, MalformedMessage, Message, decode, encode, error, request_id_in
from .session import Session
from .shm import FeatureSegment

log = logging.getLogger("edgert.eim")

RECV_BYTES = 256 * 1024


def write_stderr_nonblocking(text: str) -> None:
    """Write one line to stderr if it can be taken without blocking, else drop it. Lines are
    cut to 4000 bytes: a pipe with any free page takes that much at once."""
    data = (text[:4000] + "\n").encode("utf-8", "replace")
    try:
        fd = sys.stderr.fileno()
        _, ready, _ = select.select([], [fd], [], 0)
        if ready:
            os.write(fd, data)
    except (OSError, ValueError, AttributeError):
        pass


class NonBlockingStderrHandler(logging.Handler):
    """A logging handler that never blocks on a full stderr pipe."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_stderr_nonblocking(self.format(record))
        except Exception:   # logging must never take the runner down
            pass


def configure_logging(name: str = "model.eim", level: int = logging.WARNING) -> None:
    """edgert's log records to stderr through :class:`NonBlockingStderrHandler`."""
    handler = NonBlockingStderrHandler()
    handler.setFormatter(logging.Formatter(f"{name}: %(levelname)s: %(message)s"))
    root = logging.getLogger("edgert")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _respond(session: Session, event: Any) -> dict[str, Any]:
    """The response to a framed message (or to an oversized one)."""
    if isinstance(event, Message):
        t = time.perf_counter_ns()
        try:
            msg = decode(event.data)
        except MalformedMessage as exc:
            return error(request_id_in(event.data), f"Failed to parse message as JSON: {exc}")
        return session.handle(msg, time.perf_counter_ns() - t, event.read_ns)
    return error(event.request_id, f"Invalid message, received more than {event.limit} "
                                   "bytes, and no valid JSON message detected")


def serve_connection(conn: socket.socket, session: Session) -> None:
    """Answer requests on ``conn`` until the peer closes it (or a write fails)."""
    framer = Framer()
    while True:
        try:
            data = conn.recv(RECV_BYTES)
        except (ConnectionResetError, BrokenPipeError):
            return
        if not data:
            if framer.in_message:
                log.info("the client closed the connection in the middle of a message")
            return
        for event in framer.feed(data):
            resp = _respond(session, event)
            try:
                payload = encode(resp)
            except ValueError as exc:   # a non-finite number in a result
                payload = encode(error(resp.get("id"), f"Classifying failed: {exc}"))
            try:
                conn.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                log.info("the client went away before reading the response")
                return


def serve(model: EimModel, socket_path: str, *, shared_memory: bool = True) -> int:
    """Serve the protocol on ``socket_path`` (see the module docstring). Returns the exit
    status; after a stop signal, cleans up and ends the process by that signal."""
    session = Session(model, make_segment=FeatureSegment if shared_memory else None,
                      debug_out=write_stderr_nonblocking)

    def handle(conn: socket.socket) -> int:
        serve_connection(conn, session)
        return 0

    def report(exc: Exception) -> int:
        log.error("%s", exc)
        return 1

    return serve_one_client(socket_path, handle, report, cleanup=session.close)


def serve_stream(model: EimModel, infile: Any, outfile: Any) -> int:
    """``model.eim stdin``: requests on ``infile``, responses on ``outfile`` (the SDK's
    stdin mode, for trying requests by hand). No shared memory."""
    session = Session(model, make_segment=None, debug_out=write_stderr_nonblocking)
    framer = Framer()
    fd = infile.fileno()
    while True:
        data = os.read(fd, RECV_BYTES)
        if not data:
            return 0
        for event in framer.feed(data):
            outfile.write(encode(_respond(session, event)).rstrip(b"\0"))
            outfile.flush()


def print_info(model: EimModel, out: Any = None) -> int:
    """``--print-info``: the hello response, pretty-printed (no shared-memory segment is
    created for it, so no ``features_shm``)."""
    session = Session(model, make_segment=None)
    doc = session.handle({"hello": 1, "id": 1})
    out = out or sys.stdout
    out.write(json.dumps(doc, indent=4) + "\n")
    out.flush()
    return 0


__all__ = ["serve", "serve_stream", "serve_connection", "print_info", "configure_logging",
           "write_stderr_nonblocking", "NonBlockingStderrHandler"]

"""Logging for servers that face a network: what a peer sent is escaped before it reaches a
log line, header values are never logged, and every line can be JSON.

* :func:`escape` - a string from the network (a path, a file name) made safe for one log line:
  control characters, separators and other non-printable characters become ``\\xNN`` /
  ``\\uNNNN`` escapes, and the text is cut at ``limit`` characters. A request cannot forge log
  lines (``%0a``), move a terminal's cursor (``\\x1b[...``) or hide text (bidi overrides).
* :class:`TextFormatter` / :class:`JsonFormatter` - ``--log-format text|json``. The JSON form
  is one object per line: ``ts``, ``level``, ``logger``, ``msg`` and the structured fields a
  record carries in ``record.fields`` (the access log's method, route, status, duration...).
  The text form escapes the message once more, as a safety net for third-party log calls.
* :func:`configure` - install one of them on the root logger (the CLI's daemon commands):
  the serving threads only queue records; one thread formats and writes them every 50 ms
  (a wake-up and a write per line would cost context switches and a system call per
  request).

Header values are never passed to a logger by edgert's servers: the access log records the
method, the escaped path (never the query string, which may carry credentials), the route
template, the status, sizes and timing.
"""
from __future__ import annotations

import atexit
import datetime as _dt
import json
import logging
import logging.handlers
import queue
import sys
from typing import Any, Dict, List, Optional

#: Longest text (after escaping) that one network-derived value may put into a log line.
DEFAULT_LIMIT = 300


def escape(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as text that cannot break a log line: non-printable characters escaped,
    cut at ``limit`` characters (marked with ``...``)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("latin-1")
    text = str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _exception_text(fmt: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_info:
        return fmt.formatException(record.exc_info)
    return record.exc_text or ""


def _timestamp(created: float) -> str:
    return _dt.datetime.fromtimestamp(created, _dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class TextFormatter(logging.Formatter):
    """``2024-06-07T13:32:43.811Z INFO edgert.web.access: message`` with the message escaped
    (tracebacks keep their line breaks)."""

    def format(self, record: logging.LogRecord) -> str:
        msg = escape(record.getMessage(), limit=100_000)
        line = f"{_timestamp(record.created)} {record.levelname} {record.name}: {msg}"
        exc = _exception_text(self, record)
        if exc:
            line += "\n" + exc
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``ensure_ascii``: control characters are always escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: Dict[str, Any] = {"ts": _timestamp(record.created),
                               "level": record.levelname.lower(), "logger": record.name,
                               "msg": record.getMessage()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for k, v in fields.items():
                doc.setdefault(k, v)
        exc = _exception_text(self, record)
        if exc:
            doc["exc"] = exc
        return json.dumps(doc, ensure_ascii=True, default=str, separators=(",", ":"))


FORMATS = ("text", "json")


class _Writer:
    """The thread that formats and writes queued records: it wakes every ``interval`` s and
    writes what gathered, then flushes once (a wake-up and a write per line would cost two
    context switches and a system call per request)."""

    def __init__(self, pending: "queue.SimpleQueue[Any]", handler: logging.Handler,
                 interval: float = 0.05) -> None:
        import threading
        self.pending = pending
        self.handler = handler
        self.interval = interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="edgert-log", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        wrote = False
        while True:
            try:
                record = self.pending.get_nowait()
            except queue.Empty:
                break
            try:
                self.handler.emit(record)
            except Exception:  # noqa: BLE001 - as logging does: report, go on
                self.handler.handleError(record)
            wrote = True
        if wrote:
            self.handler.flush()

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self._drain()
        self._drain()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5.0)


class _NoFlushStreamHandler(logging.StreamHandler):
    def emit(self, record: logging.LogRecord) -> None:  # StreamHandler's, without flush()
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:  # noqa: BLE001
            self.handleError(record)


class _QueueHandler(logging.handlers.QueueHandler):
    """Queues the record as it is (the writer formats it): the message stays lazy, and a
    record's ``fields`` reach the JSON formatter."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info and not record.exc_text:
            # a traceback must be rendered now, while the frames still exist
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None if record.exc_text else record.exc_info
        return record


_writers: List[_Writer] = []


def _stop_listeners() -> None:
    while _writers:
        _writers.pop().stop()  # writes what is queued, flushes


def backlog() -> int:
    """Log records queued and not written yet (how far the writer thread is behind)."""
    return sum(w.pending.qsize() for w in _writers)


def configure(fmt: str = "text", level: int = logging.INFO, stream: Optional[Any] = None) -> None:
    """Replace the root logger's handlers with one writing ``fmt`` lines to ``stream``
    (stderr by default), at ``level``, from a thread of its own."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    _stop_listeners()
    pending: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
    handler = _NoFlushStreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(_QueueHandler(pending))
    root.setLevel(level)
    _writers.append(_Writer(pending, handler))


atexit.register(_stop_listeners)


__all__ = ["DEFAULT_LIMIT", "FORMATS", "JsonFormatter", "TextFormatter", "backlog", "configure",
           "escape"]

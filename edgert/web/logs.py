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
  the serving thread only queues records; one thread formats and writes them, flushing when
  the queue runs dry (a write per line would cost a system call per request).

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


def _timestamp(created: float) -> str:
    return _dt.datetime.fromtimestamp(created, _dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class TextFormatter(logging.Formatter):
    """``2024-06-07T13:32:43.811Z INFO edgert.web.access: message`` with the message escaped
    (tracebacks keep their line breaks)."""

    def format(self, record: logging.LogRecord) -> str:
        msg = escape(record.getMessage(), limit=100_000)
        line = f"{_timestamp(record.created)} {record.levelname} {record.name}: {msg}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
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
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=True, default=str, separators=(",", ":"))


FORMATS = ("text", "json")


class _BatchingStreamHandler(logging.StreamHandler):
    """Writes each record, flushes only when the listener's queue is empty."""

    def __init__(self, stream: Any, pending: "queue.Queue[Any]") -> None:
        super().__init__(stream)
        self._pending = pending

    def flush(self) -> None:
        if self._pending.empty():
            super().flush()


_listeners: List[logging.handlers.QueueListener] = []


def _stop_listeners() -> None:
    while _listeners:
        _listeners.pop().stop()  # drains what is queued, flushes


def configure(fmt: str = "text", level: int = logging.INFO, stream: Optional[Any] = None) -> None:
    """Replace the root logger's handlers with one writing ``fmt`` lines to ``stream``
    (stderr by default), at ``level``, from a thread of its own."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    _stop_listeners()
    pending: "queue.Queue[Any]" = queue.Queue(-1)
    handler = _BatchingStreamHandler(stream or sys.stderr, pending)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    listener = logging.handlers.QueueListener(pending, handler, respect_handler_level=False)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(logging.handlers.QueueHandler(pending))
    root.setLevel(level)
    listener.start()
    _listeners.append(listener)


atexit.register(_stop_listeners)


__all__ = ["DEFAULT_LIMIT", "FORMATS", "JsonFormatter", "TextFormatter", "configure", "escape"]

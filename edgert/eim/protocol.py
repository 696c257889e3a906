"""The byte level of the ``.eim`` runner protocol: splitting the socket's byte stream into
messages, decoding them, and encoding responses.

Framing is the Edge Impulse runner's (``eim.cpp`` in edgeimpulse/example-standalone-inferencing-
linux): bytes before a message's first ``{`` are ignored, ``{`` and ``}`` are counted (also inside
strings, as the runner and its clients do), and the message ends at the ``}`` that balances them.
A message longer than :data:`MAX_MESSAGE_BYTES` is refused: the official runner prints an error
and exits with the socket left behind; here the client gets an error response, the rest of that
message is skipped (still counting braces), and the connection stays usable.

Responses are one line of JSON followed by ``\\n`` and a NUL byte: the official clients read
until a chunk ends with ``0x00`` (Python) or count braces (Node).

:class:`Framer` scans each received chunk in a few whole-array numpy operations, so the cost
is linear in the bytes received however many messages or braces they hold; the usual chunk,
with a handful of braces, is walked brace by brace instead (``bytes.find``), which costs
less for small requests.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

# the limit and the request-id reader are the error runner's (lifecycle: standard library only)
from .lifecycle import MAX_MESSAGE_BYTES, request_id_in

_OPEN, _CLOSE = ord("{"), ord("}")
#: chunks with at most this many braces are walked brace by brace, others with numpy
_FEW_BRACES = 64


@dataclass(frozen=True)
class Message:
    """A complete message: its bytes (from ``{`` to the balancing ``}``) and the nanoseconds
    between its first byte and its last arriving (the runner's ``stdin`` timing)."""
    data: bytes
    read_ns: int


@dataclass(frozen=True)
class Oversized:
    """A message that grew past the limit; ``request_id`` is the ``"id"`` found in its first
    :data:`MAX_MESSAGE_BYTES` bytes, when there is one."""
    request_id: Optional[int]
    limit: int


Event = Union[Message, Oversized]


class Framer:
    """Feed received bytes with :meth:`feed`; get the complete messages (and refusals of
    oversized ones) in order."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES):
        self.limit = int(limit)
        self._depth = 0                  # unmatched '{' of the message being read (0: between)
        self._parts: list[bytes] = []    # the message being read
        self._size = 0
        self._skipping = False           # the current message was refused: count, don't keep
        self._started_ns = 0

    @property
    def in_message(self) -> bool:
        return self._depth > 0

    def feed(self, data: bytes) -> list[Event]:
        if not data:
            return []
        if data.count(b"{") + data.count(b"}") <= _FEW_BRACES:
            return self._feed_few(data)
        return self._feed_many(data)

    def _feed_few(self, data: bytes) -> list[Event]:
        """The usual chunk (a request has a handful of braces): walk the braces only."""
        events: list[Event] = []
        now = time.perf_counter_ns()
        depth = self._depth
        start = 0 if depth > 0 else None
        next_open, next_close = data.find(b"{"), data.find(b"}")
        while next_open >= 0 or next_close >= 0:     # each brace in order (memchr scans)
            if next_close < 0 or 0 <= next_open < next_close:
                i, next_open = next_open, data.find(b"{", next_open + 1)
                if depth == 0:
                    start = i
                    self._started_ns = now
                depth += 1
            else:
                i, next_close = next_close, data.find(b"}", next_close + 1)
                if depth == 0:
                    continue                  # a '}' between messages is dropped
                depth -= 1
                if depth == 0:
                    assert start is not None
                    self._keep(data, start, i + 1, events)
                    if not self._skipping:
                        events.append(Message(b"".join(self._parts), now - self._started_ns))
                    self._parts, self._size, self._skipping = [], 0, False
                    start = None
        if depth > 0 and start is not None:
            self._keep(data, start, len(data), events)
        self._depth = depth
        return events

    def _feed_many(self, data: bytes) -> list[Event]:
        """A chunk with many braces: whole-array depth walk (linear however many)."""
        raw = np.frombuffer(data, dtype=np.uint8)
        step = (raw == _OPEN).astype(np.int64)
        step -= raw == _CLOSE
        # depth after each byte: a walk from the carried depth that ignores '}' at depth 0
        # (bytes between messages are dropped), i.e. reflected at zero
        walk = np.cumsum(step)
        walk += self._depth
        depth = walk - np.minimum(np.minimum.accumulate(walk), 0)
        before = np.empty_like(depth)
        before[0] = self._depth
        before[1:] = depth[:-1]
        starts = np.flatnonzero((before == 0) & (step == 1))
        ends = np.flatnonzero((before == 1) & (step == -1))
        events: list[Event] = []
        now = time.perf_counter_ns()
        pos = 0 if self._depth > 0 else None   # start of the message piece in this chunk
        si = ei = 0
        while True:
            if pos is None:
                if si >= len(starts):
                    break
                pos = int(starts[si])
                si += 1
                self._started_ns = now
            while ei < len(ends) and ends[ei] < pos:
                ei += 1
            if ei >= len(ends):           # the message continues in the next chunk
                self._keep(data, pos, len(data), events)
                break
            end = int(ends[ei]) + 1
            ei += 1
            self._keep(data, pos, end, events)
            if not self._skipping:
                events.append(Message(b"".join(self._parts), now - self._started_ns))
            self._parts, self._size, self._skipping = [], 0, False
            pos = None
            while si < len(starts) and starts[si] < end:
                si += 1
        self._depth = int(depth[-1])
        return events

    def _keep(self, data: bytes, start: int, end: int, events: list[Event]) -> None:
        if self._skipping:
            return
        n = end - start
        if self._size + n > self.limit:
            head = b"".join(self._parts) + data[start:start + max(0, self.limit - self._size)]
            events.append(Oversized(request_id_in(head), self.limit))
            self._parts, self._size, self._skipping = [], 0, True
            return
        self._parts.append(data[start:end] if (start, end) != (0, len(data)) else data)
        self._size += n


class MalformedMessage(ValueError):
    """A message that is not a JSON object."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode(data: bytes) -> dict[str, Any]:
    """A message as a dict (strict JSON: no NaN/Infinity). MalformedMessage otherwise."""
    try:
        doc = json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedMessage("nested too deeply") from None
    except ValueError as exc:    # JSONDecodeError, UnicodeDecodeError, rejected constants
        raise MalformedMessage(str(exc)) from None
    if not isinstance(doc, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(doc).__name__}")
    return doc


def encode(response: dict[str, Any]) -> bytes:
    """A response as the runner sends it: compact JSON, ``\\n``, NUL."""
    return json.dumps(response, separators=(",", ":"), allow_nan=False).encode() + b"\n\0"


def error(request_id: Optional[int], message: str) -> dict[str, Any]:
    """``{"id": ..., "success": false, "error": ...}`` (no ``id`` when none is known, as the
    runner answers a message without one)."""
    out: dict[str, Any] = {}
    if request_id is not None:
        out["id"] = request_id
    out["success"] = False
    out["error"] = message
    return out


def is_int(v: Any) -> bool:
    """A JSON integer (not a bool, not 1.0): what the runner's ``IsInt()`` accepts."""
    return isinstance(v, int) and not isinstance(v, bool)


def as_count(v: Any) -> Optional[int]:
    """An ``elements`` value as the runner reads it (any JSON number, as an integer), or None
    when it is not a number."""
    if is_int(v):
        return int(v)
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    return None


__all__ = ["MAX_MESSAGE_BYTES", "Framer", "Message", "Oversized", "MalformedMessage", "decode",
           "encode", "error", "request_id_in", "is_int", "as_count"]

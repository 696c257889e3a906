"""Reading a request body over ASGI with a size limit and deadlines, whatever its framing.

The limit counts the bytes that arrive, so it holds for ``Content-Length`` bodies, chunked
bodies (many small chunks, or one with a huge declared size) and anything else alike; the
server's parser has already refused malformed framing (a chunk size of ``-1``) at that point.
A body is read only up to its limit: what a client sends beyond it is never buffered.

Two deadlines, because either alone can be defeated: ``read_timeout`` of silence (a client
that stops sending) and ``deadline`` for the body as a whole (a client that sends a byte just
before each read would time out).
"""
from __future__ import annotations

import asyncio
import sys
from typing import Any, Awaitable, Callable, List, Optional, Union

Receive = Callable[[], Awaitable[Any]]


class BodyError(Exception):
    """The body could not be read; ``status`` is the HTTP answer, ``message`` the reason."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BodyTooLarge(BodyError):
    status = 413

    def __init__(self, limit: int, declared: Optional[int] = None) -> None:
        what = f"body of {declared} bytes" if declared is not None else "body"
        super().__init__(f"{what} exceeds the limit of {limit} bytes")
        self.limit = limit


class BodyTimeout(BodyError):
    status = 408


class ClientDisconnected(BodyError):
    """The client went away (nothing can be answered)."""

    status = 499


if sys.version_info >= (3, 11):
    async def _receive_within(receive: Receive, seconds: float) -> Any:
        async with asyncio.timeout(seconds):
            return await receive()
else:  # pragma: no cover - Python 3.9/3.10
    async def _receive_within(receive: Receive, seconds: float) -> Any:
        return await asyncio.wait_for(receive(), seconds)


def parse_content_length(raw: Union[str, bytes, None]) -> Optional[int]:
    """A Content-Length value (text, or raw header bytes) as a number: None when absent or
    not a non-negative whole number."""
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        return None
    return n if n >= 0 else None


def declared_length(headers: Any) -> Optional[int]:
    """The request's Content-Length as a number (None when absent or not a valid number)."""
    return parse_content_length(headers.get("content-length"))


async def read_body(receive: Receive, *, limit: int, read_timeout: float,
                    deadline: float) -> bytes:
    """The whole body, or :class:`BodyTooLarge` as soon as more than ``limit`` bytes arrived,
    :class:`BodyTimeout` after ``read_timeout`` s of silence or ``deadline`` s in all,
    :class:`ClientDisconnected` when the client went away."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    chunks: List[bytes] = []
    total = 0
    while True:
        left = end - loop.time()
        wait = min(read_timeout, left)
        try:
            if left <= 0:
                raise asyncio.TimeoutError
            message = await _receive_within(receive, wait)
        except asyncio.TimeoutError:
            if wait >= read_timeout:
                raise BodyTimeout(f"Request timeout: the body did not arrive within "
                                  f"{read_timeout:g} s of silence") from None
            raise BodyTimeout(f"Request timeout: the body did not arrive within the deadline "
                              f"of {deadline:g} s") from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("the client closed the connection before its body "
                                     "arrived")
        data = message.get("body", b"")
        if data:
            total += len(data)
            if total > limit:
                raise BodyTooLarge(limit)
            chunks.append(data)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


__all__ = ["BodyError", "BodyTimeout", "BodyTooLarge", "ClientDisconnected", "declared_length",
           "parse_content_length", "read_body"]

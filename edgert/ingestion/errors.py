"""Exceptions of the ingestion package.

They derive from :class:`edgert.errors.EdgertError` (so the CLI reports them cleanly); they live
here rather than in the shared ``edgert/errors.py`` until the lead moves them there.
"""
from __future__ import annotations

from ..errors import EdgertError


class IngestionError(EdgertError, RuntimeError):
    """An upload that failed for good (the server's reason is in the message)."""


class OutboxError(EdgertError, RuntimeError):
    """The outbox database cannot be used (locked by another process, corrupt, closed)."""


class OutboxFull(OutboxError):
    """The outbox is at its byte quota and its policy is to reject new samples. The sample was
    NOT accepted: the producer must keep it, retry later, or raise the quota."""

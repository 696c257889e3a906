"""Ingestion: upload samples to an Edge Impulse-compatible ingestion service without losing
any, and serve the same API locally.

* :class:`IngestionClient` - ``/api/{category}/data`` and ``/files`` over httpx (TLS verified,
  proxies from the environment, connections reused), every response classified (stored /
  duplicate / permanent / retry).
* :class:`Outbox` - durable SQLite (WAL) store-and-forward queue with background senders,
  backoff with jitter, leases, dead letters, disk quota, exactly-once delivery via content
  hashes and ``x-disallow-duplicates``.
* :class:`IngestionService` - the ingestion endpoints without sockets (``handle``), storing
  into :class:`SampleStore` (or the gateway's dataset); :class:`IngestionServer` - the same on
  127.0.0.1 on the web stack of :mod:`edgert.web` (the ``daemon`` extra), with
  :class:`FaultControl` for fault-injection tests.
"""
from .client import (DUPLICATE, PERMANENT, RETRY, STORED, IngestionClient, RetryPolicy,
                     UploadOutcome, parse_retry_after)
from .errors import IngestionError, OutboxError, OutboxFull
from .faults import FaultControl
from .outbox import DeadLetter, Outbox, OutboxStatus
from .protocol import CATEGORIES, FilePart
from .server import IngestionServer
from .service import IngestionService, Response
from .store import SampleStore

__all__ = [
    "CATEGORIES", "DUPLICATE", "PERMANENT", "RETRY", "STORED", "DeadLetter", "FaultControl",
    "FilePart", "IngestionClient", "IngestionError", "IngestionServer", "IngestionService",
    "Outbox", "OutboxError", "OutboxFull", "OutboxStatus", "Response", "RetryPolicy",
    "SampleStore", "UploadOutcome", "parse_retry_after",
]

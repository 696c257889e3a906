"""Anomaly events: what the gateway forwards upstream when its impulse sees something unusual.

An **event** is a run of consecutive windows (window ``i`` and ``i+1`` of one recording) whose
anomaly score is over the bundle's threshold (``min_anomaly_score`` of the first anomaly
block; the same rule that makes Studio predict ``anomaly``). Each event becomes one
data-acquisition document:

* the recording's own rows spanning the event, from the first window's start to the last
  window's end, at the recording's frequency, with all of its sensors: the raw values as the
  device sent them (decoded again from the bytes it sent, at full precision), not the
  features;
* ``device_name`` / ``device_type`` of the source; ``iat`` the source's time when it has one
  (a document's ``iat``, the time an asynchronous request was accepted) - so an event is the
  same bytes however often it is derived from the same source;
* HS256-signed with the project HMAC key (``alg: none`` without one);
* sent as ``POST /api/anomaly/data`` with ``x-label`` = the most frequent top label of the
  classifier over the event's windows (the prediction of those windows is ``anomaly`` by
  definition; ties go to the label with the larger summed probability). Without a classifier
  the event is sent with ``x-no-label``.

Documents are queued in the :class:`~edgert.ingestion.Outbox`, whose idempotency key is the
SHA-256 of the body: deriving an event again (a rescan after a crash, an asynchronous request
re-run after a restart) queues nothing new, and the outbox's ``x-disallow-duplicates``
re-sends make the upstream store it exactly once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from ..acquisition import DataAcquisition, Sensor, decode, encode_json
from ..recording import Recording
from ..web.logs import escape

log = logging.getLogger("edgert.daemon.anomalies")

CATEGORY = "anomaly"


@dataclass(frozen=True)
class AnomalyEvent:
    first: int                #: first window (index in the result)
    last: int                 #: last window (inclusive)
    start_ms: float
    end_ms: float
    label: Optional[str]      #: the most frequent top label, None without a classifier
    max_score: float

    def to_dict(self) -> Dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "windows": self.last -
                self.first + 1, "label": self.label, "max_score": self.max_score}


def find_events(res: Any) -> List[AnomalyEvent]:
    """Runs of consecutive anomalous windows of a
    :class:`~edgert.runtime.results.ClassificationResult`."""
    if res.anomaly is None or not len(res):
        return []
    flags = np.asarray(res.anomalous, dtype=bool)
    if not flags.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2] - 1
    events = []
    probs = res.probabilities
    labels = list(res.labels)
    for a, b in zip(starts.tolist(), ends.tolist()):
        label = None
        if probs is not None and labels:
            block = np.asarray(probs[a:b + 1], dtype=np.float64)
            counts = np.bincount(np.argmax(block, axis=1), minlength=len(labels))
            best = np.flatnonzero(counts == counts.max())
            if len(best) > 1:  # a tie: the larger summed probability
                sums = block.sum(axis=0)
                best = best[np.argsort(-sums[best], kind="stable")]
            label = labels[int(best[0])]
        events.append(AnomalyEvent(a, b, float(res.start_ms[a]), float(res.end_ms[b]), label,
                                   float(np.max(res.anomaly[a:b + 1]))))
    return events


def shortest_float32(values: np.ndarray) -> np.ndarray:
    """float32 samples as the float64 numbers their shortest decimal form names (0.1, not
    0.10000000149011612), so the JSON holds what the device sent."""
    v = np.asarray(values, dtype=np.float32)
    return v.astype(str).astype(np.float64)


def document_values(body: bytes, content_type: Optional[str] = None) -> np.ndarray:
    """The values of a data-acquisition document as sent (float64, or the int16 samples of the
    binary variant), one row per time step."""
    values = np.asarray(decode(body, content_type).values)
    return values.reshape(-1, 1) if values.ndim == 1 else values


Values = Union[np.ndarray, Callable[[], np.ndarray], None]


def event_rows(rec: Recording, event: AnomalyEvent) -> slice:
    """The rows of ``rec`` from the event's first window start to its last window end."""
    f = float(rec.frequency)
    n = int(rec.values.shape[0])
    r0 = max(0, min(n - 1, int(np.floor(event.start_ms * f / 1000.0 + 1e-9))))
    r1 = max(r0 + 1, min(n, int(np.ceil(event.end_ms * f / 1000.0 - 1e-9))))
    return slice(r0, r1)


def event_document(rec: Recording, event: AnomalyEvent, hmac_key: Optional[str],
                   iat: Optional[int] = None, values: Values = None) -> bytes:
    """The signed data-acquisition document (JSON) of one event of ``rec``. ``values``: the
    recording's values as sent (rows as ``rec``; an array or a callable giving one); without
    them, ``rec``'s float32 values in their shortest decimal form."""
    rows = event_rows(rec, event)
    raw = values() if callable(values) else values
    if raw is not None and raw.shape[0] == rec.values.shape[0]:
        chosen = np.asarray(raw[rows])
        chosen = chosen.reshape(-1, 1) if chosen.ndim == 1 else chosen
        out = chosen.astype(np.float64)
    else:
        part = rec.values[rows]
        out = shortest_float32(part.reshape(-1, 1) if part.ndim == 1 else part)
    if iat is None and rec.created is not None:
        iat = int(rec.created.timestamp())
    doc = DataAcquisition(
        device_name=rec.device_name, device_type=rec.device_type or "unknown",
        interval_ms=1000.0 / float(rec.frequency),
        sensors=[Sensor(s.name, s.units) for s in rec.sensors],
        values=out, alg="HS256" if hmac_key else "none", iat=iat)
    return encode_json(doc, hmac_key=hmac_key or None)


def event_filename(source: str, event: AnomalyEvent) -> str:
    stem = source.rsplit("/", 1)[-1]
    for ext in (".json", ".cbor", ".csv"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    return f"{stem}.anomaly-{event.start_ms:.0f}-{event.end_ms:.0f}ms.json"


class EventQueue:
    """Finds the events of a classification and queues their documents in the outbox."""

    def __init__(self, outbox: Any, hmac_key: Optional[str], metrics: Any = None) -> None:
        self.outbox = outbox
        self.hmac_key = hmac_key
        self.metrics = metrics

    def queue(self, rec: Recording, res: Any, source: str, *, origin: str,
              iat: Optional[int] = None, values: Values = None) -> List[Dict[str, Any]]:
        """Queue every event of ``res`` (a classification of ``rec``; ``values``: its values
        as sent, see :func:`event_document`); returns one entry per event (``start_ms``,
        ``end_ms``, ``label``, ``outbox_id``). Raises what the outbox raises
        (:class:`~edgert.ingestion.OutboxFull`): the caller decides what that means."""
        out = []
        events = find_events(res)
        if events and callable(values):
            values = values()
        for ev in events:
            body = event_document(rec, ev, self.hmac_key, iat, values)
            name = event_filename(source, ev)
            oid = self.outbox.enqueue(body, CATEGORY, name, label=ev.label,
                                      content_type="application/json",
                                      no_label=ev.label is None)
            info = ev.to_dict()
            info["outbox_id"] = oid
            info["filename"] = name
            out.append(info)
            if self.metrics is not None:
                self.metrics.anomaly_events.labels(origin).inc()
            log.info("anomaly event %s (%s, %.0f-%.0f ms, %s) queued as outbox #%d",
                     escape(name), origin, ev.start_ms, ev.end_ms, escape(ev.label), oid)
        return out


__all__ = ["AnomalyEvent", "EventQueue", "document_values", "event_document",
           "event_filename", "event_rows", "find_events", "shortest_float32"]

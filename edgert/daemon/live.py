"""Live classification: ``POST /api/classify?sync=true|false`` and ``GET /api/result/{id}``.

Request body: a data-acquisition document (JSON or CBOR, its HS256 signature checked against
the project HMAC key when it has one), or the short form ``{"values": [[...], ...],
"interval_ms": 16}`` with optional ``sensors`` (``[{"name", "units"}]`` or names; default:
the impulse's axes), ``frequency`` (instead of ``interval_ms``), ``device_id``,
``device_name``, ``tenant``, ``filename`` and ``metadata`` (an object of strings). A one-axis
``values`` may be a flat array. Metadata may also come as the ``x-metadata`` header (a JSON
object).

The result object (seed 002's names where they fit, extended for sensor data):

``id``, ``status`` (``{"classify": "accepted" | "in-progress" | "done" | "error"}``),
``device_id`` (``metadata.device_id``, else the request's ``device_id``, else the document's
``device_name``), ``tenant`` (``metadata.tenant``, else the request's, else the bundle's project
owner), ``duration`` (ms of classification) and ``duration_seconds``, ``model`` (the bundle's
project name), ``version`` (its deploy version), ``variant``, ``error_code`` (0 success, 1 the
request could not be classified, 2 internal error) and ``error_msg``, ``labels`` (the labels
whose score is at least the classifier's ``min_score``, highest first, plus ``anomaly`` when
the anomaly score is over the anomaly threshold), ``scores`` (per label the highest
probability over the windows, and ``anomaly``: the highest anomaly score), ``windows`` (per
window ``start_ms``, ``end_ms``, ``label`` - Studio's prediction -, ``scores``, ``anomaly``),
``anomaly_events`` (the events queued upstream, see :mod:`edgert.daemon.anomalies`),
``sample`` (``filename``, ``filesize``, ``interval_ms``, ``sensors``, ``values_count``),
``metadata``, ``created_at``, ``started_at``.

Every result is kept in the daemon's SQLite database (asynchronous ones before they are
answered, so an accepted request is classified after a restart too) for
``results_retention_s``, and POSTed to each configured webhook.
"""
from __future__ import annotations

import datetime as _dt
import functools
import itertools
import json
import logging
import math
import random
import secrets
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import EdgertError
from ..recording import Recording, SensorAxis, read_recording
from ..recording.csv_format import FLOAT32_MAX
from ..web.app import json_bytes, json_loads
from .anomalies import document_values

log = logging.getLogger("edgert.daemon.live")

CT_JSON = "application/json"
CT_CBOR = "application/cbor"
CT_OCTET = "application/octet-stream"
ACCEPTED_TYPES = (CT_JSON, CT_CBOR, CT_OCTET)

ERROR_INPUT = 1
ERROR_INTERNAL = 2
#: Results of at most this many windows are read window by window (from the compiled plan's
#: rows); longer ones through whole-recording arrays.
_WINDOWS_ONE_BY_ONE = 16


def _by_score(item: Tuple[str, float]) -> float:
    return -item[1]


class LiveInputError(EdgertError, ValueError):
    """A live request that cannot be classified; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


_ids = random.Random(secrets.randbits(128))


def new_id() -> str:
    """24 hex characters (seed 002's ids look like MongoDB ObjectIds): the time in seconds,
    then 64 random bits (a generator seeded from the OS once: ids must be unique, not
    secret - reading them needs the API key), so ids sort by creation."""
    return f"{int(time.time()):08x}{_ids.getrandbits(64):016x}"


_tz: List[Any] = [None, 0.0]  # the local time zone's offset, and when it was looked up
_last_text: List[Any] = [(-1, "")]  # (millisecond, its text): the last time made


def now_text(ts: Optional[float] = None) -> str:
    """Local time with its offset and milliseconds, as seed 002 writes it (the offset is
    looked up once a minute: asking the system every time costs more than the rest; the text
    is made once per millisecond)."""
    now = time.time() if ts is None else ts
    ms = round(now * 1e6) // 1000
    last = _last_text[0]
    if ms == last[0] and now - _tz[1] <= 60.0:
        return last[1]
    if _tz[0] is None or now - _tz[1] > 60.0 or now < _tz[1]:
        _tz[0] = _dt.datetime.fromtimestamp(now).astimezone().tzinfo
        _tz[1] = now
    text = _dt.datetime.fromtimestamp(now, _tz[0]).isoformat(timespec="milliseconds")
    _last_text[0] = (ms, text)
    return text


def media_type(content_type: Optional[str], body: bytes) -> str:
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if not ctype:
        head = body.lstrip()[:1]
        return CT_JSON if head in (b"{", b"[") else CT_CBOR
    if ctype.endswith("+json") or ctype == "text/json":
        return CT_JSON
    if ctype not in ACCEPTED_TYPES:
        raise LiveInputError(f"unsupported Content-Type {ctype!r}: send a data-acquisition "
                             "document as application/json or application/cbor, or "
                             '{"values": [[...]], "interval_ms": ...} as application/json', 415)
    return ctype


def header_metadata(raw: Optional[str]) -> Dict[str, str]:
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise LiveInputError('x-metadata must be a JSON object of strings, e.g. '
                             '{"site": "A"}') from None
    return _string_map(doc, "x-metadata")


def _string_map(doc: Any, what: str) -> Dict[str, str]:
    if not isinstance(doc, dict):
        raise LiveInputError(f"{what} must be a JSON object of strings, e.g. {{\"site\": \"A\"}}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}


_SHORT_FORM_KEYS = frozenset({"values", "interval_ms", "frequency", "sensors", "axes",
                              "device_id", "device_name", "device_type", "tenant", "metadata",
                              "filename"})
_chain = itertools.chain.from_iterable


@functools.lru_cache(maxsize=16)
def _default_sensors(axes: Tuple[str, ...]) -> Tuple[SensorAxis, ...]:
    return tuple(SensorAxis(a) for a in axes)


def _float_rows(raw: List[Any]) -> np.ndarray:
    """``values`` as float64: rows of equal length (what devices send) in one pass over the
    numbers, anything else through numpy's nested-list conversion (same numbers; its errors
    are the caller's to report)."""
    first = raw[0]
    if first.__class__ is list:
        width = len(first)
        if width:
            for row in raw:
                if row.__class__ is not list or len(row) != width:
                    break
            else:
                try:
                    return np.fromiter(_chain(raw), np.float64,
                                       len(raw) * width).reshape(-1, width)
                except (ValueError, TypeError, OverflowError):
                    pass  # the general conversion below says what is wrong
    return np.array(raw, dtype=np.float64)


def _short_form(doc: Dict[str, Any], axes: Sequence[str]) -> Tuple[Recording, Dict[str, Any]]:
    """The ``{"values": ..., "interval_ms": ...}`` form as a Recording."""
    for key in doc:
        if key not in _SHORT_FORM_KEYS:
            unknown = sorted(set(doc) - _SHORT_FORM_KEYS)
            raise LiveInputError(f"unknown field(s) {', '.join(unknown)}; the short form takes "
                                 f"{', '.join(sorted(_SHORT_FORM_KEYS))}")
    raw = doc.get("values")
    if not isinstance(raw, list) or not raw:
        raise LiveInputError('"values" must be a non-empty array: one array of numbers per '
                             'time step ([[x, y, z], ...]), or numbers for one axis')
    try:
        exact = _float_rows(raw)
    except (ValueError, TypeError, OverflowError):
        raise LiveInputError('"values" must hold numbers only, every row with as many as '
                             'there are axes ([[x, y, z], ...])') from None
    if exact.ndim == 1:
        exact = exact.reshape(-1, 1)
    if exact.ndim != 2:
        raise LiveInputError(f'"values" must be rows of numbers, got {exact.ndim} levels of '
                             "arrays")
    # (NaN fails both comparisons)
    if exact.size and not (-FLOAT32_MAX <= exact.min() and exact.max() <= FLOAT32_MAX):
        bad = ~(np.abs(exact) <= FLOAT32_MAX)
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise LiveInputError(f"values[{r}][{c}] is {exact[r, c]:g}: every value must be a "
                             f"finite number within float32's range (+-{FLOAT32_MAX:.4g}), "
                             "which impulses compute in (NaN/inf are not numbers)")
    values = exact.astype(np.float32)
    iv, fq = doc.get("interval_ms"), doc.get("frequency")
    try:
        if iv is not None and fq is None:
            if isinstance(iv, bool):
                raise TypeError
            frequency = 1000.0 / float(iv)
        elif fq is not None and iv is None:
            if isinstance(fq, bool):
                raise TypeError
            frequency = float(fq)
        else:
            raise LiveInputError('give the sampling rate as "interval_ms" (ms between two '
                                 'rows) or as "frequency" (Hz), one of them')
    except (TypeError, ValueError, ZeroDivisionError):
        raise LiveInputError('"interval_ms" / "frequency" must be a positive number') from None
    if not (math.isfinite(frequency) and frequency > 0):
        raise LiveInputError('"interval_ms" / "frequency" must be a positive number')
    names = doc.get("sensors", doc.get("axes"))
    if names is None:
        if values.shape[1] != len(axes):
            raise LiveInputError(f"the rows have {values.shape[1]} values but the impulse takes "
                                 f"{len(axes)} axes ({', '.join(axes)}); name the columns with "
                                 '"sensors": ["..."]')
        sensors = _default_sensors(tuple(axes))
    else:
        if not isinstance(names, list) or len(names) != values.shape[1]:
            raise LiveInputError(f'"sensors" must name each of the {values.shape[1]} columns')
        sensors = tuple(SensorAxis(str(s.get("name", "")), str(s.get("units", "N/A")))
                        if isinstance(s, dict) else SensorAxis(str(s)) for s in names)
    for key in ("device_id", "device_name", "device_type", "tenant", "filename"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise LiveInputError(f'"{key}" must be a string')
    meta = _string_map(doc["metadata"], '"metadata"') if doc.get("metadata") is not None else {}
    rec = Recording(values, frequency, sensors, doc.get("filename") or "live",
                    device_name=doc.get("device_name"),
                    device_type=doc.get("device_type") or "unknown", metadata=meta)
    return rec, {"device_id": doc.get("device_id"), "tenant": doc.get("tenant"),
                 "values": exact}


def parse_request(body: bytes, content_type: Optional[str], hmac_key: Optional[str],
                  axes: Sequence[str], header_meta: Optional[Dict[str, str]] = None
                  ) -> Tuple[Recording, Dict[str, Any]]:
    """(recording, request info) of a live request body; :class:`LiveInputError` (400/415)
    with what to fix."""
    if not body:
        raise LiveInputError("empty body: send a data-acquisition document or "
                             '{"values": [[...]], "interval_ms": ...}')
    ctype = media_type(content_type, body)
    extra: Dict[str, Any] = {}
    if ctype == CT_JSON:
        try:
            doc = json_loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise LiveInputError(f"the body is not valid JSON ({exc})") from None
        if isinstance(doc, dict) and "values" in doc and "payload" not in doc:
            rec, extra = _short_form(doc, axes)
        elif isinstance(doc, dict) and "payload" in doc:
            rec = _document(body, ctype, hmac_key)
        else:
            raise LiveInputError('the JSON body must be a data-acquisition document '
                                 '({"protected", "signature", "payload"}) or '
                                 '{"values": [[...]], "interval_ms": ...}')
    else:
        rec = _document(body, ctype, hmac_key)
    meta = dict(rec.metadata)
    meta.update(header_meta or {})
    info = {"device_id": meta.get("device_id") or extra.get("device_id") or rec.device_name
            or "", "tenant": meta.get("tenant") or extra.get("tenant"), "metadata": meta,
            "filename": rec.filename, "filesize": len(body)}
    # the values as sent, for anomaly event documents (computed only if there is an event)
    sent = extra.get("values")
    info["values"] = sent if sent is not None else (lambda: document_values(body, ctype))
    return rec, info


def _document(body: bytes, ctype: str, hmac_key: Optional[str]) -> Recording:
    try:
        return read_recording(body, "live", hmac_key, content_type=ctype, document=True)
    except EdgertError as exc:
        raise LiveInputError(f"not a valid data-acquisition document: "
                             f"{str(exc).removeprefix('live: ')}") from None


class SyncRequest:
    """A synchronous request between its steps (see :meth:`LiveService.parse_sync`)."""

    __slots__ = ("rid", "created", "rec", "info", "iat", "started", "res", "seconds", "wins")

    def __init__(self, rid: str, created: str, rec: Recording, info: Dict[str, Any]) -> None:
        self.rid = rid
        self.created = created
        self.rec = rec
        self.info = info
        self.iat = int(time.time())
        self.started = ""
        self.res: Any = None
        self.seconds = 0.0
        self.wins: Optional[List[Any]] = None   # the result's WindowResults


class LiveService:
    """Sync and async classification requests, their results and webhooks (thread-side: every
    method runs on a worker thread)."""

    def __init__(self, *, impulse: Any, classifier: Any, db: Any, events: Any,
                 webhook_urls: Sequence[str], hmac_key: Optional[str],
                 on_delivery: Callable[[], None] = lambda: None, metrics: Any = None) -> None:
        self.impulse = impulse
        self.classifier = classifier
        self.db = db
        self.events = events
        self.webhook_urls = list(webhook_urls)
        self.hmac_key = hmac_key
        self.on_delivery = on_delivery
        self.metrics = metrics
        project = dict(impulse.bundle.project)
        self.model = str(project.get("name") or f"impulse {impulse.bundle.impulse_id}")
        self.version = str(project.get("deploy_version", ""))
        self.tenant = str(project.get("owner") or "default")
        self.axes = tuple(impulse.axes)
        self.window_samples = int(impulse.window_samples)
        self.window_increase = max(1, int(impulse.window_increase_samples))

    # -- building results -------------------------------------------------------------------
    def _base(self, rid: str, info: Dict[str, Any], created_at: str) -> Dict[str, Any]:
        # (info["values"] is a callable for event documents; never part of the result)
        return {"id": rid, "status": {"classify": "accepted"},
                "device_id": info.get("device_id") or "",
                "tenant": info.get("tenant") or self.tenant, "duration": 0,
                "duration_seconds": 0, "model": self.model, "version": self.version,
                "error_code": 0, "error_msg": "", "labels": [], "scores": {}, "windows": [],
                "anomaly_events": [], "sample": {}, "metadata": info.get("metadata") or {},
                "created_at": created_at, "started_at": None}

    @staticmethod
    def _windows(res: Any) -> List[Any]:
        """The WindowResults of ``res``: a few one by one (read straight from the compiled
        plan's rows: no whole-recording arrays are made), many through whole-array
        conversions."""
        n = len(res)
        return [res[w] for w in range(n)] if n <= _WINDOWS_ONE_BY_ONE else list(res)

    def _result(self, rid: str, res: Any, rec: Recording, info: Dict[str, Any],
                created_at: str, started_at: str, seconds: float,
                events: List[Dict[str, Any]], wins: Optional[List[Any]] = None
                ) -> Dict[str, Any]:
        out = self._base(rid, info, created_at)
        n = len(res)
        if wins is None:
            wins = self._windows(res)
        names = res.labels                   # the first classifier's (none: no scores)
        has_anomaly = bool(res.anomaly_blocks)
        windows: List[Dict[str, Any]] = []
        for win in wins:
            entry = {"start_ms": win.start_ms, "end_ms": win.end_ms, "label": win.label,
                     "scores": win.scores if names else {}}
            if has_anomaly:
                entry["anomaly"] = win.anomaly
            windows.append(entry)
        scores: Dict[str, float] = {}
        labels: List[str] = []
        if names:
            # per label the highest probability over the windows
            scores = dict(wins[0].scores) if n else dict.fromkeys(names, 0.0)
            for win in wins[1:]:
                for k, v in win.scores.items():
                    if v > scores[k]:
                        scores[k] = v
            min_score = res.min_score
            labels = [lab for lab, s in sorted(scores.items(), key=_by_score) if s >= min_score]
        if has_anomaly and n:
            top = max(win.anomaly for win in wins)
            scores["anomaly"] = top
            if top > res.anomaly_threshold:
                labels.append("anomaly")
        out.update({
            "status": {"classify": "done"}, "duration": int(round(seconds * 1000.0)),
            "duration_seconds": int(seconds), "variant": res.variant, "labels": labels,
            "scores": scores, "windows": windows, "anomaly_events": events,
            "sample": {"filename": rec.filename, "filesize": info.get("filesize", 0),
                       "interval_ms": rec.interval_ms, "sensors": rec.sensors_json(),
                       "values_count": int(rec.values.shape[0])},
            "started_at": started_at})
        return out

    def _error(self, rid: str, info: Dict[str, Any], created_at: str, started_at: str,
               code: int, message: str) -> Dict[str, Any]:
        out = self._base(rid, info, created_at)
        out.update({"status": {"classify": "error"}, "error_code": code, "error_msg": message,
                    "started_at": started_at})
        return out

    def _deliveries(self, text: bytes) -> List[Tuple[str, bytes]]:
        return [(url, text) for url in self.webhook_urls]

    @staticmethod
    def _anomalous(res: Any, wins: Optional[List[Any]] = None) -> bool:
        if wins is not None:
            return any(w.anomalous for w in wins)
        return bool(res.anomaly_blocks) and bool(res.anomalous.any())

    def _events(self, rid: str, rec: Recording, res: Any, info: Dict[str, Any],
                iat: Optional[int], wins: Optional[List[Any]] = None) -> List[Dict[str, Any]]:
        """Queue the anomaly events of ``res`` in the outbox (a committed SQLite write)."""
        if not self._anomalous(res, wins):
            return []
        try:
            return self.events.queue(rec, res, f"live-{rid}", origin="live", iat=iat,
                                     values=info.get("values"))
        except EdgertError as exc:  # the outbox is full: said in the result and the log
            log.error("result %s: anomaly events not queued: %s", rid, exc)
            return [{"error": f"not queued: {exc}"}]

    def _classify(self, rid: str, rec: Recording, info: Dict[str, Any], created_at: str,
                  iat: Optional[int]) -> Dict[str, Any]:
        started = now_text()
        t0 = time.perf_counter()
        res = self.classifier.classify(rec, source="live")
        seconds = time.perf_counter() - t0
        events = self._events(rid, rec, res, info, iat)
        return self._result(rid, res, rec, info, created_at, started, seconds, events)

    # -- synchronous --------------------------------------------------------------------------
    # A synchronous request goes through three steps: parse (CPU), classify (CPU, mostly C),
    # finish (anomaly events into the outbox, the result stored, webhook deliveries: SQLite).
    # The endpoint runs on the event loop what is short and free of I/O - a small body, a
    # recording of a few windows in the impulse's own layout, no event and no webhook - and
    # hands the rest to a worker thread (see LiveEndpoint in edgert.daemon.app).
    def parse_sync(self, body: bytes, content_type: Optional[str],
                   meta_header: Optional[str]) -> "SyncRequest":
        """Step 1: the request parsed (:class:`LiveInputError` for bad input)."""
        created = now_text()
        rec, info = parse_request(body, content_type, self.hmac_key, self.axes,
                                  header_metadata(meta_header))
        return SyncRequest(new_id(), created, rec, info)

    def quick(self, req: "SyncRequest", max_windows: int) -> bool:
        """The recording runs the impulse's lean path (its columns, rate and dtype) and has at
        most ``max_windows`` windows: classifying it costs microseconds."""
        return self.classifier.lean(req.rec) and \
            self.impulse_windows(req.rec.values.shape[0]) <= max_windows

    def impulse_windows(self, rows: int) -> int:
        W, S = self.window_samples, self.window_increase
        return (rows - W) // S + 1 if rows >= W else 1

    def classify_sync(self, req: "SyncRequest") -> None:
        """Step 2: classify (:class:`EdgertError` for input the impulse refuses)."""
        req.started = now_text()
        t0 = time.perf_counter()
        req.res = res = self.classifier.classify(req.rec, source="live")
        req.seconds = time.perf_counter() - t0
        req.wins = self._windows(res)

    def finish_needs_io(self, req: "SyncRequest") -> bool:
        """Step 3 writes more than the batched result: anomaly events or webhook deliveries."""
        return bool(self.webhook_urls) or self._anomalous(req.res, req.wins)

    def finish_sync(self, req: "SyncRequest") -> bytes:
        """Step 3 (classifying first if step 2 has not run): the result object as JSON bytes,
        its anomaly events queued, stored and sent to the webhooks."""
        if req.res is None:
            self.classify_sync(req)
        events = self._events(req.rid, req.rec, req.res, req.info, req.iat, req.wins)
        result = self._result(req.rid, req.res, req.rec, req.info, req.created, req.started,
                              req.seconds, events, req.wins)
        text = json_bytes(result)
        rid, created = req.rid, req.created
        if self.webhook_urls:  # deliveries are stored with the result before the answer
            self.db.finish(rid, "done", text, created, self._deliveries(text))
            self.on_delivery()
        else:  # the answer carries the result; stored within milliseconds, in batches
            self.db.finish_soon(rid, "done", text, created)
        return text

    def run_sync(self, body: bytes, content_type: Optional[str],
                 meta_header: Optional[str]) -> bytes:
        """All three steps (on a worker thread): the result object as JSON bytes (also stored
        and sent to the webhooks). :class:`LiveInputError` / :class:`EdgertError` for bad
        input."""
        return self.finish_sync(self.parse_sync(body, content_type, meta_header))

    # -- asynchronous -------------------------------------------------------------------------
    def accept(self, body: bytes, content_type: Optional[str],
               meta_header: Optional[str]) -> Tuple[str, str]:
        """Validate and store the request; (id, accepted_at). Classified later by
        :meth:`process` (also after a restart)."""
        created = now_text()
        rec, info = parse_request(body, content_type, self.hmac_key, self.axes,
                                  header_metadata(meta_header))
        # what the impulse would refuse is refused now: columns, values, length
        data = self.impulse.prepare(rec)
        self.impulse.windows(int(data.shape[0]))
        rid = new_id()
        info = {k: v for k, v in info.items() if k != "values"}
        info["meta_header"] = meta_header
        info["iat"] = int(time.time())
        self.db.accept(rid, created, body, content_type or "", info)
        return rid, created

    def process(self, rid: str) -> bool:
        """Classify an accepted request (idempotent: anything already finished is left
        alone); True when a result was stored."""
        pending = self.db.pending_body(rid)
        got = self.db.result(rid)
        if pending is None or got is None:
            return False
        _, body, ctype, req = pending
        created = got[2]
        started = now_text()
        self.db.set_status(rid, "in-progress")
        try:
            rec, info = parse_request(body, ctype, self.hmac_key, self.axes,
                                      header_metadata(req.get("meta_header")))
            result = self._classify(rid, rec, info, created, req.get("iat"))
            status = "done"
        except EdgertError as exc:
            result = self._error(rid, req, created, started, ERROR_INPUT, str(exc))
            status = "error"
        except Exception as exc:  # noqa: BLE001 - stored as this request's error
            log.exception("result %s: classification failed", rid)
            result = self._error(rid, req, created, started, ERROR_INTERNAL,
                                 f"internal error ({type(exc).__name__}); see the daemon log")
            status = "error"
        text = json_bytes(result)
        self.db.finish(rid, status, text, created, self._deliveries(text))
        if self.webhook_urls:
            self.on_delivery()
        return True

    def get(self, rid: str) -> Optional[Dict[str, Any]]:
        got = self.db.result(rid)
        if got is None:
            return None
        status, result, created, req = got
        if result is not None:
            return result
        out = self._base(rid, req, created)
        out["status"] = {"classify": status}
        return out

    def unfinished(self) -> List[str]:
        ids = self.db.unfinished()
        if ids:
            log.info("%d accepted classification request(s) from before the restart are "
                     "classified now", len(ids))
        return ids


__all__ = ["LiveInputError", "LiveService", "header_metadata", "media_type", "new_id",
           "now_text", "parse_request", "SyncRequest"]

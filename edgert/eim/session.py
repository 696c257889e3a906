"""What the runner answers to each request of one connection (no sockets here: the server in
:mod:`edgert.eim.server` feeds decoded messages to :meth:`Session.handle`).

Requests, in the order Edge Impulse's runner checks them, with its error texts:

- a message without an integer ``id``: ``Missing 'id' field in message`` (no id echoed);
- ``hello`` (once; ``1`` only): the model's description, and the shared-memory segment for
  ``classify_shm``; a second hello: ``Invalid message 'hello', already initialized``;
- anything before hello: ``Invalid message, should initialize first``;
- ``classify`` (an array of ``input_features_count`` numbers), ``classify_shm``
  (``{"elements": input_features_count}``, values already in the segment),
  ``classify_continuous`` (``slice_size`` numbers), ``classify_continuous_shm``;
- ``set_threshold`` (``{"id": learn block id, key: number, ...}``);
- anything else: ``Failed to handle message``.

A classification answers ``{"id", "success": true, "result": {"classification": {label: p},
"anomaly": s}, "timing": {...}, "prediction": ...}``: ``result`` as the SDK builds it (the
first classifier's probabilities, the first anomaly block's score when there is one),
``timing`` in whole milliseconds (truncated, as the SDK's ``us / 1000``) plus the same in
microseconds (``*_us``), and ``prediction``, an edgert addition: Studio's label for the result
under the current thresholds (a label, ``uncertain`` or ``anomaly``).
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Any, Callable, Optional

import numpy as np

from ..errors import EdgertError
from .lifecycle import stop_signals_blocked
from .model import ContinuousClassifier, EimModel, WindowOutcome
from .protocol import as_count, error, is_int
from .shm import FeatureSegment, SharedMemoryUnavailable

log = logging.getLogger("edgert.eim")

#: request keys the runner knows, in the order it dispatches them
REQUESTS = ("hello", "classify", "classify_shm", "classify_continuous",
            "classify_continuous_shm", "set_threshold")


class Session:
    """The state of one connection: initialised or not, the shared-memory segment, the
    continuous-mode window. ``make_segment``: creates the segment at hello (None: no shared
    memory offered); ``debug_out``: where ``"debug": true`` requests write their features."""

    def __init__(self, model: EimModel,
                 make_segment: Optional[Callable[[int], FeatureSegment]] = FeatureSegment,
                 debug_out: Optional[Callable[[str], None]] = None):
        self.model = model
        self.make_segment = make_segment
        self.debug_out = debug_out or _stderr_line
        self.initialized = False
        self.segment: Optional[FeatureSegment] = None
        self.segment_error: Optional[str] = None
        self.continuous: Optional[ContinuousClassifier] = None

    def close(self) -> None:
        """Release the shared-memory segment (idempotent)."""
        if self.segment is not None:
            self.segment.close()
            self.segment = None

    # ---------------------------------------------------------------------- dispatch
    def handle(self, msg: dict[str, Any], json_ns: int = 0, read_ns: int = 0) -> dict[str, Any]:
        """The response to one decoded message."""
        entered = time.perf_counter_ns()
        rid = msg.get("id")
        if not is_int(rid):
            return error(None, "Missing 'id' field in message")
        if is_int(msg.get("hello")):
            return self._hello(rid, msg["hello"])
        if not self.initialized:
            return error(rid, "Invalid message, should initialize first")
        timing = (entered, json_ns, read_ns)
        if isinstance(msg.get("classify"), list):
            return self._classify(rid, msg, msg["classify"], timing)
        if isinstance(msg.get("classify_shm"), dict):
            return self._classify_shm(rid, msg, msg["classify_shm"], timing, continuous=False)
        if isinstance(msg.get("classify_continuous"), list):
            return self._classify_continuous(rid, msg, msg["classify_continuous"], timing)
        if isinstance(msg.get("classify_continuous_shm"), dict):
            return self._classify_shm(rid, msg, msg["classify_continuous_shm"], timing,
                                      continuous=True)
        if isinstance(msg.get("set_threshold"), dict):
            return self._set_threshold(rid, msg["set_threshold"])
        return error(rid, "Failed to handle message")

    # ------------------------------------------------------------------------- hello
    def _hello(self, rid: int, version: int) -> dict[str, Any]:
        if self.initialized:
            return error(rid, "Invalid message 'hello', already initialized")
        if version != 1:
            return error(rid, "Invalid value for 'hello', only 1 supported")
        self.close()
        self.segment_error = None
        if self.make_segment is not None:
            try:
                # a stop signal waits until the segment is recorded for the cleanup
                with stop_signals_blocked():
                    self.segment = self.make_segment(self.model.input_features_count)
            except SharedMemoryUnavailable as exc:
                self.segment_error = str(exc)
                log.warning("no shared memory for classify_shm: %s", exc)
        self.continuous = self.model.continuous()
        resp: dict[str, Any] = {"id": rid, "success": True}
        resp.update(self.model.hello())
        if self.segment is not None:
            resp["features_shm"] = self.segment.describe()
        elif self.segment_error:
            resp["features_shm_error"] = self.segment_error
        self.initialized = True
        return resp

    # ------------------------------------------------------------------- classification
    def _classify(self, rid: int, msg: dict[str, Any], values: list,
                  timing: tuple[int, int, int]) -> dict[str, Any]:
        arr = _numbers(values)
        if arr is None:
            return error(rid, "Failed to parse classify array, should contain all numbers")
        expected = self.model.input_features_count
        if arr.size != expected:
            return error(rid, f"Invalid number of features in 'classify', expected {expected} "
                              f"but got {arr.size}")
        return self._run(rid, msg, lambda: self.model.classify_window(arr), timing)

    def _classify_continuous(self, rid: int, msg: dict[str, Any], values: list,
                             timing: tuple[int, int, int]) -> dict[str, Any]:
        arr = _numbers(values)
        if arr is None:
            return error(rid, "Failed to parse classify array, should contain all numbers")
        expected = self.model.slice_size
        if arr.size != expected:
            return error(rid, f"Invalid number of features in 'classify_continuous', expected "
                              f"{expected} but got {arr.size}")
        assert self.continuous is not None
        return self._run(rid, msg, lambda: self.continuous.push(arr), timing)

    def _classify_shm(self, rid: int, msg: dict[str, Any], req: dict[str, Any],
                      timing: tuple[int, int, int], continuous: bool) -> dict[str, Any]:
        what = "classify_data_continuous_shm" if continuous else "classify_data_shm"
        if self.segment is None:
            return error(rid, f"Cannot use '{what}', cannot find shm input tensor with ix=0")
        expected = self.model.slice_size if continuous else self.model.input_features_count
        elements = as_count(req.get("elements"))
        if elements != expected:
            if elements is None:
                return error(rid, f"Missing 'elements' in '{what}'")
            return error(rid, f"Invalid value for '{what}.elements', expected {expected}, but "
                              f"got {elements}")
        arr = self.segment.read(expected)
        if continuous:
            assert self.continuous is not None
            return self._run(rid, msg, lambda: self.continuous.push(arr), timing)
        return self._run(rid, msg, lambda: self.model.classify_window(arr), timing)

    def _run(self, rid: int, msg: dict[str, Any], work: Callable[[], WindowOutcome],
             timing: tuple[int, int, int]) -> dict[str, Any]:
        try:
            out = work()
        except EdgertError as exc:   # NaN/inf or out-of-range values, a failing block
            return error(rid, f"Classifying failed: {exc}")
        except Exception as exc:     # a bug must not take the runner (and the client) down
            log.exception("classification failed")
            return error(rid, f"Classifying failed: {type(exc).__name__}: {exc}")
        if msg.get("debug") is True:
            self._debug(out)
        return self._result(rid, out, timing)

    def _result(self, rid: int, out: WindowOutcome,
                timing: tuple[int, int, int]) -> dict[str, Any]:
        entered, json_ns, read_ns = timing
        result: dict[str, Any] = {}
        if self.model.labels and out.probabilities is not None:
            # float32 values written in their shortest float32 form (as the SDK prints them)
            result["classification"] = {lab: _f32(v) for lab, v in
                                        zip(self.model.labels, out.probabilities.tolist())}
        if out.anomaly is not None:
            result["anomaly"] = _f32(out.anomaly)
        handler_ns = time.perf_counter_ns() - entered
        us = {"dsp": out.dsp_ns // 1000, "classification": out.classification_ns // 1000,
              "anomaly": out.anomaly_ns // 1000, "json": json_ns // 1000,
              "stdin": read_ns // 1000, "msg_handler": handler_ns // 1000}
        timing_doc: dict[str, int] = {k: v // 1000 for k, v in us.items()}
        timing_doc.update({f"{k}_us": v for k, v in us.items()})
        return {"id": rid, "success": True, "result": result, "timing": timing_doc,
                "prediction": self.model.prediction(out)}

    def _debug(self, out: WindowOutcome) -> None:
        for bid, f in out.features.items():
            self.debug_out(f"Features of DSP block {bid} ({out.dsp_ns // 1_000_000} ms.): "
                           + " ".join(f"{v:.6g}" for v in np.asarray(f).reshape(-1).tolist()))

    # --------------------------------------------------------------------- thresholds
    def _set_threshold(self, rid: int, req: dict[str, Any]) -> dict[str, Any]:
        bid = req.get("id")
        if not is_int(bid):
            return error(rid, "set_threshold should have a numeric field 'id'")
        current = self.model.thresholds.get(bid)
        if current is None:
            return error(rid, f"set_threshold: cannot find learn block with id {bid}")
        updates: dict[str, float] = {}
        for key, value in req.items():
            if key in ("id", "type"):
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return error(rid, f"set_threshold, value for '{key}' should be numeric")
            if key not in current:
                # the SDK's EI_IMPULSE_POSTPROCESSING_THRESHOLD_KEY_NOT_FOUND
                return error(rid, f"set_threshold, setting key '{key}' failed with error -34")
            updates[key] = float(value)
        current.update(updates)        # all or nothing: nothing changes on an error
        return {"id": rid, "success": True}


def _numbers(values: list) -> Optional[np.ndarray]:
    """A JSON array of numbers as float32 (None when an element is not a number; values
    beyond float32's range become inf and are refused by the classification)."""
    kinds = set(map(type, values))
    if not kinds <= {int, float}:
        return None
    try:
        with np.errstate(over="ignore"):
            return np.asarray(values, dtype=np.float64).astype(np.float32)
    except OverflowError:            # an integer beyond float64
        return np.full(len(values), np.inf, dtype=np.float32)


def _f32(v: float) -> float:
    """A float32 value as the shortest decimal that reads back to it."""
    return float(str(np.float32(v)))


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr)


__all__ = ["Session", "REQUESTS"]

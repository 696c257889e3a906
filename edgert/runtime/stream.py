"""Continuous classification of a live sensor stream.

Edge Impulse's SDK offers ``run_classifier_continuous`` for audio only; for spectral impulses
the pattern is: keep the last window of raw samples in a ring buffer and classify it every
``window_increase`` worth of new samples. :class:`Stream` does exactly that, with the impulse's
own windows (the k-th result, ``index`` k, covers samples ``k*S .. k*S+W-1`` of the stream), so
its numbers equal :meth:`edgert.runtime.impulse.Impulse.classify` on the same data. ``push``
accepts chunks of any size; all windows that become due in one push are computed in one C call
of the impulse's compiled plan (:mod:`edgert.runtime.impulse_plan`): a push costs one checked
copy of the chunk into the stream's sample buffer and, when windows are due, that call and the
result objects. Impulses the plan cannot represent take the batch path (same numbers).

Audio impulses (every DSP block MFCC, MFE or spectrogram, as Edge Impulse's
``run_classifier_continuous`` requires) are streamed slice by slice, a slice being the window
increase: :class:`edgert.runtime.continuous.SliceFeatures` computes the frames each slice adds
once and keeps them while the window slides, runs the blocks' whole-window steps on the
assembled window, and the networks of all windows a push completes run in one batched call.
The numbers are still ``Impulse.classify``'s, bit for bit; the DSP cost per window is the
slice's frames plus the whole-window step instead of the whole window
(``Stream.continuous`` tells which path a stream takes; ``Impulse.stream(continuous=False)``
computes whole windows instead, ``True`` refuses an impulse that cannot be streamed slice by
slice).

Optional smoothing (:class:`Smoothing`): the average of the last ``window`` results per class
(divided by the number of results actually held, so the first results are not diluted), a
detection threshold on that average, and suppression of repeated detections of the same label.
``Smoothing(sdk_filter=True)`` averages as Edge Impulse's SDK did instead (its moving-average
filter up to April 2022: zero-filled ring, float32 running sum divided by ``window``, anomaly
not averaged; :class:`edgert.runtime.continuous.MovingAverageFilter`); ``Smoothing.sdk(slices)``
is that filter with the SDK's size, ``slices // 2``.
"""
from __future__ import annotations

import operator
from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

from .._ffi import ffi, lib
from ..errors import ConfigurationError, InputError
from .continuous import MovingAverageFilter, SliceFeatures, continuous_unsupported_reason
from .impulse_plan import PASS_WINDOWS
from .results import ClassificationResult, WindowResult, result_layout

_F32 = np.dtype(np.float32)
_NDARRAY = np.ndarray
_COPY_FINITE = lib.edgert_copy_finite
_FROM_BUFFER = ffi.from_buffer
_FLOATS = ffi.typeof("float[]")
_RUN_BOUND = lib.edgert_impulse_run_bound


@dataclass(frozen=True)
class Smoothing:
    """``window``: results averaged; ``threshold``: minimum averaged probability for a
    detection; ``suppress_repeats``: report a label again only after another label (or
    nothing) was detected in between; ``sdk_filter``: average as Edge Impulse's SDK's
    moving-average filter did (divide by ``window`` from the first result on, float32 running
    sum, anomaly score not averaged) instead of over the results held."""
    window: int = 4
    threshold: float = 0.6
    suppress_repeats: bool = True
    sdk_filter: bool = False

    @classmethod
    def sdk(cls, slices_per_window: int = 4, threshold: float = 0.6,
            suppress_repeats: bool = True) -> "Smoothing":
        """The SDK's filter as ``run_classifier_continuous`` applied it: over
        ``EI_CLASSIFIER_SLICES_PER_MODEL_WINDOW / 2`` results (at least 1)."""
        return cls(max(1, int(slices_per_window) // 2), threshold, suppress_repeats, True)

    def __post_init__(self) -> None:
        if int(self.window) < 1:
            raise ConfigurationError(f"smoothing window must be >= 1, got {self.window}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ConfigurationError(f"smoothing threshold must be in 0..1, got "
                                     f"{self.threshold}")


_STREAM_FIELDS = ("window", "smoothed", "smoothed_anomaly", "detection", "suppressed")


class StreamResult:
    """A window's raw result plus, with smoothing, the averaged scores and the detection.

    Immutable, fields ``window, smoothed, smoothed_anomaly, detection, suppressed`` (the
    constructor's order; all but ``window`` optional); equal when every field is. Slotted, as
    :class:`~edgert.runtime.results.WindowResult`: one is made per window a push delivers."""

    __slots__ = ("_window", "_smoothed", "_smoothed_anomaly", "_detection", "_suppressed")

    def __init__(self, window: WindowResult, smoothed: Optional[Mapping[str, float]] = None,
                 smoothed_anomaly: Optional[float] = None, detection: Optional[str] = None,
                 suppressed: bool = False):
        self._window = window
        self._smoothed = smoothed
        self._smoothed_anomaly = smoothed_anomaly
        self._detection = detection
        self._suppressed = suppressed

    window = property(operator.attrgetter("_window"), doc="the window's WindowResult")
    smoothed = property(operator.attrgetter("_smoothed"),
                        doc="label -> averaged probability (None without smoothing)")
    smoothed_anomaly = property(operator.attrgetter("_smoothed_anomaly"),
                                doc="the averaged anomaly score (None without one)")
    detection = property(operator.attrgetter("_detection"),
                         doc="the label (or anomaly) detected on the averages, None")
    suppressed = property(operator.attrgetter("_suppressed"),
                          doc="a repeated detection that suppress_repeats held back")

    @property
    def start_ms(self) -> float:
        return self._window.start_ms

    @property
    def scores(self) -> Mapping[str, float]:
        return self._window.scores

    @property
    def anomaly(self) -> Optional[float]:
        return self._window.anomaly

    def _astuple(self) -> tuple:
        return (self._window, self._smoothed, self._smoothed_anomaly, self._detection,
                self._suppressed)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._astuple() == other._astuple()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "StreamResult(" + ", ".join(f"{k}={v!r}" for k, v in
                                           zip(_STREAM_FIELDS, self._astuple())) + ")"

    def __reduce__(self) -> tuple:
        return (StreamResult, self._astuple())


class _Ring:
    """The last ``capacity`` rows of the stream."""

    def __init__(self, capacity: int, n_axes: int):
        self.buf = np.zeros((capacity, n_axes), dtype=np.float32)
        self.capacity = capacity
        self.pos = 0        # next row to write
        self.size = 0

    def write(self, rows: np.ndarray) -> None:
        rows = rows[-self.capacity:]
        n = rows.shape[0]
        first = min(n, self.capacity - self.pos)
        self.buf[self.pos:self.pos + first] = rows[:first]
        self.buf[:n - first] = rows[first:]
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.capacity, self.size + n)

    def last(self, n: int) -> np.ndarray:
        if n > self.size:
            raise ValueError("ring buffer underflow")
        idx = (self.pos - n + np.arange(n)) % self.capacity
        return self.buf[idx]


class Stream:
    """Feed samples with :meth:`push`; get the results that became due."""

    def __init__(self, impulse: Any, smoothing: Optional[Smoothing] = None,
                 variant: Optional[str] = None, continuous: Optional[bool] = None):
        self.impulse = impulse
        self._want_continuous = continuous
        self.variant = impulse.resolve_variant(variant)
        self.smoothing = smoothing
        self.W = impulse.window_samples
        self.S = impulse.window_increase_samples
        self.n_axes = len(impulse.axes)
        #: the anomaly threshold and the anomaly prediction's name that smoothing detects by
        self._layout = result_layout(impulse.bundle)
        self._total = 0          # rows received so far
        self._next = 0           # start row of the next window to emit
        self._held: deque = deque(maxlen=smoothing.window if smoothing else 1)
        self._maf: Optional[MovingAverageFilter] = None
        if smoothing is not None and smoothing.sdk_filter:
            self._maf = MovingAverageFilter(smoothing.window, len(impulse.labels))
        self._last_detection: Optional[str] = None
        self._slices: Optional[SliceFeatures] = None
        self._plan = None
        reason = continuous_unsupported_reason(impulse)
        if continuous and reason is not None:
            raise ConfigurationError(f"this impulse cannot be streamed slice by slice: {reason}")
        if reason is None and continuous is not False:
            # audio: slice by slice; windows end on slice boundaries after (-W) % S lead rows;
            # the learn blocks of the windows a push completes in one call of the compiled
            # plan when there is one (edgert_impulse_run_features), else the batch path
            self._slices = SliceFeatures(impulse, self.S, lead=(-self.W) % self.S)
            self._learn_plan = impulse._plan_or_none(self.variant)
            if self._learn_plan is not None:
                self._out = self._learn_plan.buffers(PASS_WINDOWS)
                self._ms_per_row = 1000.0 / float(impulse.frequency)
            return
        self._plan = impulse._plan_or_none(self.variant)
        if self._plan is None:
            self._ring = _Ring(self.W, self.n_axes)
            return
        # the rows from the next window's start on, contiguous: _rows[i] is stream row
        # _base + i, _fill rows held; room for a window plus `capacity` increases, so one
        # push of up to that many windows is one C call
        self._out = self._plan.buffers(PASS_WINDOWS)
        self._args = self._out.args
        self._read = self._plan.window_result
        cap = self.W + PASS_WINDOWS * self.S
        self._rows = np.zeros((cap, self.n_axes), dtype=np.float32)
        self._rows_ptr = ffi.from_buffer("float[]", self._rows, require_writable=True)
        # a pointer to every row, made once (pointer arithmetic on a cffi pointer makes a new
        # object per push; a list index does not)
        self._row_ptrs = [self._rows_ptr + i * self.n_axes for i in range(cap)]
        self._cap = cap
        self._base = 0
        self._fill = 0
        self._ms_per_row = 1000.0 / float(impulse.frequency)

    @property
    def samples_received(self) -> int:
        return self._total

    @property
    def continuous(self) -> bool:
        """Whether this stream computes audio features slice by slice (see the module
        docstring), rather than whole windows."""
        return self._slices is not None

    def reset(self) -> None:
        """Forget everything received (a new, independent stream)."""
        self.__init__(self.impulse, self.smoothing, self.variant,  # type: ignore[misc]
                      self._want_continuous)

    def _validate(self, samples: Any) -> np.ndarray:
        """:meth:`_chunk`, with NaN/inf refused up front (the batch and slice-by-slice paths
        copy no values through the checked C copy)."""
        arr = self._chunk(samples)
        if not np.isfinite(arr).all():
            raise InputError("the chunk holds NaN/inf values; nothing of it was used")
        return arr

    def push(self, samples: Any) -> list[StreamResult]:
        """Append samples ((rows, axes) or flat interleaved); returns the results of every
        window that became complete, oldest first. A chunk holding NaN/inf is refused whole
        (InputError; nothing of it is used)."""
        if self._slices is not None:
            return self._push_slices(samples)
        if self._plan is None:
            return self._push_batch(samples)
        # the compiled-plan path: one checked copy into the sample buffer, then one C call
        # for the windows the chunk completes
        src = None
        if type(samples) is _NDARRAY and samples.dtype is _F32:
            shape = samples.shape
            if len(shape) == 2 and shape[1] == self.n_axes:
                try:
                    src = _FROM_BUFFER(_FLOATS, samples)   # refuses a strided view
                    chunk = samples
                except ValueError:
                    pass
        if src is None:
            chunk = self._chunk(samples)
            src = _FROM_BUFFER(_FLOATS, chunk)
        n = len(chunk)
        fill = self._fill
        total = self._total
        nxt = self._next
        if 0 < n <= self._cap - fill and nxt <= total:   # the usual push
            row_ptrs = self._row_ptrs
            if _COPY_FINITE(src, len(src), row_ptrs[fill]):
                raise InputError("the chunk holds NaN/inf values; nothing of it was used")
            fill = self._fill = fill + n
            total = self._total = total + n
            due = nxt + self.W                  # the next window is complete at this total
            if total < due:
                return []
            S = self.S
            if total < due + S:                 # one window due: _run_due's work, inline
                first = nxt - self._base
                st = _RUN_BOUND(self._args, row_ptrs[first], fill - first, 1)
                if st:   # the rows were checked when they came in: a bug, not bad input
                    raise self._plan._fail(st)
                self._next = nxt + S
                w = self._read(self._out, 0, nxt // S, nxt * self._ms_per_row)
                return [StreamResult(w) if self.smoothing is None else self._smooth(w)]
            return self._run_due()
        return self._push_pieces(chunk) if n else []

    def _push_batch(self, samples: Any) -> list[StreamResult]:
        """push() without a compiled plan: the batch path on the windows due."""
        chunk = self._validate(samples)
        before, after = self._total, self._total + chunk.shape[0]
        # start rows of the windows this chunk completes: _next, _next + S, ... (end <= after)
        n_due = (after - self.W - self._next) // self.S + 1 if after >= self._next + self.W \
            else 0
        due = self._next + self.S * np.arange(n_due, dtype=np.int64)
        s = self._next + self.S * n_due
        results: list[StreamResult] = []
        if n_due:
            first = int(due[0])
            held = self._ring.last(before - first) if first < before else \
                np.zeros((0, self.n_axes), dtype=np.float32)
            data = np.concatenate([held, chunk[max(0, first - before):]])
            local = due - first
            feats, outs = self.impulse._compute(data, local.astype(np.int32), self.variant, 1)
            res = ClassificationResult(
                bundle=self.impulse.bundle, variant=self.variant,
                frequency=self.impulse.frequency, source_frequency=self.impulse.frequency,
                data=data, start_rows=due, window_samples=self.W,
                outputs=outs, features=feats)
            for k, w in zip(due.tolist(), res):
                results.append(self._smooth(w.replace(index=k // self.S)))
            self._next = s
        self._ring.write(chunk)
        self._total = after
        return results

    # ------------------------------------------------------------- the slice-by-slice path
    def _push_slices(self, samples: Any) -> list[StreamResult]:
        chunk = self._validate(samples)
        k0 = self._slices.windows_done
        feats = self._slices.push(chunk)
        self._total += chunk.shape[0]
        n = next(iter(feats.values())).shape[0]
        if n == 0:
            return []
        self._next = (k0 + n) * self.S
        if self._learn_plan is not None:
            return self._learn_with_plan(feats, k0, n)
        outs = self.impulse.run_learn(feats, self.variant)
        due = (k0 + np.arange(n, dtype=np.int64)) * self.S
        res = ClassificationResult(
            bundle=self.impulse.bundle, variant=self.variant,
            frequency=self.impulse.frequency, source_frequency=self.impulse.frequency,
            data=np.zeros((0, self.n_axes), dtype=np.float32), start_rows=due,
            window_samples=self.W, outputs=outs, features=feats)
        return [self._smooth(w.replace(index=k0 + j)) for j, w in enumerate(res)]

    def _learn_with_plan(self, feats: dict[int, np.ndarray], k0: int,
                         n: int) -> list[StreamResult]:
        plan, out = self._learn_plan, self._out
        results: list[StreamResult] = []
        for j0 in range(0, n, PASS_WINDOWS):
            m = min(PASS_WINDOWS, n - j0)
            for bid, sl in plan.feature_slices.items():
                out.features[:m, sl] = feats[bid][j0:j0 + m]
            st = out.learn_call(m)
            if st:   # DSP features are finite: a bug, not bad input
                raise plan._fail(st)
            for j in range(m):
                k = k0 + j0 + j
                w = plan.window_result(out, j, k, k * self.S * self._ms_per_row)
                results.append(StreamResult(w) if self.smoothing is None else self._smooth(w))
        return results

    # ------------------------------------------------------------- the compiled-plan path
    def _chunk(self, samples: Any) -> np.ndarray:
        """``samples`` as a C-contiguous float32 (rows, axes) array (shape checked; values
        are checked while copied)."""
        if type(samples) is np.ndarray and samples.dtype is _F32 and samples.ndim == 2 and \
                samples.shape[1] == self.n_axes and samples.flags.c_contiguous:
            return samples
        try:
            if np.iscomplexobj(samples):
                raise TypeError("complex values")
            with np.errstate(over="ignore"):   # too large for float32 -> inf, reported later
                arr = np.ascontiguousarray(samples, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputError(f"samples must be numbers ((rows, axes) or flat interleaved): "
                             f"{exc}") from None
        if arr.ndim == 1:
            if arr.size % self.n_axes:
                raise InputError(f"a flat chunk must hold a multiple of {self.n_axes} values "
                                 f"(interleaved {', '.join(self.impulse.axes)}), got {arr.size}")
            arr = arr.reshape(-1, self.n_axes)
        if arr.ndim != 2 or arr.shape[1] != self.n_axes:
            raise InputError(f"expected samples of {self.n_axes} axes "
                             f"({', '.join(self.impulse.axes)}), got shape {arr.shape}")
        return arr

    def _push_pieces(self, chunk: np.ndarray) -> list[StreamResult]:
        """A chunk that does not fit the sample buffer as it is (or starts in a gap between
        windows): compact, then copy it in pieces."""
        n = len(chunk)
        self._compact()
        if n <= self._cap - self._fill and self._next <= self._total:
            return self.push(chunk)      # it fits now: the usual push
        if not np.isfinite(chunk).all():
            raise InputError("the chunk holds NaN/inf values; nothing of it was used")
        results: list[StreamResult] = []
        pos = 0
        while pos < n:    # a long chunk (or one starting in a gap between windows) in pieces
            self._compact()
            if self._next > self._total:   # rows before the next window are not needed
                skip = min(n - pos, self._next - self._total)
                pos += skip
                self._total += skip
                self._base = self._total
                continue
            take = min(n - pos, self._cap - self._fill)
            self._rows[self._fill:self._fill + take] = chunk[pos:pos + take]
            self._fill += take
            self._total += take
            pos += take
            results += self._run_due()
        return results

    def _compact(self) -> None:
        """Drop the rows before the next window's start (or all, in a gap)."""
        keep = min(self._next, self._total)
        drop = keep - self._base
        if drop > 0:
            if drop < self._fill:
                self._rows[:self._fill - drop] = self._rows[drop:self._fill].copy()
            self._fill = max(self._fill - drop, 0)
            self._base = keep

    def _run_due(self) -> list[StreamResult]:
        """Run every window complete in the buffer (one C call) and make its results."""
        W, S = self.W, self.S
        nxt = self._next
        if self._total < nxt + W:
            return []
        n_due = min((self._total - W - nxt) // S + 1, PASS_WINDOWS)
        first = nxt - self._base
        plan, out = self._plan, self._out
        st = _RUN_BOUND(self._args, self._row_ptrs[first], self._fill - first, n_due)
        if st:   # the rows were checked when they came in: a bug, not bad input
            raise plan._fail(st)
        k0 = nxt // S
        ms = self._ms_per_row
        wrap = StreamResult if self.smoothing is None else self._smooth
        if n_due == 1:    # the usual push
            results = [wrap(plan.window_result(out, 0, k0, nxt * ms))]
        else:
            window_result = plan.window_result
            results = [wrap(window_result(out, j, k0 + j, (nxt + j * S) * ms))
                       for j in range(n_due)]
        self._next = nxt + n_due * S
        if self._total >= self._next + W:     # more than one C call's worth in this piece
            results += self._run_due()
        return results

    def _smooth(self, w: WindowResult) -> StreamResult:
        sm = self.smoothing
        if sm is None:
            return StreamResult(w)
        self._held.append(w)
        n = len(self._held)
        labels = list(w.scores)
        an = None
        if self._maf is not None:
            # the SDK's filter: divided by its size from the first result on; anomaly as is
            p = self._maf(np.array([w.scores[lab] for lab in labels], dtype=np.float32))
            avg = dict(zip(labels, p.astype(np.float64).tolist()))
            an = w.anomaly
        else:
            avg = {lab: sum(r.scores[lab] for r in self._held) / n for lab in labels}
            if w.anomaly is not None:
                an = sum(r.anomaly for r in self._held) / n
        detection = None
        if avg:
            best = max(avg, key=avg.get)  # type: ignore[arg-type]
            if avg[best] >= sm.threshold:
                detection = best
        if an is not None and an > self._layout.anomaly_threshold:
            detection = self._layout.names.anomaly_prediction
        suppressed = False
        if sm.suppress_repeats and detection is not None and detection == self._last_detection:
            suppressed = True
        self._last_detection = detection
        return StreamResult(w, avg, an, None if suppressed else detection, suppressed)

    @property
    def impulse_anomaly_threshold(self) -> float:
        return self._layout.anomaly_threshold


__all__ = ["Stream", "Smoothing", "StreamResult"]

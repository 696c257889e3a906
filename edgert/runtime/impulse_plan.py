"""The whole impulse as one compiled C plan: one window (or N) through every DSP block, the
networks and the anomaly scorer in ONE C call (``edgert_impulse_run``, csrc/impulse.c).

Why: classifying one window at a time is how the faces call the runtime (a live stream, a
``.eim`` classify request, a daemon, a device loop), and there the per-stage Python work of the
batch path (input checks on tiny arrays, per-block dictionaries, quantize/dequantize round
trips) costs ten times the C work. The plan is built once per impulse and model variant; a
window then costs one cffi call plus reading the result.

Public API::

    plan = impulse.plan(variant=None)    # ImpulsePlan, built once and cached; raises
                                         # PlanUnsupportedError saying why when it cannot be
    r = plan.classify_window(raw)        # WindowResult (raw: W x axes float32, or flat)
    buf = plan.buffers()                 # zero-allocation use: one per thread, reused
    plan.run_into(raw, buf)              # one C call; fills row 0 of buf.scores (labels in
                                         # plan.labels order), buf.anomaly, buf.prediction
                                         # (label index, -1 uncertain, -2 anomaly), buf.top,
                                         # buf.outputs (every learn block), buf.features
    res = plan.run(data, starts)         # N windows of a recording: PlanRun arrays

``raw`` is one window at the impulse's frequency with its axes in ``impulse.axes`` order:
``window_samples`` rows of interleaved values (any shape with that many float32 values,
C-contiguous; other dtypes/layouts are converted, which allocates).

The numbers are the batch path's bit for bit: the C plan calls the same kernels on the same
values (tests/test_impulse_plan.py checks every example bundle and recording).

Which impulses the plan represents: DSP blocks in :data:`DSP_WRITERS`, classifiers and GMM
blocks whose network runs on the native engine with one input and one output (int8 or float32
input; int8 or float32 output; GMM float32), K-means blocks, at most
``EDGERT_IMPULSE_MAX_LABELS`` labels and the other table limits of edgert.h. Anything else
raises :class:`PlanUnsupportedError` with the reason, and :class:`~edgert.runtime.impulse.Impulse`
keeps using the batch path for it (``Impulse.plan_unsupported_reason(variant)`` says why).

Adding a DSP block type to the plan: (1) in csrc/edgert.h give it an ``EDGERT_DSP_*`` code and
a member of ``edgert_dsp_params``; (2) in csrc/impulse.c call its check/scratch/batch kernels
in ``dsp_count`` (its feature count and scratch) and ``dsp_features``; (3) here, add a writer to
:data:`DSP_WRITERS` that copies the block's C parameter struct into the record; (4) add the
bundle to the plan-vs-batch identity test. Blocks not in :data:`DSP_WRITERS` keep working
through the batch path.
"""
from __future__ import annotations

import functools
import logging
import struct
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .._ffi import ffi, lib, status_error, strerror
from ..errors import ConfigurationError, InputError
from .results import WindowResult, plan_window_reader, result_layout

log = logging.getLogger("edgert.runtime.impulse_plan")

MAX_AXES = lib.EDGERT_IMPULSE_MAX_AXES
MAX_DSP = lib.EDGERT_IMPULSE_MAX_DSP
MAX_LEARN = lib.EDGERT_IMPULSE_MAX_LEARN
MAX_LABELS = lib.EDGERT_IMPULSE_MAX_LABELS
PREDICTION_UNCERTAIN = lib.EDGERT_PREDICTION_UNCERTAIN
PREDICTION_ANOMALY = lib.EDGERT_PREDICTION_ANOMALY
#: windows per C pass of the scratch a plan keeps per thread (more windows run in passes)
PASS_WINDOWS = 64

_F32 = np.dtype(np.float32)
_NDARRAY = np.ndarray
_FROM_BUFFER = ffi.from_buffer
_FLOATS = ffi.typeof("float[]")      # the ctype, not its name: no lookup per call
_RUN_BOUND = lib.edgert_impulse_run_bound
#: WindowBuffers timing unit -> the C host clock
_CLOCKS = {"ns": "edgert_clock_ns", "us": "edgert_clock_us"}
_RESULT = "edgert_impulse_result"
#: the C result struct as a numpy structured dtype (offsets from cffi: they cannot drift)
RESULT_DTYPE = np.dtype({
    "names": ["prediction", "top", "anomaly", "n_labels", "scores"],
    "formats": [np.int32, np.int32, np.float32, np.int32, (np.float32, MAX_LABELS)],
    "offsets": [ffi.offsetof(_RESULT, f) for f in
                ("prediction", "top", "anomaly", "n_labels", "scores")],
    "itemsize": ffi.sizeof(_RESULT)})


_RESULT_BYTES = ffi.sizeof(_RESULT)
# a result record read in one struct.unpack_from per window (fewer Python objects than field
# reads): prediction, top, anomaly, n_labels, then the scores, packed as edgert.h lays them out
if [ffi.offsetof(_RESULT, f) for f in ("prediction", "top", "anomaly", "n_labels",
                                       "scores")] != [0, 4, 8, 12, 16] or \
        (PREDICTION_UNCERTAIN, PREDICTION_ANOMALY) != (-1, -2):
    raise ImportError("edgert_impulse_result or the prediction codes changed in csrc/edgert.h: "
                      "update ImpulsePlan's result reader (edgert/runtime/impulse_plan.py)")


class PlanUnsupportedError(ConfigurationError):
    """The impulse has a part the C plan cannot represent (the message says which); it runs
    through the batch path instead."""


# --------------------------------------------------------------------------- DSP records
def _copy_params(field: str) -> Callable[[Any, Any], None]:
    def write(record: Any, block: Any) -> None:
        setattr(record.p, field, block._c[0])   # struct copy of the block's C parameters
    return write


#: bundle DSP block type -> (EDGERT_DSP_* code, writer filling ``record.p`` from the block)
DSP_WRITERS: dict[str, tuple[int, Callable[[Any, Any], None]]] = {
    "spectral-analysis": (lib.EDGERT_DSP_SPECTRAL, _copy_params("spectral")),
    "raw": (lib.EDGERT_DSP_RAW, _copy_params("raw")),
    "flatten": (lib.EDGERT_DSP_FLATTEN, _copy_params("flatten")),
    "mfcc": (lib.EDGERT_DSP_AUDIO, _copy_params("audio")),
    "mfe": (lib.EDGERT_DSP_AUDIO, _copy_params("audio")),
    "spectrogram": (lib.EDGERT_DSP_AUDIO, _copy_params("audio")),
}


@dataclass
class PlanRun:
    """N windows through the plan: ``results`` (N,) RESULT_DTYPE records, ``features``
    (N, plan.n_features) float32 (every DSP block, bundle order), ``outputs``
    (N, plan.n_outputs) float32 (every learn block's values)."""
    results: np.ndarray
    features: np.ndarray
    outputs: np.ndarray


class WindowBuffers:
    """Reusable output and working memory for runs of up to ``capacity`` windows
    (:meth:`ImpulsePlan.run_into`; ``capacity`` 1 by default). Not thread-safe: one per
    thread. Arrays (numpy views of the C results, row ``w`` = window ``w`` of the last run):
    ``scores`` (capacity, labels) float32, ``anomaly`` (capacity,) float32, ``prediction``
    (capacity,) int32 (label index, -1 uncertain, -2 anomaly), ``top`` (capacity,) int32,
    ``outputs`` (capacity, n_outputs) float32 (every learn block), ``features`` (capacity,
    n_features) float32 (every DSP block).

    ``timing`` ("ns" or "us"): every run also times its stages with the C host clock of that
    unit (``edgert_clock_ns``/``_us``, no call back into Python); :meth:`stage_times` reads
    them.

    Every fixed argument of the C call is bound once, in an ``edgert_impulse_args`` struct:
    ``call(data_ptr, n_rows, n_windows)`` is ``edgert_impulse_run_bound`` with three
    arguments to convert instead of eleven."""

    def __init__(self, plan: "ImpulsePlan", capacity: int = 1, timing: Optional[str] = None):
        self.capacity = capacity = max(int(capacity), 1)
        self.results_c = ffi.new(f"{_RESULT}[]", capacity)
        self.results = np.frombuffer(ffi.buffer(self.results_c), dtype=RESULT_DTYPE)
        self.results_view = memoryview(ffi.buffer(self.results_c))
        self.scores = self.results["scores"][:, :plan.n_labels]
        self.anomaly = self.results["anomaly"]
        self.prediction = self.results["prediction"]
        self.top = self.results["top"]
        self.features = np.zeros((capacity, plan.n_features), dtype=np.float32)
        self.outputs = np.zeros((capacity, max(plan.n_outputs, 1)), dtype=np.float32)
        self.scratch = np.zeros(plan.scratch_bytes(capacity), dtype=np.uint8)
        # window k starts k increases after the first: the starts of every run of
        # consecutive windows (a short recording, the windows due in a stream push)
        self.starts = np.arange(capacity, dtype=np.int32) * np.int32(plan.window_increase)
        # a staging copy of a short recording (checked for NaN/inf while copied; zero rows
        # after it when it is shorter than a window): the longest recording with `capacity`
        # windows has W + capacity * S - 1 rows (the rows after the last window count too)
        self.staging = np.zeros((plan.window_samples + capacity * plan.window_increase,
                                 plan.n_axes), dtype=np.float32)
        f = ffi.from_buffer
        self.features_ptr = f("float[]", self.features, require_writable=True)
        self.outputs_ptr = f("float[]", self.outputs, require_writable=True)
        self.scratch_ptr = f(self.scratch, require_writable=True)
        self.scratch_bytes = self.scratch.size
        self.starts_ptr = f("int32_t[]", self.starts)
        self.staging_ptr = f("float[]", self.staging, require_writable=True)
        self.timing: Any = None
        if timing is not None:
            if timing not in _CLOCKS:
                raise ValueError(f"timing must be one of {', '.join(_CLOCKS)}, got {timing!r}")
            self.timing = ffi.new("edgert_impulse_timing *")
            self.timing.clock = ffi.addressof(lib, _CLOCKS[timing])
        self.args = ffi.new("edgert_impulse_args *", {
            "plan": plan.c, "starts": self.starts_ptr, "results": self.results_c,
            "features": self.features_ptr, "outputs": self.outputs_ptr,
            "timing": self.timing if self.timing is not None else ffi.NULL,
            "scratch": self.scratch_ptr, "scratch_bytes": self.scratch_bytes})
        self._plan = plan           # what args points into stays alive with the buffers
        #: ``call(data_ptr, n_rows, n_windows)``: edgert_impulse_run_bound into these buffers
        self.call: Callable[[Any, int, int], int] = functools.partial(_RUN_BOUND, self.args)
        self.learn_call = self._bind_learn(plan)

    def stage_times(self) -> tuple[int, int, int, int]:
        """(DSP, classifier, anomaly, whole call) of the last run in the ``timing`` unit
        (buffers made with ``timing``; the classifier stage includes the int8 quantization
        and dequantization, the anomaly stage K-means and GMM blocks)."""
        t = self.timing
        if t is None:
            raise ValueError("these buffers were made without timing")
        ticks = t.ticks
        return (int(ticks[lib.EDGERT_IMPULSE_STAGE_DSP]),
                int(ticks[lib.EDGERT_IMPULSE_STAGE_CLASSIFIER]),
                int(ticks[lib.EDGERT_IMPULSE_STAGE_ANOMALY]), int(t.total))


    def _bind_learn(self, plan: "ImpulsePlan") -> Callable[[int], int]:
        """``learn_call(n_windows)``: edgert_impulse_run_features on the first n_windows rows
        of :attr:`features` (DSP features the caller computed, e.g. slice by slice) into these
        buffers: the learn blocks and the prediction, one C call."""
        def call(n_windows: int, run: Any = lib.edgert_impulse_run_features, c: Any = plan.c,
                 features: Any = self.features_ptr, results: Any = self.results_c,
                 outputs: Any = self.outputs_ptr, null: Any = ffi.NULL,
                 scratch: Any = self.scratch_ptr, nbytes: int = self.scratch_bytes) -> int:
            return run(c, features, n_windows, results, outputs, null, scratch, nbytes)
        return call


class ImpulsePlan:
    """The compiled plan of an impulse for one model variant (see the module docstring).
    Owns every cffi struct the C plan points to; read-only after construction, so one plan
    serves all threads (each with its own :class:`WindowBuffers`)."""

    def __init__(self, impulse: Any, variant: Optional[str]):
        self.variant = variant
        self.window_samples = int(impulse.window_samples)
        self.window_increase = int(impulse.window_increase_samples)
        self.n_axes = len(impulse.axes)
        self.window_values = self.window_samples * self.n_axes
        self.frequency = float(impulse.frequency)
        self.window_size_ms = float(impulse.window_size_ms)
        self._keep: list[Any] = []          # everything the C structs point into
        self._build_dsp(impulse)
        self._build_learn(impulse, variant)
        self.c = ffi.new("edgert_impulse_plan *")
        c = self.c
        c.n_axes, c.window_samples = self.n_axes, self.window_samples
        c.n_dsp, c.dsp, c.n_features = len(self.dsp_ids), self._dsp_c, self.n_features
        c.n_learn, c.learn, c.n_outputs = len(self.learn_ids), self._learn_c, self.n_outputs
        c.classifier, c.anomaly, c.n_labels = self.classifier, self.anomaly, self.n_labels
        st = lib.edgert_impulse_check(c)
        if st == lib.EDGERT_ERR_UNSUPPORTED:
            raise PlanUnsupportedError("this build of the C core leaves out a part the impulse "
                                       "uses (csrc/edgert_config.h)")
        if st < 0:   # the blocks validated themselves: a builder bug - keep classifying
            log.warning("the impulse plan builder made a plan the C core refuses (%s); one-"
                        "window calls use the batch path - please report this", strerror(st))
            raise PlanUnsupportedError(f"the C core refuses the built plan ({strerror(st)})")
        self._local = threading.local()
        self._run = lib.edgert_impulse_run
        self._shape = (self.window_samples, self.n_axes)
        self._flat_shape = (self.window_values,)
        self._has_anomaly = self.anomaly >= 0
        #: what the bundle fixes about every ClassificationResult (made once, shared)
        self.result_layout = result_layout(impulse.bundle)
        #: prediction index (label index, -1 uncertain, -2 anomaly) -> its name (the two
        #: special predictions renamed when a label has the name); a tuple: read per window
        self._prediction_names = tuple(self.result_layout.prediction_names)
        # prediction, top (-1 without labels), anomaly, n_labels, score 0, score 1, ...
        self._unpack_result = struct.Struct(f"=iifi{self.n_labels}f").unpack_from
        #: ``window_result(buffers, row, index, start_ms)``: the WindowResult of row ``row``
        #: of ``buffers`` after a run (its ``scores`` dict is built on first access)
        self.window_result = plan_window_reader(
            self.labels, self.window_size_ms, self._prediction_names, self._has_anomaly,
            self._unpack_result, _RESULT_BYTES)
        #: the first classifier's columns / the first anomaly block's column in an outputs row
        self.classifier_columns: Optional[slice] = (
            self.output_slices[self.learn_ids[self.classifier]] if self.classifier >= 0
            else None)
        self.anomaly_column: Optional[int] = (
            self.output_slices[self.learn_ids[self.anomaly]].start if self.anomaly >= 0
            else None)

    # ------------------------------------------------------------------------ building
    def _build_dsp(self, impulse: Any) -> None:
        runners = impulse.dsp_blocks
        if len(runners) > MAX_DSP:
            raise PlanUnsupportedError(f"{len(runners)} DSP blocks (the plan holds up to "
                                       f"{MAX_DSP})")
        self._dsp_c = ffi.new("edgert_impulse_dsp[]", len(runners))
        self.dsp_ids: list[int] = []
        self.feature_slices: dict[int, slice] = {}
        offset = 0
        for i, d in enumerate(runners):
            entry = DSP_WRITERS.get(d.spec.type)
            if entry is None:
                raise PlanUnsupportedError(
                    f"DSP block {d.spec.id} is of type {d.spec.type!r}, which the impulse plan "
                    f"does not know yet (it knows {', '.join(DSP_WRITERS)})")
            columns = list(d.block.columns if d.block.columns is not None
                           else range(len(d.block.axes)))
            if len(columns) > MAX_AXES:
                raise PlanUnsupportedError(f"DSP block {d.spec.id} reads {len(columns)} axes "
                                           f"(the plan holds up to {MAX_AXES})")
            code, write = entry
            rec = self._dsp_c[i]
            rec.type, rec.n_axes = code, len(columns)
            for k, col in enumerate(columns):
                rec.axes[k] = col
            rec.n_features, rec.offset = d.n_features, offset
            write(rec, d.block)
            self.dsp_ids.append(d.spec.id)
            self.feature_slices[d.spec.id] = slice(offset, offset + d.n_features)
            offset += d.n_features
        self.n_features = offset
        self._dsp_index = {bid: i for i, bid in enumerate(self.dsp_ids)}

    def _build_learn(self, impulse: Any, variant: Optional[str]) -> None:
        blocks = impulse.learn_blocks
        if len(blocks) > MAX_LEARN:
            raise PlanUnsupportedError(f"{len(blocks)} learn blocks (the plan holds up to "
                                       f"{MAX_LEARN})")
        self._learn_c = ffi.new("edgert_impulse_learn[]", max(len(blocks), 1))
        self.learn_ids: list[int] = []
        #: learn index -> the engine Plan its record points to / the .tflite bytes it came
        #: from (what impulse_export writes)
        self.network_plans: dict[int, Any] = {}
        self.network_sources: dict[int, bytes] = {}
        self.output_slices: dict[int, slice] = {}
        #: (learn id, its columns in an outputs row, True: per-label scores / False: a score)
        self.learn_outputs: list[tuple[int, slice, bool]] = []
        self.classifier = self.anomaly = -1
        self.labels: tuple[str, ...] = ()
        self.min_score, self.anomaly_threshold = 0.6, float("inf")
        offset = 0
        for i, b in enumerate(blocks):
            spec = b.spec
            rec = self._learn_c[i]
            if len(spec.dsp) > MAX_DSP:
                raise PlanUnsupportedError(f"learn block {spec.id} takes {len(spec.dsp)} DSP "
                                           f"blocks (the plan holds up to {MAX_DSP})")
            rec.n_dsp = len(spec.dsp)
            for k, d in enumerate(spec.dsp):
                rec.dsp[k] = self._dsp_index[d]
            rec.n_features, rec.output_offset = b.n_features, offset
            if spec.type == "keras":    # a KerasRunner
                mf = spec.models[variant or "float32"]
                n_out = self._network(rec, b.model(variant or "float32"), spec, "classifier")
                self.network_sources[i] = mf.data
                if n_out > MAX_LABELS:
                    raise PlanUnsupportedError(f"learn block {spec.id} has {n_out} labels (the "
                                               f"plan carries up to {MAX_LABELS})")
                rec.type, rec.n_outputs = lib.EDGERT_LEARN_CLASSIFIER, n_out
                rec.threshold = np.float32(spec.threshold("min_score", 0.6))
                if self.classifier < 0:
                    self.classifier, self.labels = i, tuple(spec.labels)
                    self.min_score = float(rec.threshold)
            elif spec.type == "anomaly":
                scorer = b.scorer
                rec.type, rec.n_outputs = lib.EDGERT_LEARN_KMEANS, 1
                rec.kmeans = scorer._params[0]     # points into the scorer's arrays
                self._keep.append(scorer)
            else:   # anomaly-gmm
                scorer = b.scorer
                if scorer.model.outputs[0].dtype != np.float32 or \
                        scorer.model.inputs[0].dtype != np.float32:
                    raise PlanUnsupportedError(f"learn block {spec.id} (anomaly-gmm): the plan "
                                               "runs float32 GMM networks only")
                self._network(rec, scorer.model, spec, "GMM")
                self.network_sources[i] = spec.models["float32"].data
                select = np.ascontiguousarray(scorer.axes, dtype=np.int32)
                rec.type, rec.n_outputs = lib.EDGERT_LEARN_GMM, 1
                rec.n_select = select.size
                rec.select = ffi.from_buffer("int32_t[]", select)
                self._keep.append(select)
            if rec.type != lib.EDGERT_LEARN_CLASSIFIER:
                rec.threshold = np.float32(spec.threshold("min_anomaly_score", 0.3))
                if self.anomaly < 0:
                    self.anomaly = i
                    self.anomaly_threshold = float(rec.threshold)
            self.learn_ids.append(spec.id)
            self.output_slices[spec.id] = slice(offset, offset + rec.n_outputs)
            self.learn_outputs.append((spec.id, self.output_slices[spec.id],
                                       rec.type == lib.EDGERT_LEARN_CLASSIFIER))
            offset += rec.n_outputs
        self.n_outputs = offset
        self.n_labels = len(self.labels)

    def _network(self, rec: Any, model: Any, spec: Any, what: str) -> int:
        """Point ``rec`` at a native model's engine plan; returns its output count."""
        cplan = getattr(model, "cplan", None)
        if cplan is None:
            raise PlanUnsupportedError(
                f"the {what} network of learn block {spec.id} runs on the {model.backend!r} "
                "backend (the plan runs native-engine networks; load with backend='native' "
                "or 'auto')")
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise PlanUnsupportedError(f"the {what} network of learn block {spec.id} has "
                                       f"{len(model.inputs)} inputs and {len(model.outputs)} "
                                       "outputs (the plan runs one input, one output)")
        tin, tout = model.inputs[0], model.outputs[0]
        for t, side in ((tin, "input"), (tout, "output")):
            if t.dtype not in (np.int8, np.float32) or np.ndim(t.scale) != 0:
                raise PlanUnsupportedError(
                    f"the {what} network of learn block {spec.id} has a {t.dtype} {side} "
                    "quantized per channel or of another type (the plan takes int8 or float32 "
                    "per tensor)")
        rec.net, rec.consts, rec.consts_bytes = cplan.c, cplan.consts_ptr, cplan.consts.size
        rec.in_dtype = lib.EDGERT_DTYPE_INT8 if tin.dtype == np.int8 else lib.EDGERT_DTYPE_FLOAT32
        rec.in_scale, rec.in_zero_point = float(tin.scale), int(tin.zero_point)
        rec.out_dtype = (lib.EDGERT_DTYPE_INT8 if tout.dtype == np.int8
                         else lib.EDGERT_DTYPE_FLOAT32)
        rec.out_scale, rec.out_zero_point = float(tout.scale), int(tout.zero_point)
        self._keep.append(cplan)
        self.network_plans[len(self.learn_ids)] = cplan.plan
        return int(np.prod(tout.item_shape))

    # -------------------------------------------------------------------------- running
    def scratch_bytes(self, n_windows: int) -> int:
        """Scratch bytes for passes of ``n_windows`` windows (``edgert_impulse_scratch_size``)."""
        out = ffi.new("size_t *")
        st = lib.edgert_impulse_scratch_size(self.c, int(n_windows), out)
        if st < 0:
            raise status_error(st, "sizing the impulse plan's scratch")
        return int(out[0])

    def buffers(self, capacity: int = 1, timing: Optional[str] = None) -> WindowBuffers:
        """New output/working buffers for :meth:`run_into` (one per thread, reused);
        ``timing`` "ns"/"us": the runs also time their stages (:meth:`WindowBuffers.stage_times`)."""
        return WindowBuffers(self, capacity, timing)

    def thread_buffers(self) -> WindowBuffers:
        """This thread's buffers for up to PASS_WINDOWS windows (made on first use)."""
        try:
            return self._local.buffers
        except AttributeError:
            buf = self._local.buffers = WindowBuffers(self, PASS_WINDOWS)
            return buf

    def _window(self, raw: Any) -> np.ndarray:
        """``raw`` as a C-contiguous float32 array of exactly one window's values."""
        try:
            if np.iscomplexobj(raw):
                raise TypeError("complex values")
            with np.errstate(over="ignore"):     # beyond float32 -> inf, reported by C
                arr = np.ascontiguousarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputError(f"a window must be numbers ({self.window_samples} rows x "
                             f"{self.n_axes} axes): {exc}") from None
        if arr.size != self.window_values or arr.ndim > 2 or \
                (arr.ndim == 2 and arr.shape[1] != self.n_axes):
            raise InputError(f"a window is {self.window_samples} rows x {self.n_axes} axes "
                             f"({self.window_values} values, flat interleaved or "
                             f"({self.window_samples}, {self.n_axes})), got shape {arr.shape}")
        return arr

    def _fail(self, status: int) -> Exception:
        if status == lib.EDGERT_ERR_NONFINITE:
            return InputError("the window holds NaN/inf values (or values whose features "
                              "overflow float32); clean or drop those samples first")
        return status_error(status, "running the impulse plan")

    def window_pointer(self, raw: Any) -> Any:
        """A cffi ``float[]`` over one window's values: ``raw`` itself when it is a float32
        C-contiguous array of shape (window_samples, axes) or (window_samples * axes,) (no
        copy; what ``ffi.from_buffer`` refuses - a strided view - is converted), else a
        converted copy (InputError when it is not one window of numbers)."""
        if type(raw) is _NDARRAY and raw.dtype is _F32 and \
                (raw.shape == self._shape or raw.shape == self._flat_shape):
            try:
                return _FROM_BUFFER(_FLOATS, raw)
            except ValueError:           # not C-contiguous
                pass
        return _FROM_BUFFER(_FLOATS, self._window(raw))

    def run_into(self, raw: Any, out: WindowBuffers) -> None:
        """Classify one window into row 0 of ``out`` (from :meth:`buffers`): one C call, no
        copy when ``raw`` is a C-contiguous float32 array of the window's values
        ((window_samples, axes) or flat)."""
        # window_pointer(raw), inline: one Python call less per window
        if type(raw) is _NDARRAY and raw.dtype is _F32 and \
                (raw.shape == self._shape or raw.shape == self._flat_shape):
            try:
                ptr = _FROM_BUFFER(_FLOATS, raw)
            except ValueError:           # not C-contiguous
                ptr = _FROM_BUFFER(_FLOATS, self._window(raw))
        else:
            ptr = _FROM_BUFFER(_FLOATS, self._window(raw))
        st = _RUN_BOUND(out.args, ptr, self.window_samples, 1)
        if st:
            raise self._fail(st)

    def classify_window(self, raw: Any, index: int = 0, start_ms: float = 0.0) -> WindowResult:
        """One window's :class:`WindowResult` (``index``/``start_ms`` label it)."""
        try:
            buf = self._local.one
        except AttributeError:
            buf = self._local.one = WindowBuffers(self, 1)
        st = buf.call(self.window_pointer(raw), self.window_samples, 1)
        if st:
            raise self._fail(st)
        return self.window_result(buf, 0, index, start_ms)

    def run(self, data: np.ndarray, starts: np.ndarray) -> PlanRun:
        """Windows ``data[s : s + window_samples]`` for ``s`` in ``starts`` of a prepared
        recording (float32 (rows, axes)) in one C call; returns new arrays."""
        data = np.ascontiguousarray(data, dtype=np.float32)
        starts = np.ascontiguousarray(starts, dtype=np.int32)
        n = starts.size
        buf = self.thread_buffers()
        results = np.zeros(n, dtype=RESULT_DTYPE)
        features = np.empty((n, self.n_features), dtype=np.float32)
        outputs = np.empty((n, max(self.n_outputs, 1)), dtype=np.float32)
        if n:
            st = self._run(
                self.c, ffi.from_buffer("float[]", data), data.shape[0],
                ffi.from_buffer("int32_t[]", starts), n,
                ffi.cast(f"{_RESULT} *", ffi.from_buffer(results, require_writable=True)),
                ffi.from_buffer("float[]", features, require_writable=True),
                ffi.from_buffer("float[]", outputs, require_writable=True), ffi.NULL,
                buf.scratch_ptr, buf.scratch_bytes)
            if st:
                raise self._fail(st)
        return PlanRun(results, features, outputs[:, :self.n_outputs])


__all__ = ["ImpulsePlan", "PlanRun", "PlanUnsupportedError", "WindowBuffers", "DSP_WRITERS",
           "RESULT_DTYPE", "PREDICTION_UNCERTAIN", "PREDICTION_ANOMALY"]

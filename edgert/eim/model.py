"""An impulse as the ``.eim`` runner presents it: the hello document's model parameters, one
window classified per request with the SDK's per-stage timing, thresholds, and continuous
(slice-by-slice) classification.

One window per request: :meth:`EimModel.classify_window` is the only place that runs the
impulse. It runs the impulse's compiled plan (:mod:`edgert.runtime.impulse_plan`) in one C
call whose timing hook reads a microsecond clock between the stages, so the response's
``dsp``, ``classification`` and ``anomaly`` times are what the SDK reports (``ei_read_timer_us``
differences around its DSP, inference - quantization included - and anomaly steps). An
impulse the plan cannot represent (or a window the plan refuses, which then gets the batch
path's error message) runs the stages :meth:`edgert.runtime.impulse.Impulse.classify` is made
of (``prepare``, ``compute_features``, each learn block), each timed in Python. Either way the
numbers are the ones ``Impulse.classify`` gives for that window (the tests check every window
of the example recordings).

Continuous mode (:class:`ContinuousClassifier`), against Edge Impulse's SDK
(``run_classifier_continuous`` in ``classifier/ei_run_classifier.h``; details in
:mod:`edgert.runtime.continuous`):

- SDK: each call takes one slice of ``EI_CLASSIFIER_SLICE_SIZE = raw window samples /
  EI_CLASSIFIER_SLICES_PER_MODEL_WINDOW`` (4 unless the application defines it) samples; the
  DSP runs on the slice alone and its features replace the oldest slice's in a rolling feature
  matrix; the whole-window normalisation runs on a copy of the matrix and the network on that,
  once enough slices' features were written; before that the result is all zeros. Only MFCC,
  MFE and spectrogram blocks have a per-slice form: any other DSP block makes the call fail
  (``EI_IMPULSE_DSP_ERROR``, -5).
- here, audio impulses (every DSP block MFCC, MFE or spectrogram): slice by slice as well
  (:class:`edgert.runtime.continuous.SliceFeatures`): the frames a slice adds are computed once
  and kept while the window slides, the whole-window steps run on the assembled window, so each
  result equals ``classify`` on the window ending with the slice, bit for bit (the SDK's
  per-slice frames differ from whole-window ones at slice joins). Other impulses, which the SDK
  refuses: the last window of *raw* samples is kept and classified whole after every slice.
  The results before the first full window are all zeros, as in the SDK. The window is the
  last ``window_samples`` rows (when the slice count does not divide the window, it reaches
  into an older slice).
- moving-average filter: the SDK (up to its April 2022 releases; later releases replaced it
  with "performance calibration", off unless configured) averaged each label's probability
  over the last ``SLICES_PER_MODEL_WINDOW / 2`` results, from a zero-filled buffer (the first
  results are diluted by those zeros) with a float32 running sum; the anomaly score is not
  averaged. :class:`ContinuousClassifier` does exactly that with ``average_over`` results
  (default: slices per window // 2; 1 turns it off;
  :class:`edgert.runtime.continuous.MovingAverageFilter`).
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np

from .._version import __version__
from ..errors import ConfigurationError, EdgertError, InputError
from ..runtime.continuous import (AUDIO_BLOCK_TYPES, MovingAverageFilter, SliceFeatures,
                                  continuous_unsupported_reason)
from ..runtime.impulse import Impulse, KerasRunner
from ..runtime.results import predict_labels, reserved_names

#: model_parameters.sensor codes (the SDK's EI_CLASSIFIER_SENSOR_*)
SENSORS = {"microphone": 1, "accelerometer": 2, "camera": 3, "9dof": 4, "environmental": 5,
           "fusion": 6, "unknown": 255}
#: model_parameters.has_anomaly (the SDK's anomaly types)
ANOMALY_TYPES = {"anomaly": 1, "anomaly-gmm": 2}
#: threshold "type" per learn block type, as the SDK names its threshold groups
THRESHOLD_TYPES = {"keras": "classification", "anomaly": "anomaly", "anomaly-gmm": "anomaly_gmm"}
#: engine_type codes (the SDK's EI_CLASSIFIER_TFLITE / _TFLITE_FULL / _NONE): the native
#: engine computes TFLite Micro's arithmetic, the "tflite" backend is the LiteRT interpreter
ENGINE_TYPES = {"native": 2, "tflite": 4, None: 255}
DEFAULT_SLICES_PER_WINDOW = 4


def infer_sensor(impulse: Impulse) -> str:
    """The sensor a bundle's input most likely comes from (the bundle does not say): audio
    blocks on one axis, or an axis named audio/mic, is a microphone; acc*/gyr*/mag* axes are an
    accelerometer or a 9DoF IMU; temperature/humidity/pressure/light/gas axes are environmental;
    a mixture of those is sensor fusion; anything else is unknown."""
    axes = [a.lower() for a in impulse.axes]
    types = {d.spec.type for d in impulse.dsp_blocks}
    if len(axes) == 1 and (types & set(AUDIO_BLOCK_TYPES) or
                           axes[0] in ("audio", "mic", "microphone")):
        return "microphone"
    kinds = set()
    for a in axes:
        if a.startswith("acc"):
            kinds.add("acc")
        elif a.startswith("gyr"):
            kinds.add("gyr")
        elif a.startswith("mag"):
            kinds.add("mag")
        elif re.match(r"(temp|hum|pres|light|lux|gas|co2|voc|tvoc|iaq|alt)", a):
            kinds.add("env")
        else:
            kinds.add("other")
    if kinds == {"acc"}:
        return "accelerometer"
    if kinds <= {"acc", "gyr", "mag"}:
        return "9dof"
    if kinds == {"env"}:
        return "environmental"
    if len(kinds) > 1 and "other" not in kinds:
        return "fusion"
    return "unknown"


@dataclass(frozen=True)
class WindowOutcome:
    """One classification: the first classifier's probabilities (None without one), the first
    anomaly block's score (None without one), stage times in ns, and the DSP features."""
    probabilities: Optional[np.ndarray]
    anomaly: Optional[float]
    dsp_ns: int = 0
    classification_ns: int = 0
    anomaly_ns: int = 0
    features: dict[int, np.ndarray] = field(default_factory=dict)


class EimModel:
    """An :class:`Impulse` with the runner's settings: model ``variant``, continuous-mode
    ``slices_per_window`` and ``average_over``, the ``sensor`` reported in hello."""

    def __init__(self, impulse: Impulse, *, variant: Optional[str] = None,
                 slices_per_window: int = DEFAULT_SLICES_PER_WINDOW,
                 average_over: Optional[int] = None, sensor: Optional[str] = None):
        self.impulse = impulse
        self.variant = impulse.resolve_variant(variant)
        self.window_samples = impulse.window_samples
        self.axis_count = len(impulse.axes)
        self.input_features_count = self.window_samples * self.axis_count
        slices = int(slices_per_window)
        if not 1 <= slices <= self.window_samples:
            raise ConfigurationError(
                f"slices per window must be 1..{self.window_samples} (the window is "
                f"{self.window_samples} samples), got {slices_per_window}")
        self.slices_per_window = slices
        self.slice_samples = self.window_samples // slices
        self.slice_size = self.slice_samples * self.axis_count
        avg = max(1, slices // 2) if average_over is None else int(average_over)
        if avg < 1:
            raise ConfigurationError(f"the moving average must cover >= 1 result, got "
                                     f"{average_over}")
        self.average_over = avg
        sensor = sensor or infer_sensor(impulse)
        if sensor not in SENSORS:
            raise ConfigurationError(f"unknown sensor {sensor!r} (one of "
                                     f"{', '.join(SENSORS)})")
        self.sensor = sensor
        learn = impulse.learn_blocks
        keras = [b for b in learn if isinstance(b, KerasRunner)]
        anomaly = [b for b in learn if not isinstance(b, KerasRunner)]
        self._classifier = keras[0] if keras else None
        self._anomaly = anomaly[0] if anomaly else None
        self.labels: tuple[str, ...] = impulse.labels
        self._names = reserved_names(self.labels)   # what prediction() calls the two specials
        # numeric thresholds per learn block: {block id: {key: value}}
        self.thresholds: dict[int, dict[str, float]] = {}
        self.threshold_types: dict[int, str] = {}
        for b in impulse.bundle.learn:
            values = {t.key: float(t.value) for t in b.thresholds
                      if isinstance(t.value, (int, float)) and not isinstance(t.value, bool)}
            if values:
                self.thresholds[b.id] = values
                self.threshold_types[b.id] = THRESHOLD_TYPES.get(b.type, b.type)
        backends = sorted({b.model(self.variant).backend for b in keras if self.variant})
        self.backend = backends[0] if len(backends) == 1 else (None if not backends else
                                                               "native")
        #: the compiled plan (None: the impulse has a part it cannot represent), and per
        #: thread its buffers, whose runs time the stages in microseconds as the SDK does
        self._plan = impulse._plan_or_none(self.variant)
        self._local = threading.local()

    # ----------------------------------------------------------------------- hello
    def hello(self) -> dict[str, Any]:
        """The hello response's ``project``, ``model_parameters`` and ``inferencing_engine``."""
        b = self.impulse.bundle
        proj = b.project
        doc = b.document
        engine = ENGINE_TYPES.get(self.backend, 2)
        return {
            "project": {
                "id": _int(proj.get("id")),
                "owner": str(proj.get("owner", "") or ""),
                "name": str(proj.get("name", "") or ""),
                "deploy_version": _int(proj.get("deploy_version")),
                "impulse_id": int(b.impulse_id),
                "impulse_name": str(doc.get("impulse_name") or f"Impulse #{b.impulse_id}"),
            },
            "model_parameters": {
                "input_features_count": self.input_features_count,
                "sensor": SENSORS[self.sensor],
                "frequency": self.impulse.frequency,
                "interval_ms": 1000.0 / self.impulse.frequency,
                "axis_count": self.axis_count,
                "image_input_width": 0,
                "image_input_height": 0,
                "image_input_frames": 0,
                "image_channel_count": 0,
                "image_resize_mode": "none",
                "label_count": len(self.labels),
                "has_anomaly": ANOMALY_TYPES.get(self._anomaly.spec.type, 0)
                if self._anomaly else 0,
                "has_object_tracking": False,
                "labels": list(self.labels),
                "model_type": "classification",
                "slice_size": self.slice_size,
                "use_continuous_mode": self.sensor == "microphone",
                "has_performance_calibration": False,
                "inferencing_engine": engine,
                "thresholds": self.threshold_list(),
            },
            "inferencing_engine": {
                "engine_type": engine,
                "properties": ["edgert", f"edgert-{__version__}",
                               f"backend-{self.backend or 'none'}",
                               f"variant-{self.variant or 'none'}"],
            },
        }

    def threshold_list(self) -> list[dict[str, Any]]:
        """``model_parameters.thresholds``: ``[{"id": block, "type": ..., key: value}]``."""
        return [{"id": bid, "type": self.threshold_types[bid], **values}
                for bid, values in self.thresholds.items()]

    # ----------------------------------------------------------------- classification
    def classify_window(self, values: np.ndarray) -> WindowOutcome:
        """Classify one window of raw values (``input_features_count`` float32, interleaved
        axes). The one place a ``classify`` request runs the impulse."""
        plan = self._plan
        if plan is not None:
            try:
                buf = self._local.buffers
            except AttributeError:
                buf = self._local.buffers = plan.buffers(1, timing="us")
            try:
                plan.run_into(values, buf)
            except EdgertError:
                pass        # the stages below say what is wrong, as they always did
            else:
                dsp_us, class_us, anomaly_us, _ = buf.stage_times()
                row = buf.features[:1].copy()
                return WindowOutcome(
                    buf.scores[0].copy() if self._classifier is not None else None,
                    float(buf.anomaly[0]) if self._anomaly is not None else None,
                    dsp_us * 1000, class_us * 1000, anomaly_us * 1000,
                    {bid: row[:, sl] for bid, sl in plan.feature_slices.items()})
        return self._classify_stages(values)

    def _classify_stages(self, values: np.ndarray) -> WindowOutcome:
        """:meth:`classify_window` through the batch path's stages, each timed in Python."""
        imp = self.impulse
        t0 = time.perf_counter_ns()
        data = imp.prepare(values)
        feats = imp.compute_features(data, np.zeros(1, dtype=np.int32))
        return self.classify_features(feats, time.perf_counter_ns() - t0)

    def classify_features(self, feats: dict[int, np.ndarray], dsp_ns: int = 0) -> WindowOutcome:
        """The learn blocks on one window's DSP features (``{dsp id: (1, F)}``), timed per
        stage; ``dsp_ns``: what computing the features took."""
        imp = self.impulse
        probs = None
        anomaly = None
        t_class = t_anom = 0
        for b in imp.learn_blocks:
            x = imp.learn_input(b.spec, feats)
            t = time.perf_counter_ns()
            if isinstance(b, KerasRunner):
                out = b.predict(x, self.variant or "float32")
                t_class += time.perf_counter_ns() - t
                if b is self._classifier:
                    probs = np.asarray(out[0], dtype=np.float32)
            else:
                out = b.score(x)
                t_anom += time.perf_counter_ns() - t
                if b is self._anomaly:
                    anomaly = float(np.float32(out[0]))
        return WindowOutcome(probs, anomaly, dsp_ns, t_class, t_anom, feats)

    def empty_outcome(self) -> WindowOutcome:
        """The all-zero result continuous mode gives before its first full window."""
        probs = np.zeros(len(self.labels), dtype=np.float32) if self._classifier else None
        return WindowOutcome(probs, 0.0 if self._anomaly else None)

    def prediction(self, outcome: WindowOutcome) -> str:
        """Studio's prediction for an outcome under the current thresholds: ``anomaly`` over
        the anomaly threshold, ``uncertain`` under the classifier's minimum score, else the
        top label (an edgert addition to the response, see docs/eim.md)."""
        min_score = 0.6
        if self._classifier is not None:
            min_score = self.thresholds.get(self._classifier.spec.id, {}).get("min_score", 0.6)
        an_thr = float("inf")
        an = None
        if self._anomaly is not None and outcome.anomaly is not None:
            an_thr = self.thresholds.get(self._anomaly.spec.id, {}).get("min_anomaly_score",
                                                                        0.3)
            an = np.array([outcome.anomaly], dtype=np.float32)
        probs = None if outcome.probabilities is None else outcome.probabilities[None, :]
        return str(predict_labels(self.labels, probs, an, min_score, an_thr, 1, self._names)[0])

    def continuous(self) -> "ContinuousClassifier":
        return ContinuousClassifier(self)


class ContinuousClassifier:
    """Slice-by-slice classification (see the module docstring for the SDK comparison)."""

    def __init__(self, model: EimModel):
        self.model = model
        self.received = 0
        #: audio impulses: features slice by slice (None: whole raw windows)
        self.slices: Optional[SliceFeatures] = None
        if continuous_unsupported_reason(model.impulse, model.slice_samples) is None:
            self.slices = SliceFeatures(model.impulse, model.slice_samples)
        else:
            self.window = np.zeros((model.window_samples, model.axis_count), dtype=np.float32)
        self._filter = MovingAverageFilter(model.average_over, len(model.labels))

    def push(self, values: np.ndarray) -> WindowOutcome:
        """Append one slice (``slice_size`` float32 values, interleaved axes); the result of
        the window ending with it (all zeros until a window is full)."""
        m = self.model
        arr = np.asarray(values, dtype=np.float32).reshape(-1)
        if arr.size != m.slice_size:
            raise InputError(f"a slice holds {m.slice_size} values, got {arr.size}")
        if not np.isfinite(arr).all():
            raise InputError("the slice holds NaN/inf values; nothing of it was used")
        rows = arr.reshape(-1, m.axis_count)
        n = rows.shape[0]
        self.received += n
        if self.slices is not None:
            t0 = time.perf_counter_ns()
            feats = self.slices.push(rows)
            dsp_ns = time.perf_counter_ns() - t0
            if next(iter(feats.values())).shape[0] == 0:
                return m.empty_outcome()
            out = m.classify_features(feats, dsp_ns)
        else:
            if n >= len(self.window):
                self.window[:] = rows[-len(self.window):]
            else:
                self.window[:-n] = self.window[n:]
                self.window[-n:] = rows
            if self.received < m.window_samples:
                return m.empty_outcome()
            out = m.classify_window(self.window.reshape(-1))
        if m.average_over > 1 and out.probabilities is not None:
            out = replace(out, probabilities=self._filter(out.probabilities))
        return out


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


__all__ = ["EimModel", "ContinuousClassifier", "WindowOutcome", "SENSORS", "infer_sensor",
           "DEFAULT_SLICES_PER_WINDOW"]

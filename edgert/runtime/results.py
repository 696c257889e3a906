"""Results of classifying a whole recording, and their Studio-shaped JSON.

:class:`ClassificationResult` holds numpy arrays for the whole recording (one row per window)
and hands out compact per-window :class:`WindowResult` objects. ``to_studio_json()`` builds the
response document of Studio's ``POST /v1/api/{projectId}/classify/v2/{sampleId}`` (the official
``edgeimpulse_api`` client's ``ClassifySampleResponse``): one ``classifications[]`` entry per learn
block, with one ``result`` object per window holding every label's probability and
``anomaly``, the block's thresholds, ``expectedLabels`` when the sample is labelled, and the
``sample`` object with its payload.

Studio's prediction rule (classify-all ``predictions[]``) is applied to every window: a window
whose anomaly score is over the anomaly threshold is ``anomaly``; else a window whose top
probability is below ``min_score`` is ``uncertain``; else the top label.

A class may itself be named ``anomaly`` or ``uncertain`` (Studio accepts it, and public exports
have such classes). A label and the anomaly score are then kept apart by renaming edgert's own
entries, never the user's label (:func:`reserved_names`): the score's key in result objects and
the CLI column becomes ``anomaly score``, the prediction of an anomalous window
``anomaly (detected)`` and of a low-confidence window ``uncertain (below min_score)``.
"""
from __future__ import annotations

import datetime as _dt
import functools
import math
import operator
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from .bundle import Bundle, LearnSpec

UNCERTAIN = "uncertain"
ANOMALY = "anomaly"


@dataclass(frozen=True)
class ReservedNames:
    """The names edgert uses next to the labels: the anomaly score's key in per-window result
    objects, and the predictions of anomalous and low-confidence windows."""
    anomaly_key: str = ANOMALY
    anomaly_prediction: str = ANOMALY
    uncertain_prediction: str = UNCERTAIN


def reserved_names(labels: Sequence[str]) -> ReservedNames:
    """Studio's names unless a label already has one of them; then a spelled-out name that no
    label has (see the module docstring)."""
    taken = set(labels)

    def free(name: str, alternative: str) -> str:
        if name not in taken:
            return name
        cand, k = alternative, 2
        while cand in taken:
            cand, k = f"{alternative} #{k}", k + 1
        return cand

    return ReservedNames(free(ANOMALY, "anomaly score"), free(ANOMALY, "anomaly (detected)"),
                         free(UNCERTAIN, "uncertain (below min_score)"))


_FIELDS = ("index", "start_ms", "end_ms", "scores", "anomaly", "top_label", "top_score",
           "label", "anomalous")


class WindowResult:
    """One window: its time span, every label's probability, the anomaly score, the top label
    and the prediction after thresholds (``label``: a label, ``uncertain`` or ``anomaly``).

    Immutable, with the fields (and the constructor's positional order) ``index, start_ms,
    end_ms, scores, anomaly, top_label, top_score, label, anomalous``; equal when every field
    is. A slotted class rather than a dataclass because one is made per window on the
    one-window paths (a stream push, ``classify_window``), where a frozen dataclass's
    construction cost more than the C call: results made from a compiled plan's row
    (:func:`window_result_from_row`) build the ``scores`` dict on first access."""

    __slots__ = ("_index", "_start_ms", "_end_ms", "_scores", "_labels", "_values", "_anomaly",
                 "_top_label", "_top_score", "_label", "_anomalous")

    def __init__(self, index: int, start_ms: float, end_ms: float, scores: Mapping[str, float],
                 anomaly: Optional[float], top_label: Optional[str], top_score: Optional[float],
                 label: str, anomalous: bool):
        self._index = index
        self._start_ms = start_ms
        self._end_ms = end_ms
        self._scores = scores
        self._labels = self._values = None
        self._anomaly = anomaly
        self._top_label = top_label
        self._top_score = top_score
        self._label = label
        self._anomalous = anomalous

    index = property(operator.attrgetter("_index"), doc="the window's number")
    start_ms = property(operator.attrgetter("_start_ms"), doc="where the window starts (ms)")
    end_ms = property(operator.attrgetter("_end_ms"), doc="where it ends (ms)")
    anomaly = property(operator.attrgetter("_anomaly"),
                       doc="the first anomaly block's score (None without one)")
    top_label = property(operator.attrgetter("_top_label"),
                         doc="the label with the highest probability (None without labels)")
    top_score = property(operator.attrgetter("_top_score"), doc="its probability")
    label = property(operator.attrgetter("_label"),
                     doc="the prediction after thresholds: a label, uncertain or anomaly")
    anomalous = property(operator.attrgetter("_anomalous"),
                         doc="the anomaly score is over the anomaly threshold")

    @property
    def scores(self) -> Mapping[str, float]:
        """label -> probability (the first classifier's, in its label order)."""
        s = self._scores
        if s is None and self._labels is not None:     # made from a plan's row: build it
            s = self._scores = dict(zip(self._labels, self._values))  # type: ignore[arg-type]
        return s  # type: ignore[return-value]

    def _astuple(self) -> tuple:
        return (self._index, self._start_ms, self._end_ms, self.scores, self._anomaly,
                self._top_label, self._top_score, self._label, self._anomalous)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._astuple() == other._astuple()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]   # scores is a dict: not hashable

    def __repr__(self) -> str:
        return "WindowResult(" + ", ".join(f"{k}={v!r}" for k, v in
                                           zip(_FIELDS, self._astuple())) + ")"

    def __reduce__(self) -> tuple:
        return (WindowResult, self._astuple())

    def replace(self, **changes: Any) -> "WindowResult":
        """A copy with some fields changed (what ``dataclasses.replace`` did)."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"WindowResult has no field {sorted(unknown)[0]!r}")
        values = dict(zip(_FIELDS, self._astuple()))
        values.update(changes)
        return WindowResult(**values)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"start_ms": self._start_ms, "end_ms": self._end_ms,
                             "scores": dict(self.scores), "label": self._label}
        if self._anomaly is not None:
            d["anomaly"] = self._anomaly
        return d


_new_window = object.__new__


def window_result_from_row(index: int, start_ms: float, end_ms: float, labels: Sequence[str],
                           values: Sequence[float], anomaly: Optional[float], top: int,
                           label: str, anomalous: bool) -> WindowResult:
    """A :class:`WindowResult` whose ``scores`` dict is built on first access from ``labels``
    and ``values`` (the probabilities as Python floats, in label order, a list or tuple the
    result keeps; ``top``: the index of the highest, -1 without labels). What the one-window
    paths make per window."""
    w = _new_window(WindowResult)
    w._index = index
    w._start_ms = start_ms
    w._end_ms = end_ms
    w._scores = None
    w._labels = labels
    w._values = values
    w._anomaly = anomaly
    if top >= 0:
        w._top_label = labels[top]
        w._top_score = values[top]
    else:
        w._top_label = w._top_score = None
    w._label = label
    w._anomalous = anomalous
    return w


def plan_window_reader(labels: tuple[str, ...], window_size_ms: float,
                       prediction_names: Sequence[str], has_anomaly: bool,
                       unpack: Any, record_bytes: int) -> Any:
    """``read(buffers, row, index, start_ms) -> WindowResult`` for a compiled impulse plan's
    result records: ``unpack(buffers.results_view, row * record_bytes)`` gives (prediction,
    top, anomaly, n_labels, score...) of row ``row``; ``prediction_names[p]`` names a
    prediction index p (label index, -1 uncertain, -2 anomaly). One function call per window
    on the one-window paths (what :func:`window_result_from_row` does, inline)."""
    new = _new_window
    cls = WindowResult

    def read(buffers: Any, row: int, index: int, start_ms: float) -> WindowResult:
        r = unpack(buffers.results_view, row * record_bytes)
        pred, top = r[0], r[1]
        w = new(cls)
        w._index = index
        w._start_ms = start_ms
        w._end_ms = start_ms + window_size_ms
        w._scores = None
        w._labels = labels
        w._values = values = r[4:]
        w._anomaly = r[2] if has_anomaly else None
        if top >= 0:
            w._top_label = labels[top]
            w._top_score = values[top]
        else:
            w._top_label = w._top_score = None
        w._label = prediction_names[pred]
        w._anomalous = pred == -2
        return w
    return read


@functools.lru_cache(maxsize=64)
def _reserved_names(labels: tuple[str, ...]) -> ReservedNames:
    """:func:`reserved_names`, computed once per label set (results are built per window)."""
    return reserved_names(labels)


@functools.lru_cache(maxsize=64)
def _prediction_names(labels: tuple[str, ...], names: ReservedNames) -> np.ndarray:
    """The labels, then the anomaly and uncertain predictions' names: indexed by a prediction
    index (label index, -1 uncertain, -2 anomaly) it gives the prediction. Read-only (shared)."""
    out = np.array(labels + (names.anomaly_prediction, names.uncertain_prediction),
                   dtype=object)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class ResultLayout:
    """What a bundle fixes about every result of classifying with it: the classifier and
    anomaly blocks, the first classifier's labels, the thresholds the predictions use,
    edgert's reserved names and the prediction names indexed by a prediction index (label
    index, -1 uncertain, -2 anomaly). Made once per compiled plan (results of one-window calls
    share it) or once per result."""
    keras_blocks: tuple[LearnSpec, ...]
    anomaly_blocks: tuple[LearnSpec, ...]
    labels: tuple[str, ...]
    min_score: float
    anomaly_threshold: float
    names: ReservedNames
    prediction_names: np.ndarray
    window_size_ms: float
    window_increase_ms: float


def result_layout(bundle: Bundle) -> ResultLayout:
    """The :class:`ResultLayout` of a bundle."""
    keras = tuple(b for b in bundle.learn if b.type == "keras")
    anomaly = tuple(b for b in bundle.learn if b.type in ("anomaly", "anomaly-gmm"))
    labels: tuple[str, ...] = keras[0].labels if keras else ()
    # every classifier's labels: none of them may be shadowed by edgert's own names
    names = _reserved_names(tuple(lab for b in keras for lab in b.labels))
    return ResultLayout(
        keras, anomaly, labels,
        float(keras[0].threshold("min_score", 0.6)) if keras else 0.6,  # type: ignore[arg-type]
        float(anomaly[0].threshold("min_anomaly_score", 0.3))  # type: ignore[arg-type]
        if anomaly else math.inf,
        names, _prediction_names(labels, names), float(bundle.input.window_size_ms),
        float(bundle.input.window_increase_ms))


def predict_labels(labels: Sequence[str], probabilities: Optional[np.ndarray],
                   anomaly: Optional[np.ndarray], min_score: float,
                   anomaly_threshold: float, n: int,
                   names: Optional[ReservedNames] = None) -> np.ndarray:
    """Studio's per-window prediction (object array of str) from whole-recording arrays."""
    names = names or reserved_names(labels)
    out = np.empty(n, dtype=object)
    if probabilities is not None and len(labels):
        top = np.argmax(probabilities, axis=1)
        best = probabilities[np.arange(n), top]
        out[:] = np.asarray(labels, dtype=object)[top]
        out[best < min_score] = names.uncertain_prediction
    else:
        out[:] = names.uncertain_prediction
    if anomaly is not None:
        out[anomaly > anomaly_threshold] = names.anomaly_prediction
    return out


class _Lazy:
    """An attribute computed on first access and then stored in the instance's ``__dict__``
    (a non-data descriptor: later reads are plain attribute reads; assigning the attribute
    stores the value and the computation never runs)."""

    def __init__(self, compute: Any):
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)
        return value


def _first_max(values: list) -> int:
    """numpy.argmax of a list of floats: the first maximum; the first NaN when there is one."""
    if not values:
        return -1
    if sum(values) == sum(values):     # no NaN (a NaN makes the sum NaN)
        return values.index(max(values))
    best = 0
    for k, v in enumerate(values):
        if v != v:
            return k
        if v > values[best]:
            best = k
    return best


class ClassificationResult:
    """Classification of every window of one recording.

    Arrays (row ``w`` = window ``w``): ``start_rows`` (first sample, at the impulse frequency),
    ``start_ms``, ``end_ms``, ``probabilities`` ((n, labels) float32, the first classifier;
    None without one), ``anomaly`` ((n,) float32, the first anomaly block; None without one),
    ``outputs`` (learn block id -> its array), ``predictions`` (Studio's label per window).
    ``variant``: the model variant that ran ("float32"/"int8", None without a classifier).
    ``prediction_index``: optional, the compiled impulse plan's per-window prediction (label
    index, -1 uncertain, -2 anomaly), which the C core computes by the same rule; when given,
    ``predictions`` and ``anomalous`` are read from it instead of computed again.

    Every derived attribute (the arrays above, thresholds, names) is computed on first access
    and kept: a result of a one-window ``classify`` (:meth:`from_plan_rows`) costs a copy of
    the plan's output rows until something reads it.
    """

    def __init__(self, *, bundle: Bundle, variant: Optional[str], frequency: float,
                 source_frequency: float, data: np.ndarray, start_rows: np.ndarray,
                 window_samples: int, outputs: Mapping[int, np.ndarray],
                 features: Optional[Mapping[int, np.ndarray]] = None,
                 prediction_index: Optional[np.ndarray] = None):
        self._common(bundle, variant, frequency, source_frequency, data, window_samples)
        self.start_rows = np.asarray(start_rows, dtype=np.int64)
        self._n = len(self.start_rows)
        self.outputs = dict(outputs)
        self.features = dict(features or {})
        self._prediction_index = prediction_index
        self._plan_rows: Any = None

    def _common(self, bundle: Bundle, variant: Optional[str], frequency: float,
                source_frequency: float, data: np.ndarray, window_samples: int) -> None:
        self.bundle = bundle
        self.variant = variant
        self.frequency = float(frequency)
        self.source_frequency = float(source_frequency)
        self.data = data
        self.window_samples = int(window_samples)

    @classmethod
    def from_plan_rows(cls, *, bundle: Bundle, variant: Optional[str], frequency: float,
                       source_frequency: float, data: np.ndarray, window_samples: int,
                       plan: Any, outputs: np.ndarray, features: np.ndarray,
                       prediction_index: np.ndarray) -> "ClassificationResult":
        """The result of windows 0, S, 2S, ... (``len(prediction_index)`` of them) run by a
        compiled impulse plan (:class:`edgert.runtime.impulse_plan.ImpulsePlan`): its output
        rows (n, plan.n_outputs) and feature rows (n, plan.n_features), copies the result
        owns. The per-block arrays are cut from them on first access."""
        self = cls.__new__(cls)
        self._common(bundle, variant, frequency, source_frequency, data, window_samples)
        self._n = len(prediction_index)
        self._prediction_index = prediction_index
        self._plan_rows = (plan, outputs, features)
        self._layout = plan.result_layout
        return self

    # ------------------------------------------------------- derived, on first access
    @_Lazy
    def start_rows(self) -> np.ndarray:
        """Each window's first sample (int64, at the impulse frequency)."""
        plan = self._plan_rows[0]
        return np.arange(self._n, dtype=np.int64) * plan.window_increase

    @_Lazy
    def outputs(self) -> dict[int, np.ndarray]:
        """learn block id -> its output array."""
        plan, rows, _ = self._plan_rows
        return {bid: np.ascontiguousarray(rows[:, sl]) if scores else rows[:, sl.start].copy()
                for bid, sl, scores in plan.learn_outputs}

    @_Lazy
    def features(self) -> dict[int, np.ndarray]:
        """DSP block id -> (n, features) float32."""
        plan, _, rows = self._plan_rows
        return {bid: np.ascontiguousarray(rows[:, sl])
                for bid, sl in plan.feature_slices.items()}

    @_Lazy
    def resampled(self) -> bool:
        """The recording was at another frequency (the tolerance Impulse.prepare uses to
        decide whether to resample at all)."""
        return not math.isclose(self.frequency, self.source_frequency, rel_tol=1e-6)

    @_Lazy
    def _layout(self) -> ResultLayout:
        return result_layout(self.bundle)

    @_Lazy
    def window_size_ms(self) -> float:
        return self._layout.window_size_ms

    @_Lazy
    def window_increase_ms(self) -> float:
        return self._layout.window_increase_ms

    @_Lazy
    def start_ms(self) -> np.ndarray:
        return self.start_rows * (1000.0 / self.frequency)

    @_Lazy
    def end_ms(self) -> np.ndarray:
        return self.start_ms + self.window_size_ms

    @_Lazy
    def keras_blocks(self) -> list[LearnSpec]:
        return list(self._layout.keras_blocks)

    @_Lazy
    def anomaly_blocks(self) -> list[LearnSpec]:
        return list(self._layout.anomaly_blocks)

    @_Lazy
    def labels(self) -> tuple[str, ...]:
        """The first classifier's labels, in its output order."""
        return self._layout.labels

    @_Lazy
    def probabilities(self) -> Optional[np.ndarray]:
        keras = self._layout.keras_blocks
        return self.outputs[keras[0].id] if keras else None

    @_Lazy
    def anomaly(self) -> Optional[np.ndarray]:
        blocks = self._layout.anomaly_blocks
        return self.outputs[blocks[0].id] if blocks else None

    @_Lazy
    def min_score(self) -> float:
        return self._layout.min_score

    @_Lazy
    def anomaly_threshold(self) -> float:
        return self._layout.anomaly_threshold

    @_Lazy
    def names(self) -> ReservedNames:
        return self._layout.names

    @_Lazy
    def predictions(self) -> np.ndarray:
        """Studio's prediction per window (object array of str)."""
        if self._prediction_index is not None:
            return self._layout.prediction_names[self._prediction_index]
        return predict_labels(self.labels, self.probabilities, self.anomaly, self.min_score,
                              self.anomaly_threshold, self._n, self.names)

    @_Lazy
    def anomalous(self) -> np.ndarray:
        """(n,) bool: the anomaly score is over the anomaly threshold."""
        if self._prediction_index is not None:
            return self._prediction_index == -2
        return (self.anomaly > self.anomaly_threshold if self.anomaly is not None
                else np.zeros(self._n, dtype=bool))

    # ------------------------------------------------------------------ per-window access
    def __len__(self) -> int:
        return self._n

    def __getitem__(self, w: int) -> WindowResult:
        n = self._n
        if w < 0:
            w += n
        if not 0 <= w < n:
            raise IndexError(f"window {w} of {n}")
        if self._plan_rows is not None:
            return self._plan_window(w)
        values: list = []
        top = -1
        if self.probabilities is not None:
            row = self.probabilities[w]
            values = row.astype(np.float64).tolist()
            top = int(np.argmax(row))
        an = float(self.anomaly[w]) if self.anomaly is not None else None
        return window_result_from_row(w, float(self.start_ms[w]), float(self.end_ms[w]),
                                      self.labels, values, an, top, str(self.predictions[w]),
                                      bool(self.anomalous[w]))

    def _plan_window(self, w: int) -> WindowResult:
        """Window ``w`` read straight from the plan's rows (no whole-recording array made):
        the numbers and arithmetic of the array path."""
        plan, rows, _ = self._plan_rows
        lay = self._layout
        row = rows[w]
        values: list = []
        top = -1
        if plan.classifier_columns is not None:
            values = row[plan.classifier_columns].tolist()
            top = _first_max(values)
        an = float(row[plan.anomaly_column]) if plan.anomaly_column is not None else None
        start = float(w * plan.window_increase) * (1000.0 / self.frequency)
        pred = int(self._prediction_index[w])
        return window_result_from_row(w, start, start + lay.window_size_ms, lay.labels, values,
                                      an, top, str(lay.prediction_names[pred]), pred == -2)

    def __iter__(self) -> Iterator[WindowResult]:
        # whole-array conversions once, not per window
        n = self._n
        starts, ends = self.start_ms.tolist(), self.end_ms.tolist()
        preds, bad = self.predictions.tolist(), self.anomalous.tolist()
        an = self.anomaly.astype(np.float64).tolist() if self.anomaly is not None else [None] * n
        labels = self.labels
        if self.probabilities is not None:
            probs = self.probabilities.astype(np.float64).tolist()
            top = np.argmax(self.probabilities, axis=1).tolist()
        else:
            probs, top = [[]] * n, [-1] * n
        for w in range(n):
            yield window_result_from_row(w, starts[w], ends[w], labels, probs[w], an[w], top[w],
                                         str(preds[w]), bool(bad[w]))

    @property
    def windows(self) -> list[WindowResult]:
        return list(self)

    def summary(self) -> dict[str, Any]:
        """Counts of predictions per label (Studio's rule), mean probabilities, anomaly range."""
        counts: dict[str, int] = {lab: 0 for lab in self.labels}
        for p in self.predictions:
            counts[p] = counts.get(p, 0) + 1
        out: dict[str, Any] = {"windows": len(self), "variant": self.variant,
                               "predictions": counts}
        if self.probabilities is not None and len(self):
            out["mean_scores"] = {lab: float(v) for lab, v in
                                  zip(self.labels, self.probabilities.mean(axis=0))}
        if self.anomaly is not None and len(self):
            out["anomaly"] = {"min": float(self.anomaly.min()), "max": float(self.anomaly.max()),
                              "anomalous_windows": int(self.anomalous.sum())}
        return out

    # ------------------------------------------------------------------------ Studio JSON
    def window_columns(self, block: LearnSpec) -> tuple[list[str], np.ndarray]:
        """A block's per-window ``result`` objects as columns: the keys (every label of the
        impulse's first classifier and ``anomaly`` (the first anomaly block's score) -- for an
        anomaly block its own) and an (n, keys) float64 matrix, row ``w`` = window ``w``'s
        values. Classify-all stores this form and builds the objects only for a page."""
        n = len(self)
        cols: list[tuple[str, np.ndarray]] = []
        if block.type == "keras":
            probs = self.outputs[block.id]
            cols += [(lab, probs[:, i]) for i, lab in enumerate(block.labels)]
            if self.anomaly is not None:
                cols.append((self.names.anomaly_key, self.anomaly))
        else:
            if self.probabilities is not None:
                cols += [(lab, self.probabilities[:, i]) for i, lab in enumerate(self.labels)]
            cols.append((self.names.anomaly_key, self.outputs[block.id]))
        m = np.empty((n, len(cols)), dtype=np.float64)
        for i, (_, v) in enumerate(cols):
            m[:, i] = np.asarray(v, dtype=np.float64).reshape(n)
        return [k for k, _ in cols], m

    def _window_objects(self, block: LearnSpec) -> list[dict[str, float]]:
        """One object per window for a block (see :meth:`window_columns`)."""
        keys, m = self.window_columns(block)
        return [dict(zip(keys, row)) for row in m.tolist()]

    def studio_classifications(self, label: Optional[str] = None, *,
                               columns: bool = False) -> list[dict[str, Any]]:
        """The ``classifications[]`` of the classify v2 document: one object per learn block
        (every window's ``result``, thresholds, ``expectedLabels`` when ``label`` is given).
        Classify-all stores just these per sample, so they are built apart from the rest.
        ``columns=True``: each ``result`` is :meth:`window_columns`' ``(keys, matrix)``
        instead of the list of objects (compact; classify-all expands it for a page)."""
        W = self.window_samples
        interval = 1000.0 / self.frequency
        expected = ([{"startIndex": int(s), "endIndex": int(s) + W - 1, "label": label}
                     for s in self.start_rows.tolist()] if label else [])
        classifications = []
        for block in self.bundle.learn:
            if block.type == "keras":
                mcr = float(block.threshold("min_score", 0.6))  # type: ignore[arg-type]
            else:
                mcr = float(block.threshold("min_anomaly_score", 0.3))  # type: ignore[arg-type]
            thresholds = [{"key": t.key, "description": t.description, "helpText": t.help_text,
                           "value": t.value} for t in block.thresholds]
            classifications.append({
                "learnBlock": {"id": block.id, "type": block.type, "name": block.name,
                               "dsp": list(block.dsp), "title": block.title},
                "result": (self.window_columns(block) if columns
                           else self._window_objects(block)),
                "minimumConfidenceRating": mcr,
                "expectedLabels": expected,
                "thresholds": thresholds,
                "intervalMs": interval,
                "frequencyHz": self.frequency,
                "resultCount": len(self),
            })
        return classifications

    def to_studio_json(self, sample: Any = None, *, sample_id: int = 1,
                       project_id: Optional[int] = None, category: str = "testing",
                       already_in_database: bool = False,
                       created: Optional[str] = None) -> dict[str, Any]:
        """The classify v2 response document (seed 000 /
        ``edgeimpulse_api.models.ClassifySampleResponse``).

        ``sample``: an :class:`edgert.recording.Recording` or a mapping with the same attribute
        names (filename, label, sensors, device_name, device_type, sha256, metadata, ...);
        None describes the classified data anonymously. The payload holds the values as
        classified (resampled when the recording was at another frequency).
        """
        now = created or _dt.datetime.now(_dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        pid = project_id if project_id is not None else int(
            self.bundle.project.get("id", 0) or 0)
        get = _getter(sample)
        label = get("label", None)
        interval = 1000.0 / self.frequency
        sensors_src = get("sensors", None)
        if sensors_src:
            sensors = [{"index": i, "name": _attr(s, "name"), "units": _attr(s, "units")}
                       for i, s in enumerate(sensors_src)]
        else:
            sensors = [{"index": i, "name": a, "units": "N/A"}
                       for i, a in enumerate(self.bundle.input.axes)]
        names_in_data = list(self.bundle.input.axes)
        if [s["name"] for s in sensors] != names_in_data:
            # the payload holds the impulse's columns, in its order
            units = {s["name"]: s["units"] for s in sensors}
            sensors = [{"index": i, "name": a, "units": units.get(a, "N/A")}
                       for i, a in enumerate(names_in_data)]
        n_rows = int(self.data.shape[0])
        length_ms = n_rows * interval
        values = self.data.astype(np.float64).tolist()
        sig_valid = get("signature_valid", None)
        sample_obj: dict[str, Any] = {
            "id": int(get("id", sample_id)),
            "filename": str(get("filename", "recording")),
            "signatureValidate": bool(sig_valid) if sig_valid is not None else False,
            "signatureMethod": get("signature_method", None) or "none",
            "created": now, "lastModified": now,
            "category": category,
            "coldstorageFilename": str(get("filename", "recording")),
            "label": label if label is not None else "",
            "intervalMs": interval, "frequency": self.frequency,
            "originalIntervalMs": 1000.0 / self.source_frequency,
            "originalFrequency": self.source_frequency,
            "deviceName": get("device_name", None) or "",
            "deviceType": get("device_type", None) or "unknown",
            "sensors": sensors,
            "valuesCount": n_rows, "totalLengthMs": length_ms, "added": now,
            "boundingBoxes": [], "boundingBoxesType": "object_detection", "chartType": "chart",
            "isDisabled": False, "isProcessing": False, "processingError": False,
            "isCropped": False,
            "metadata": {str(k): str(v) for k, v in dict(get("metadata", None) or {}).items()},
            "projectId": pid,
            "projectName": str(self.bundle.project.get("name", "")),
            "projectOwnerName": str(self.bundle.project.get("owner", "")),
            "projectLabelingMethod": "single_label",
            "sha256Hash": str(get("sha256", "") or ""),
            "datastreams": [{"index": 0, "chartType": "chart", "intervalMs": interval,
                             "frequencyHz": self.frequency, "sensors": sensors,
                             "valuesCount": n_rows, "totalLengthMs": length_ms}],
        }
        payload = {"device_name": get("device_name", None) or "",
                   "device_type": get("device_type", None) or "unknown",
                   # the client's RawSamplePayload.sensors are Sensor objects: index required
                   "sensors": [dict(s) for s in sensors],
                   "values": values, "cropStart": 0, "cropEnd": n_rows,
                   "intervalMs": interval, "frequencyHz": self.frequency}
        classifications = self.studio_classifications(label)
        doc: dict[str, Any] = {
            "success": True,
            "classifications": classifications,
            "sample": {"sample": sample_obj, "payload": payload,
                       "totalPayloadLength": n_rows, "datastreamPayloads": []},
            "windowSizeMs": int(round(self.window_size_ms)),
            "windowIncreaseMs": int(round(self.window_increase_ms)),
            "alreadyInDatabase": bool(already_in_database),
        }
        if self.resampled:
            doc["warning"] = (f"the sample was resampled from {self.source_frequency:g} Hz to "
                              f"the impulse's {self.frequency:g} Hz before classification")
        return doc


def _attr(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def _getter(sample: Any):
    def get(name: str, default: Any) -> Any:
        if sample is None:
            return default
        if isinstance(sample, Mapping):
            return sample.get(name, default)
        return getattr(sample, name, default)
    return get


@dataclass
class FeatureResult:
    """Processed features of every window: ``features`` (n, F) float32 (all DSP blocks,
    concatenated in bundle order), ``by_block`` (DSP block id -> its columns), ``labels``
    (one name per feature column), ``start_rows`` / ``start_ms``."""
    labels: tuple[str, ...]
    features: np.ndarray
    by_block: Mapping[int, np.ndarray]
    start_rows: np.ndarray
    start_ms: np.ndarray
    frequency: float

    def __len__(self) -> int:
        return len(self.start_rows)

    def to_json(self) -> dict[str, Any]:
        """Studio's processed-features shape:
        ``{"labels": [...], "windows": [{"start_ms": t, "features": [...]}]}``."""
        feats = self.features.astype(np.float64).tolist()
        return {"labels": list(self.labels),
                "windows": [{"start_ms": float(t), "features": f}
                            for t, f in zip(self.start_ms.tolist(), feats)]}


__all__ = ["ClassificationResult", "WindowResult", "FeatureResult", "predict_labels",
           "UNCERTAIN", "ANOMALY"]

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


@dataclass(frozen=True)
class WindowResult:
    """One window: its time span, every label's probability, the anomaly score, the top label
    and the prediction after thresholds (``label``: a label, ``uncertain`` or ``anomaly``)."""
    index: int
    start_ms: float
    end_ms: float
    scores: Mapping[str, float]
    anomaly: Optional[float]
    top_label: Optional[str]
    top_score: Optional[float]
    label: str
    anomalous: bool

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"start_ms": self.start_ms, "end_ms": self.end_ms,
                             "scores": dict(self.scores), "label": self.label}
        if self.anomaly is not None:
            d["anomaly"] = self.anomaly
        return d


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
    """

    def __init__(self, *, bundle: Bundle, variant: Optional[str], frequency: float,
                 source_frequency: float, data: np.ndarray, start_rows: np.ndarray,
                 window_samples: int, outputs: Mapping[int, np.ndarray],
                 features: Optional[Mapping[int, np.ndarray]] = None,
                 prediction_index: Optional[np.ndarray] = None):
        self.bundle = bundle
        self.variant = variant
        self.frequency = float(frequency)
        self.source_frequency = float(source_frequency)
        # the tolerance Impulse.prepare uses to decide whether to resample at all
        self.resampled = not math.isclose(self.frequency, self.source_frequency, rel_tol=1e-6)
        self.data = data
        self.start_rows = np.asarray(start_rows, dtype=np.int64)
        self.window_samples = int(window_samples)
        self.window_size_ms = float(bundle.input.window_size_ms)
        self.window_increase_ms = float(bundle.input.window_increase_ms)
        self.start_ms = self.start_rows * (1000.0 / self.frequency)
        self.end_ms = self.start_ms + self.window_size_ms
        self.outputs = dict(outputs)
        self.features = dict(features or {})
        self.keras_blocks = [b for b in bundle.learn if b.type == "keras"]
        self.anomaly_blocks = [b for b in bundle.learn if b.type in ("anomaly", "anomaly-gmm")]
        first_k = self.keras_blocks[0] if self.keras_blocks else None
        first_a = self.anomaly_blocks[0] if self.anomaly_blocks else None
        self.labels: tuple[str, ...] = first_k.labels if first_k else ()
        self.probabilities: Optional[np.ndarray] = self.outputs[first_k.id] if first_k else None
        self.anomaly: Optional[np.ndarray] = self.outputs[first_a.id] if first_a else None
        self.min_score = float(first_k.threshold("min_score", 0.6)) if first_k else 0.6
        self.anomaly_threshold = (float(first_a.threshold("min_anomaly_score", 0.3))
                                  if first_a else math.inf)
        n = len(self.start_rows)
        # every classifier's labels: none of them may be shadowed by edgert's own names
        self.names = _reserved_names(tuple(lab for b in self.keras_blocks for lab in b.labels))
        if prediction_index is not None:
            self.predictions = _prediction_names(self.labels, self.names)[prediction_index]
            self.anomalous = prediction_index == -2
            return
        self.predictions = predict_labels(self.labels, self.probabilities, self.anomaly,
                                          self.min_score, self.anomaly_threshold, n, self.names)
        self.anomalous = (self.anomaly > self.anomaly_threshold if self.anomaly is not None
                          else np.zeros(n, dtype=bool))

    # ------------------------------------------------------------------ per-window access
    def __len__(self) -> int:
        return len(self.start_rows)

    def __getitem__(self, w: int) -> WindowResult:
        n = len(self)
        if w < 0:
            w += n
        if not 0 <= w < n:
            raise IndexError(f"window {w} of {n}")
        scores: dict[str, float] = {}
        top_label = top_score = None
        if self.probabilities is not None:
            row = self.probabilities[w]
            scores = {lab: float(row[i]) for i, lab in enumerate(self.labels)}
            k = int(np.argmax(row))
            top_label, top_score = self.labels[k], float(row[k])
        an = float(self.anomaly[w]) if self.anomaly is not None else None
        return WindowResult(w, float(self.start_ms[w]), float(self.end_ms[w]), scores, an,
                            top_label, top_score, str(self.predictions[w]),
                            bool(self.anomalous[w]))

    def __iter__(self) -> Iterator[WindowResult]:
        # whole-array conversions once, not per window
        n = len(self)
        starts, ends = self.start_ms.tolist(), self.end_ms.tolist()
        preds, bad = self.predictions.tolist(), self.anomalous.tolist()
        an = self.anomaly.astype(np.float64).tolist() if self.anomaly is not None else [None] * n
        if self.probabilities is not None:
            probs = self.probabilities.astype(np.float64).tolist()
            top = np.argmax(self.probabilities, axis=1).tolist()
        for w in range(n):
            scores: dict[str, float] = {}
            top_label = top_score = None
            if self.probabilities is not None:
                row = probs[w]
                scores = dict(zip(self.labels, row))
                top_label, top_score = self.labels[top[w]], row[top[w]]
            yield WindowResult(w, starts[w], ends[w], scores, an[w], top_label, top_score,
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

"""Model-testing metrics over per-window predictions, in the shape of Studio's
``modelValidationMetrics`` entries (seed 003; the official client's
``KerasModelMetadataMetrics``).

* ``confusionMatrix``: rows = true label, columns = predicted label, both in the order of
  ``labels`` (the model's labels, then any other true label in sorted order, then the
  pseudo-labels ``anomaly`` and ``uncertain`` when they occur). Square, counts of windows.
* ``accuracy``: the fraction of windows whose prediction equals the true label.
* ``report``: like scikit-learn's ``classification_report(output_dict=True)`` over the labels
  that occur as a truth or a prediction: per label ``precision``, ``recall``, ``f1-score``,
  ``support`` (0 where a denominator is 0), then ``accuracy``, ``macro avg`` and
  ``weighted avg`` (weights = support).
* ``loss``: categorical cross-entropy of the classifier's probabilities (Keras' definition:
  probabilities renormalised to sum 1, clipped to [1e-7, 1 - 1e-7]) over the windows whose true
  label is one of the model's labels; omitted (``None``) when there is no such window or no
  probabilities - Studio's client declares it required, so such a document is incomplete.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

__all__ = ["confusion_matrix", "classification_report", "cross_entropy", "validation_metrics",
           "matrix_labels", "PSEUDO_LABELS"]

PSEUDO_LABELS = ("anomaly", "uncertain")
_EPS = 1e-7


def matrix_labels(model_labels: Sequence[str], true: Sequence[str],
                  predicted: Sequence[str]) -> List[str]:
    """Row/column order of the confusion matrix (see the module docstring)."""
    labels = list(dict.fromkeys(model_labels))
    seen = set(labels)
    extra = sorted({t for t in true if t not in seen and t not in PSEUDO_LABELS})
    labels += extra
    seen.update(extra)
    occurring = set(true) | set(predicted)
    for p in PSEUDO_LABELS:
        if p in occurring and p not in seen:
            labels.append(p)
            seen.add(p)
    extra_pred = sorted(set(predicted) - seen)
    return labels + extra_pred


def confusion_matrix(true: Sequence[str], predicted: Sequence[str],
                     labels: Sequence[str]) -> np.ndarray:
    """Counts ``m[i, j]`` of windows with true label ``labels[i]`` predicted ``labels[j]``."""
    if len(true) != len(predicted):
        raise ValueError(f"{len(true)} true labels but {len(predicted)} predictions")
    index = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    if len(true):
        ti = np.array([index[t] for t in true], dtype=np.int64)
        pi = np.array([index[p] for p in predicted], dtype=np.int64)
        np.add.at(m, (ti, pi), 1)
    return m


def classification_report(m: np.ndarray, labels: Sequence[str]) -> Dict[str, Any]:
    """Per-label precision/recall/F1/support and averages from a confusion matrix."""
    tp = np.diag(m).astype(np.float64)
    support = m.sum(axis=1).astype(np.float64)
    predicted = m.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    report: Dict[str, Any] = {}
    keep = [i for i in range(len(labels)) if support[i] > 0 or predicted[i] > 0]
    for i in keep:
        report[labels[i]] = {"precision": float(precision[i]), "recall": float(recall[i]),
                             "f1-score": float(f1[i]), "support": int(support[i])}
    total = float(support.sum())
    report["accuracy"] = float(tp.sum() / total) if total else 0.0
    if keep:
        k = np.array(keep)
        w = support[k]
        report["macro avg"] = {"precision": float(precision[k].mean()),
                               "recall": float(recall[k].mean()),
                               "f1-score": float(f1[k].mean()), "support": int(total)}
        report["weighted avg"] = {
            "precision": float((precision[k] * w).sum() / total) if total else 0.0,
            "recall": float((recall[k] * w).sum() / total) if total else 0.0,
            "f1-score": float((f1[k] * w).sum() / total) if total else 0.0,
            "support": int(total)}
    return report


def cross_entropy(probabilities: np.ndarray, true_index: np.ndarray) -> Optional[float]:
    """Mean categorical cross-entropy; rows with ``true_index < 0`` are skipped."""
    p = np.asarray(probabilities, dtype=np.float64)
    t = np.asarray(true_index, dtype=np.int64)
    ok = t >= 0
    if p.ndim != 2 or not ok.any():
        return None
    p = p[ok]
    t = t[ok]
    sums = p.sum(axis=1, keepdims=True)
    p = np.divide(p, sums, out=np.full_like(p, 1.0 / p.shape[1]), where=sums > 0)
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.log(p[np.arange(len(t)), t]).mean())


def validation_metrics(true: Sequence[str], predicted: Sequence[str], *,
                       model_labels: Sequence[str] = (),
                       probabilities: Optional[np.ndarray] = None,
                       variant: str = "float32") -> Dict[str, Any]:
    """One ``modelValidationMetrics`` entry (plus ``labels``, the matrix order, which the
    official client ignores). ``probabilities``: (windows, len(model_labels)) for the loss."""
    labels = matrix_labels(model_labels, true, predicted)
    m = confusion_matrix(true, predicted, labels)
    report = classification_report(m, labels)
    total = int(m.sum())
    out: Dict[str, Any] = {
        "type": variant,
        "accuracy": float(np.trace(m) / total) if total else 0.0,
        "confusionMatrix": m.astype(float).tolist(),
        "report": report,
        "onDevicePerformance": [],
        "visualization": "none",
        "isSupportedOnMcu": True,
        "additionalMetrics": [],
        "labels": labels,
    }
    if "weighted avg" in report:
        f1w = report["weighted avg"]["f1-score"]
        out["additionalMetrics"].append({"name": "Weighted average F1 score",
                                         "value": f"{f1w:.2f}", "fullPrecisionValue": f1w})
    loss = None
    if probabilities is not None and len(model_labels):
        idx = {lab: i for i, lab in enumerate(model_labels)}
        t = np.array([idx.get(x, -1) for x in true], dtype=np.int64)
        loss = cross_entropy(np.asarray(probabilities).reshape(len(true), len(model_labels)),
                             t)
    if loss is not None:
        out["loss"] = loss
    return out

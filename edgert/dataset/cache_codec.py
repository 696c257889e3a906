"""The classify-all result cache's codec: how :mod:`edgert.dataset.index` stores a cached
classification in SQLite.

Studio's classification objects hold one ``{key: float}`` object per window; writing each
float's shortest repr as JSON was most of a fresh classify-all's cache cost. So the bulk - each
block's ``result`` column matrix, each ``expectedLabels`` span list, the summary's per-window
arrays - goes to a float64 (or int64-bits) byte block next to a small JSON skeleton that says
where each piece goes back. Floats round-trip exactly; anything not of the packed shapes stays
plain JSON; NaN/Infinity raise ValueError as ``json.dumps(allow_nan=False)`` does.
"""
from __future__ import annotations

import itertools
import json
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["pack_detail", "unpack_detail", "pack_summary", "unpack_summary", "expand_detail"]

#: Marks a ``result`` list stored as a float64 block in ``detail_values``.
_PACKED = "$packedColumns"


def pack_detail(detail: Any) -> Tuple[str, Optional[bytes]]:
    """Studio's classification objects as (JSON, float64 bytes): each block's ``result`` (one
    ``{key: float}`` object per window, the bulk of it) is stored as a column matrix - JSON
    writing every float's shortest repr was most of a fresh classify-all's cache cost. A
    ``result`` may also be given as ``(keys, (n, keys) float matrix)`` (classify-all's compact
    form, :meth:`edgert.runtime.results.ClassificationResult.window_columns`). Floats round-trip
    exactly; anything not of that shape stays plain JSON; NaN/Infinity raise ValueError as
    ``json.dumps(allow_nan=False)`` does."""
    if not isinstance(detail, list):
        return json.dumps(detail, allow_nan=False), None
    out: List[Any] = []
    blocks: List[np.ndarray] = []
    for c in detail:
        res = c.get("result") if type(c) is dict else None
        keys, m = None, None
        if type(res) is tuple:
            keys, m = list(res[0]), np.asarray(res[1], dtype=np.float64)
        # C-level passes (map/set), not a Python loop per window: the same keys in the same
        # order in every window object, and every value a float
        elif type(res) is list and res and set(map(type, res)) == {dict} \
                and len(set(map(tuple, res))) == 1 and res[0]:
            rows = list(map(list, map(dict.values, res)))
            if set(map(type, itertools.chain.from_iterable(rows))) == {float}:
                keys, m = list(res[0]), np.array(rows, dtype=np.float64)
        spans = _window_spans(c.get("expectedLabels") if type(c) is dict else None)
        if m is None and spans is None:
            out.append(c)
            continue
        c = dict(c)
        if m is not None:
            if not np.isfinite(m).all():
                raise ValueError("Out of range float values are not JSON compliant")
            c["result"] = {_PACKED: keys, "rows": int(m.shape[0])}
            blocks.append(m.ravel())
        if spans is not None:
            label, ints = spans
            c["expectedLabels"] = {_PACKED_SPANS: label, "rows": int(ints.shape[0])}
            blocks.append(ints.ravel().view(np.float64))   # int64 bits, restored as such
        out.append(c)
    if not blocks:
        return json.dumps(detail, allow_nan=False), None
    return json.dumps(out, allow_nan=False), np.concatenate(blocks).tobytes()


#: Marks an ``expectedLabels`` list stored as (startIndex, endIndex) int64 pairs.
_PACKED_SPANS = "$packedSpans"
_SPAN_KEYS = ("startIndex", "endIndex", "label")


def _window_spans(spans: Any) -> Optional[Tuple[str, np.ndarray]]:
    """``expectedLabels`` (``{startIndex, endIndex, label}`` per window, one label) as
    (label, (n, 2) int64), or None when it is not exactly that."""
    if type(spans) is not list or not spans or set(map(type, spans)) != {dict} \
            or set(map(tuple, spans)) != {_SPAN_KEYS}:
        return None
    labels = {d["label"] for d in spans}
    if len(labels) != 1 or type(next(iter(labels))) is not str:
        return None
    starts = [d["startIndex"] for d in spans]
    ends = [d["endIndex"] for d in spans]
    if set(map(type, starts)) != {int} or set(map(type, ends)) != {int}:
        return None
    try:
        ints = np.array([starts, ends], dtype=np.int64).T.copy()
    except OverflowError:
        return None
    return next(iter(labels)), ints


def expand_detail(detail: Any) -> Any:
    """Classification objects with any compact ``(keys, matrix)`` result turned into the
    per-window objects (the form :meth:`Dataset.cache_get` returns)."""
    if not isinstance(detail, list):
        return detail
    out = []
    for c in detail:
        res = c.get("result") if type(c) is dict else None
        if type(res) is tuple:
            keys = list(res[0])
            c = dict(c, result=[dict(zip(keys, r)) for r in
                                np.asarray(res[1], dtype=np.float64).tolist()])
        out.append(c)
    return out


def unpack_detail(text: str, values: Optional[bytes]) -> Any:
    detail = json.loads(text)
    if values is None:
        return detail
    flat = np.frombuffer(values, dtype=np.float64)
    at = 0
    for c in detail:
        res = c.get("result") if type(c) is dict else None
        if type(res) is dict and _PACKED in res:
            keys, n = res[_PACKED], int(res["rows"])
            block = flat[at:at + n * len(keys)].reshape(n, len(keys)).tolist()
            at += n * len(keys)
            c["result"] = [dict(zip(keys, r)) for r in block]
        spans = c.get("expectedLabels") if type(c) is dict else None
        if type(spans) is dict and _PACKED_SPANS in spans:
            label, n = spans[_PACKED_SPANS], int(spans["rows"])
            pairs = flat[at:at + 2 * n].view(np.int64).reshape(n, 2).tolist()
            at += 2 * n
            c["expectedLabels"] = [{"startIndex": a, "endIndex": b, "label": label}
                                   for a, b in pairs]
    return detail


def _float_array(v: Any) -> Optional[np.ndarray]:
    """``v`` as a float64 array when it is a non-empty list of floats or of equally long
    non-empty lists of floats (checked in C-level passes), else None."""
    if type(v) is not list or not v:
        return None
    kinds = set(map(type, v))
    if kinds == {float}:
        arr = np.array(v, dtype=np.float64)
    elif kinds == {list} and len(set(map(len, v))) == 1 and v[0] \
            and set(map(type, itertools.chain.from_iterable(v))) == {float}:
        arr = np.array(v, dtype=np.float64)
    else:
        return None
    if not np.isfinite(arr).all():
        raise ValueError("Out of range float values are not JSON compliant")
    return arr


def pack_summary(summary: Dict[str, Any]) -> Tuple[str, Optional[bytes]]:
    """The cached per-window arrays as (JSON, float64 bytes): top-level lists of floats (or
    of rows of floats) go to the bytes, exactly, everything else stays JSON."""
    out: Dict[str, Any] = {}
    blocks: List[np.ndarray] = []
    for k, v in summary.items():
        arr = _float_array(v)
        if arr is None:
            out[k] = v
        else:
            out[k] = {_PACKED: list(arr.shape)}
            blocks.append(arr.ravel())
    if not blocks:
        return json.dumps(summary, allow_nan=False), None
    return json.dumps(out, allow_nan=False), np.concatenate(blocks).tobytes()


def unpack_summary(text: str, values: Optional[bytes]) -> Dict[str, Any]:
    summary = json.loads(text)
    if values is None:
        return summary
    flat = np.frombuffer(values, dtype=np.float64)
    at = 0
    for k, v in summary.items():
        if type(v) is dict and _PACKED in v:
            shape = [int(n) for n in v[_PACKED]]
            size = int(np.prod(shape))
            summary[k] = flat[at:at + size].reshape(shape).tolist()
            at += size
    return summary

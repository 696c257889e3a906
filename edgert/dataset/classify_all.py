"""Classify every sample of a local dataset: Studio's "classify all" / model testing, on the
gateway.

:func:`classify_all` classifies every sample that passes the filters (see
:mod:`edgert.dataset.filters` for each filter's exact semantics) and returns one page of the
result in the shape of ``GET /v1/api/{projectId}/classify/all/result/page`` (seed 001; the
official client's ``ClassifyJobResponsePage``), plus metrics over *all* matching samples:

``success``, ``result[]``
    one entry per sample of the page (ordered by id, ``offset``/``limit`` applied):
    ``sampleId``, ``sample`` (Studio's sample object, filled from the dataset index) and
    ``classifications`` (one object per learn block, as ``POST .../classify/v2`` returns them).
    A sample whose file is unreadable, or whose classification failed (e.g. shorter than a
    window without zero padding), has ``sample.processingError`` true, the reason in
    ``sample.processingErrorString`` and no classifications; everything else is unaffected.
``predictions[]``
    one entry per window of the page's samples: ``sampleId``, ``startMs``, ``endMs``, ``label``
    (the sample's label), ``prediction`` (Studio's rule: ``anomaly`` when the anomaly score is
    over the block's ``min_anomaly_score``, ``uncertain`` when the top probability is under
    ``min_score``, else the top label), ``predictionCorrect`` (prediction == label),
    ``anomalyScores`` (``[[score]]`` with a K-means/GMM block, else ``[]``) and, with an anomaly
    block, ``expectedAnomalyOutcome`` (``anomaly`` for samples of the ``anomaly`` category or
    labelled ``anomaly``, else ``no anomaly``).
``totalCount``
    the number of samples that pass the filters.
``modelValidationMetrics``
    (an edgert addition; the official client ignores unknown keys) a list with one entry in the
    shape of seed 003's ``modelValidationMetrics`` over every window of every matching sample
    (see :mod:`edgert.dataset.metrics`), plus ``labels`` (the confusion matrix order), ``sampleCount``,
    ``windowCount`` and ``failedSamples`` (``[{sampleId, filename, error}]``).

Results are cached in the dataset's SQLite index per (file SHA-256, variant, impulse
fingerprint, label), so later pages and repeated runs do not classify again (Studio's
classification objects are stored apart from the per-window arrays and read only for the page).
Classification runs on a thread pool (the C kernels release the GIL; decoding JSON documents
does not, so a few threads is plenty) with a tqdm progress bar or a ``progress(done, total)``
callback.

Usage::

    from edgert.runtime.impulse import Impulse
    from edgert.dataset import Dataset
    from edgert.dataset.classify_all import classify_all, classify_all_from_query

    imp = Impulse.load("examples/motion-demo")
    with Dataset("data/", hmac_key="...") as ds:
        page = classify_all(imp, ds, labels=["idle", "wave"], min_length=2000, limit=20)
        page["totalCount"], page["modelValidationMetrics"][0]["accuracy"]
        # an HTTP server: the query string of .../classify/all/result/page as parsed
        page = classify_all_from_query(imp, ds, {"limit": "20", "minLength": "2000"})
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .filters import SampleFilter
from .index import Dataset, SampleRow
from .cache_codec import expand_detail
from ..errors import DatasetError
from .metrics import validation_metrics
from .sample_classification import classify_loaded, impulse_fingerprint

log = logging.getLogger(__name__)

__all__ = ["classify_all", "classify_all_from_query", "impulse_fingerprint",
           "classify_sample_cached"]

ANOMALY = "anomaly"
NO_ANOMALY = "no anomaly"
#: Cache rows written per SQLite transaction by the thread that collects the results.
_WRITE_BATCH = 64


def classify_sample_cached(impulse: Any, dataset: Dataset, row: SampleRow,
                           variant: Optional[str], fingerprint: Optional[str] = None
                           ) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(result, error) of one sample, from the cache or by classifying (then cached)."""
    fp = fingerprint or impulse_fingerprint(impulse)
    if row.error is not None:
        return None, row.error
    hit = dataset.cache_get(row.sha256, variant or "default", fp, row.label or "", detail=True)
    if hit is not None:
        return hit
    result, error, entry = _classify_uncached(impulse, dataset, row, variant, fp)
    if entry is not None:
        dataset.cache_write([entry])
    if result is not None:
        result["classifications"] = expand_detail(result["classifications"])
    return result, error


def _classify_uncached(impulse: Any, dataset: Dataset, row: SampleRow, variant: Optional[str],
                       fp: str) -> Tuple[Optional[Dict[str, Any]], Optional[str],
                                         Optional[Tuple[Any, ...]]]:
    """Read, decode and classify one sample: ``(result, error, cache row)``, the cache row
    encoded (:meth:`Dataset.cache_entry`) but not written, or None when the outcome must not
    be cached. Runs in the worker threads; SQLite writes are left to the caller."""
    try:
        data = dataset.load(row)
    except DatasetError as exc:
        # gone, changed since indexing or unreadable: not cached (refresh() fixes it)
        return None, str(exc), None
    return classify_loaded(impulse, data, row.path, row.sha256, row.label, variant, fp)


def _window_predictions(row: SampleRow, result: Dict[str, Any]) -> List[Dict[str, Any]]:
    label = row.label if row.label is not None else ""
    has_anomaly = result.get("anomaly") is not None
    expected_outcome = ANOMALY if (row.category == "anomaly" or label == ANOMALY) \
        else NO_ANOMALY
    sid, preds = row.id, result["predictions"]
    # one dict literal per window over zipped lists (no per-window indexing or branching)
    if has_anomaly:
        return [{"sampleId": sid, "startMs": s, "endMs": e, "label": label, "prediction": p,
                 "predictionCorrect": p == label, "anomalyScores": [[a]],
                 "expectedAnomalyOutcome": expected_outcome}
                for s, e, p, a in zip(result["startMs"], result["endMs"], preds,
                                      result["anomaly"])]
    return [{"sampleId": sid, "startMs": s, "endMs": e, "label": label, "prediction": p,
             "predictionCorrect": p == label, "anomalyScores": []}
            for s, e, p in zip(result["startMs"], result["endMs"], preds)]


def _open_dataset(dataset: Union[Dataset, str, os.PathLike], client: Any, impulse: Any,
                  variant: Optional[str], category: Optional[str], progress: Any
                  ) -> Tuple[Dataset, bool]:
    if isinstance(dataset, Dataset):
        return dataset, False
    if client is None:
        return Dataset(dataset), True
    # indexed on the cluster, the files of the category classified in the same pass
    from .distributed import refresh_on_cluster
    ds = Dataset(dataset, refresh=False)
    try:
        refresh_on_cluster(ds, client, impulse, variant, category, progress)
    except BaseException:
        ds.close()
        raise
    return ds, True


def classify_all(impulse: Any, dataset: Union[Dataset, str, os.PathLike], *,
                 limit: Optional[int] = None, offset: int = 0, variant: Optional[str] = None,
                 category: Optional[str] = "testing", labels: Any = None,
                 filename: Optional[str] = None, min_length: Optional[float] = None,
                 max_length: Optional[float] = None, min_frequency: Optional[float] = None,
                 max_frequency: Optional[float] = None,
                 signature_validity: Optional[str] = None, min_label: Optional[float] = None,
                 max_label: Optional[float] = None, search: Optional[str] = None,
                 data_type: Optional[str] = None, min_id: Optional[int] = None,
                 max_id: Optional[int] = None, metadata: Any = None, min_date: Any = None,
                 max_date: Any = None, threads: Optional[int] = None,
                 progress: Union[bool, Callable[[int, int], None]] = True,
                 with_metrics: bool = True, client: Any = None) -> Dict[str, Any]:
    """Classify the dataset's samples that pass the filters and return one result page.

    ``impulse``: an :class:`edgert.runtime.impulse.Impulse`. ``dataset``: a :class:`Dataset` or its
    folder. ``category`` defaults to ``testing`` as Studio's endpoint does (``"all"`` or None for
    every category). ``variant``: ``float32``/``int8`` (None: the bundle's default). ``threads``:
    worker threads (default: CPU count). ``progress``: a tqdm bar on stderr when true, or a
    callable ``progress(done, total)`` called after each classified sample (for a job-status
    endpoint; cached samples are not counted). ``with_metrics=False`` classifies only the page's
    samples and leaves out ``modelValidationMetrics``. ``client``: a ``distributed.Client``
    (see :mod:`edgert.dataset.distributed`): the samples are classified on its Dask cluster
    instead of the local thread pool, and a ``dataset`` given as a folder is also indexed
    there, each file read and decoded once; the results, cache and page are the same.
    """
    flt = SampleFilter(category=category, labels=labels, filename=filename,
                       min_length=min_length, max_length=max_length,
                       min_frequency=min_frequency, max_frequency=max_frequency,
                       signature_validity=signature_validity, min_label=min_label,
                       max_label=max_label, search=search, data_type=data_type,
                       min_id=min_id, max_id=max_id, metadata=metadata, min_date=min_date,
                       max_date=max_date).validated()
    if variant is not None and variant not in ("float32", "int8"):
        raise DatasetError(f"variant: {variant!r} is not float32 or int8")
    if limit is not None and int(limit) < 0:
        raise DatasetError(f"limit: {limit} is negative")
    if int(offset) < 0:
        raise DatasetError(f"offset: {offset} is negative")
    resolve = getattr(impulse, "resolve_variant", None)
    if resolve is not None:
        # an impossible variant is one error up front, not one per sample (and never cached)
        variant = resolve(variant)
    ds, owned = _open_dataset(dataset, client, impulse, variant, flt.category, progress)
    try:
        return _classify_all(impulse, ds, flt, limit, int(offset), variant, threads, progress,
                             with_metrics, client)
    finally:
        if owned:
            ds.close()


def _classify_all(impulse: Any, ds: Dataset, flt: SampleFilter, limit: Optional[int],
                  offset: int, variant: Optional[str], threads: Optional[int], progress: bool,
                  with_metrics: bool, client: Any = None) -> Dict[str, Any]:
    fp = impulse_fingerprint(impulse)
    total = ds.count(flt)
    page_rows = ds.query(flt, limit=limit, offset=offset)
    rows = ds.query(flt) if with_metrics else page_rows
    results: Dict[int, Tuple[Optional[Dict[str, Any]], Optional[str]]] = {}
    todo: List[SampleRow] = []
    vkey = variant or "default"
    on_page = {row.id for row in page_rows}
    for row in rows:
        if row.error is not None:
            results[row.id] = (None, row.error)
            continue
        # Studio's classification objects are only read for the page's samples
        hit = ds.cache_get(row.sha256, vkey, fp, row.label or "", detail=row.id in on_page)
        if hit is not None:
            results[row.id] = hit
        else:
            todo.append(row)
    if todo and client is not None:
        from .distributed import classify_rows
        uncached = classify_rows(impulse, ds, todo, variant, fp, client, progress, _WRITE_BATCH)
        for row in todo:
            # what the workers stored is read back as a cache hit: the same objects as a
            # local run's (and as any later run's)
            hit = None if row.id in uncached else ds.cache_get(
                row.sha256, vkey, fp, row.label or "", detail=row.id in on_page)
            results[row.id] = hit if hit is not None else (None, uncached.get(row.id))
    elif todo:
        results.update(_run_pool(impulse, ds, todo, variant, fp, threads, progress))
    page: Dict[str, Any] = {"success": True, "result": [], "predictions": [],
                            "totalCount": int(total)}
    for row in page_rows:
        result, error = results[row.id]
        sample = row.to_studio(_project_id(impulse))
        if error is not None:
            sample["processingError"] = True
            sample["processingErrorString"] = error
        page["result"].append({"sampleId": row.id, "sample": sample,
                               "classifications": (expand_detail(result.get("classifications",
                                                                            []))
                                                   if result else [])})
        if result is not None:
            page["predictions"].extend(_window_predictions(row, result))
    if with_metrics:
        page["modelValidationMetrics"] = [_metrics(impulse, rows, results, variant)]
    return page


def _project_id(impulse: Any) -> int:
    bundle = getattr(impulse, "bundle", None)
    try:
        return int((bundle.project or {}).get("id", 1) or 1) if bundle is not None else 1
    except (TypeError, ValueError):
        return 1


def _run_pool(impulse: Any, ds: Dataset, todo: Sequence[SampleRow], variant: Optional[str],
              fp: str, threads: Optional[int], progress: Any
              ) -> Dict[int, Tuple[Optional[Dict[str, Any]], Optional[str]]]:
    from tqdm import tqdm
    workers = max(1, int(threads or os.cpu_count() or 1))
    out: Dict[int, Tuple[Optional[Dict[str, Any]], Optional[str]]] = {}
    callback = progress if callable(progress) else None
    bar = tqdm(total=len(todo), unit="sample", desc="classify",
               disable=callback is not None or not progress, file=sys.stderr, leave=False)
    pending: List[Tuple[Any, ...]] = []
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_classify_uncached, impulse, ds, row, variant, fp): row
                       for row in todo}
            for fut in as_completed(futures):
                row = futures[fut]
                result, error, entry = fut.result()
                out[row.id] = (result, error)
                if entry is not None:
                    pending.append(entry)
                    if len(pending) >= _WRITE_BATCH:
                        ds.cache_write(pending)     # this thread only, one transaction
                        pending = []
                if error is not None:
                    log.warning("sample %d (%s): %s", row.id, row.path, error)
                bar.update(1)
                if callback is not None:
                    callback(len(out), len(todo))
            ds.cache_write(pending)
    finally:
        bar.close()
    return out


def _metrics(impulse: Any, rows: Sequence[SampleRow],
             results: Dict[int, Tuple[Optional[Dict[str, Any]], Optional[str]]],
             variant: Optional[str]) -> Dict[str, Any]:
    true: List[str] = []
    pred: List[str] = []
    probs: List[List[float]] = []
    model_labels: List[str] = []
    used_variant = variant
    failed = []
    have_probs = True
    for row in rows:
        result, error = results[row.id]
        if result is None:
            failed.append({"sampleId": row.id, "filename": row.filename, "error": error})
            continue
        model_labels = model_labels or list(result["labels"])
        used_variant = used_variant or result.get("variant")
        label = row.label if row.label is not None else ""
        true.extend([label] * len(result["predictions"]))
        pred.extend(result["predictions"])
        if result.get("probabilities") is None:
            have_probs = False
        else:
            probs.extend(result["probabilities"])
    if not model_labels:
        bundle = getattr(impulse, "bundle", None)
        for blk in getattr(bundle, "learn", ()) or ():
            if blk.type == "keras":
                model_labels = list(blk.labels)
                break
    p = np.asarray(probs, dtype=np.float64) if (have_probs and probs and model_labels) \
        else None
    m = validation_metrics(true, pred, model_labels=model_labels, probabilities=p,
                           variant=used_variant or "float32")
    m["sampleCount"] = len(rows)
    m["windowCount"] = len(true)
    m["failedSamples"] = failed
    return m


def classify_all_from_query(impulse: Any, dataset: Union[Dataset, str, os.PathLike],
                            query: Mapping[str, Any], **kwargs: Any) -> Dict[str, Any]:
    """:func:`classify_all` from the query parameters of Studio's
    ``GET /v1/api/{projectId}/classify/all/result/page`` (camelCase names, string values as
    ``urllib.parse.parse_qs`` or a web framework gives them; a list takes its last value), so
    an HTTP server can pass its query string straight through. ``impulseId`` and
    ``truncateStructuredLabels`` are accepted and have no effect (one impulse; no structured
    labels). ``kwargs`` go to :func:`classify_all` (``threads``, ``progress``...)."""
    q = {k: (v[-1] if isinstance(v, (list, tuple)) else v) for k, v in query.items()}
    flt = SampleFilter.from_query(q)
    fields = {f.name: getattr(flt, f.name) for f in dataclasses.fields(flt)}
    if "category" not in q or q["category"] in (None, ""):
        fields["category"] = "testing"

    def as_int(name: str) -> Optional[int]:
        v = q.get(name)
        if v in (None, ""):
            return None
        try:
            return int(v)
        except (TypeError, ValueError):
            raise DatasetError(f"{name}: {v!r} is not a whole number") from None
    offset = as_int("offset") or 0
    return classify_all(impulse, dataset, limit=as_int("limit"), offset=offset,
                        variant=q.get("variant") or None, **fields, **kwargs)

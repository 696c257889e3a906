"""Classifying one sample of a dataset and encoding its result-cache row: the unit of work
that classify-all runs on its local thread pool (:mod:`.classify_all`) and on Dask workers
(:mod:`.distributed`), so both store exactly the same rows."""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import DatasetError, EdgertError, ModelError
from .index import Dataset

log = logging.getLogger("edgert.dataset.classify_all")


def impulse_fingerprint(impulse: Any) -> str:
    """A SHA-256 over the impulse's bundle (impulse.json and every file it names), its engine
    backend and edgert's version, so cached results are not reused when any of them changes."""
    from .._version import __version__
    bundle = getattr(impulse, "bundle", None)
    h = hashlib.sha256()
    h.update(f"edgert {__version__} backend {getattr(impulse, 'backend', '')}\n".encode())
    if bundle is not None and getattr(bundle, "document", None) is not None:
        import json
        h.update(json.dumps(bundle.document, sort_keys=True).encode())
        for blk in bundle.learn:
            for variant, model in sorted(dict(blk.models).items()):
                h.update(variant.encode())
                h.update(model.data)
            if blk.metadata is not None:
                h.update(json.dumps(blk.metadata, sort_keys=True).encode())
        return h.hexdigest()
    src = getattr(impulse, "fingerprint", None)
    if isinstance(src, str):
        return src
    raise DatasetError("cannot fingerprint this impulse for the result cache: it has no "
                       "`bundle`; pass an edgert.runtime.impulse.Impulse")


def _classify(impulse: Any, data: Any, label: Optional[str],
              variant: Optional[str]) -> Dict[str, Any]:
    """Classify one sample's data (a Recording); the cacheable summary of the result."""
    res = impulse.classify(data.values, frequency=data.frequency, variant=variant,
                           axes=list(data.axes))
    for name, arr in (("probabilities", res.probabilities), ("anomaly score", res.anomaly)):
        if arr is not None and not np.all(np.isfinite(arr)):
            raise ModelError(f"the impulse returned a non-finite {name}; the page JSON cannot "
                             "hold it")
    n = len(res)
    return {
        "variant": res.variant,
        # the page's sample objects come from the index: only the classifications are kept
        # compact (keys, matrix) results: stored as is, expanded only for the page
        "classifications": res.studio_classifications(label or None, columns=True),
        "startMs": np.asarray(res.start_ms, dtype=np.float64).tolist(),
        "endMs": np.asarray(res.end_ms, dtype=np.float64).tolist(),
        "predictions": [str(p) for p in res.predictions],
        "labels": list(res.labels),
        "probabilities": (None if res.probabilities is None else
                          np.asarray(res.probabilities, dtype=np.float64).reshape(n, -1)
                          .tolist()),
        "anomaly": (None if res.anomaly is None else
                    np.asarray(res.anomaly, dtype=np.float64).tolist()),
    }


def classify_loaded(impulse: Any, data: Any, path: str, sha256: str, label: Optional[str],
                    variant: Optional[str], fp: str
                    ) -> Tuple[Optional[Dict[str, Any]], Optional[str], Optional[Tuple[Any, ...]]]:
    """Classify one decoded sample (the part of :func:`_classify_uncached` after reading, shared
    with the Dask workers of :mod:`edgert.dataset.distributed`): ``(result, error, cache row)``.
    """
    key = (sha256, variant or "default", fp, label or "")
    try:
        result, error = _classify(impulse, data, label, variant), None
    except EdgertError as exc:
        result, error = None, f"{path}: {exc}"
    except Exception as exc:  # noqa: BLE001 - one sample must never stop the others
        # not an input error edgert knows about (a bug, or memory): reported for this sample
        # only and not cached, so a fixed edgert or a retry classifies it again
        log.debug("sample %s", path, exc_info=True)
        return None, f"{path}: classification failed ({type(exc).__name__}: {exc})", None
    # deterministic for this content, variant and bundle: cached, errors included
    summary = None if result is None else {k: v for k, v in result.items()
                                           if k != "classifications"}
    entry = Dataset.cache_entry(*key, summary,
                                None if result is None else result["classifications"], error)
    return result, error, entry


__all__ = ["classify_loaded", "impulse_fingerprint"]

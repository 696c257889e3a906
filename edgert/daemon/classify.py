"""The one place the daemon runs its impulse.

Every classification - a live request, a stored sample, an ingested sample scanned for
anomalies - goes through :meth:`Classifier.classify`, on a worker thread (the C calls release
the GIL, so the threads use every core while the event loop keeps serving). Keeping the call
in one place lets a faster path for one-window recordings replace it without touching the
endpoints.
"""
from __future__ import annotations

import time
from typing import Any, Optional

from ..recording import Recording


class Classifier:
    def __init__(self, impulse: Any, metrics: Any = None) -> None:
        self.impulse = impulse
        self.metrics = metrics

    def classify(self, rec: Recording, variant: Optional[str] = None,
                 source: str = "live") -> Any:
        """The :class:`~edgert.runtime.results.ClassificationResult` of every window of
        ``rec`` (its frequency and column names are used; resampled and reordered to the
        impulse's). Raises :class:`~edgert.errors.EdgertError` for input the impulse cannot
        take (wrong axes, too short without zero padding, ...)."""
        t0 = time.perf_counter()
        res = self.impulse.classify(rec, variant=variant)
        if self.metrics is not None:
            self.metrics.classify_seconds.labels(source).observe(time.perf_counter() - t0)
        return res


__all__ = ["Classifier"]

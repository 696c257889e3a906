"""The one place the daemon runs its impulse.

Every classification - a live request, a stored sample, an ingested sample scanned for
anomalies - goes through :meth:`Classifier.classify`, on a worker thread (the C calls release
the GIL, so the threads use every core while the event loop keeps serving).

A recording whose columns are the impulse's axes in its order, at its frequency, as float32
(what a device sends for this impulse) is handed to ``Impulse.classify`` as the bare array:
that is the runtime's lean path, which runs a short recording through the compiled plan in
one C call without the checks and reordering a named recording needs (it still refuses
NaN/inf, falling back to the checked path, which says where). Anything else goes as the
:class:`~edgert.recording.Recording`.
"""
from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np

from ..recording import Recording


class Classifier:
    def __init__(self, impulse: Any, metrics: Any = None) -> None:
        self.impulse = impulse
        self.metrics = metrics
        self._histograms: dict = {}  # source -> its histogram child (one label lookup each)

    def lean(self, rec: Recording) -> bool:
        """``rec`` is in the impulse's columns, rate and dtype: it takes the lean path."""
        imp = self.impulse
        v = rec.values
        return rec.frequency == imp.frequency and rec.axes == imp.axes and \
            v.dtype == np.float32 and v.ndim == 2 and v.flags.c_contiguous

    def classify(self, rec: Recording, variant: Optional[str] = None,
                 source: str = "live") -> Any:
        """The :class:`~edgert.runtime.results.ClassificationResult` of every window of
        ``rec`` (its frequency and column names are used; resampled and reordered to the
        impulse's). Raises :class:`~edgert.errors.EdgertError` for input the impulse cannot
        take (wrong axes, too short without zero padding, ...)."""
        t0 = time.perf_counter()
        imp = self.impulse
        if self.lean(rec):
            res = imp.classify(rec.values, variant=variant)
        else:
            res = imp.classify(rec, variant=variant)
        if self.metrics is not None:
            h = self._histograms.get(source)
            if h is None:
                h = self._histograms[source] = self.metrics.classify_seconds.labels(source)
            h.observe(time.perf_counter() - t0)
        return res


__all__ = ["Classifier"]

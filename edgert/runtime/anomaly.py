"""Anomaly scorers of learn blocks, each scoring every window of a recording in one call.

- :class:`KMeansScorer` (block type ``anomaly``): the metadata document of
  ``GET .../training/anomaly/{learnId}/metadata`` (``axes``, ``scale``, ``mean``, ``clusters``)
  evaluated by ``edgert_kmeans_score_batch`` in C, in float32 as Edge Impulse's SDK does:
  ``z = (x[axes] - mean) / scale``; ``score = min_c(||z - center_c|| - maxError_c)`` with the
  running minimum starting at 1000. Negative = inside at least one cluster.
- :class:`GmmScorer` (block type ``anomaly-gmm``): a float32 TFLite graph over the selected,
  unscaled features; output[0] is the score (higher = more anomalous). Runs through the engine.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .. import _ffi
from .._ffi import ffi, lib
from ..errors import ConfigurationError, InputError


class KMeansScorer:
    """K-means anomaly scoring of feature rows of ``n_features`` floats."""

    def __init__(self, metadata: Mapping[str, Any], n_features: int):
        axes = metadata["axes"]
        self.axes = np.ascontiguousarray(axes, dtype=np.int32)
        self.mean = np.ascontiguousarray(metadata["mean"], dtype=np.float32)
        self.scale = np.ascontiguousarray(metadata["scale"], dtype=np.float32)
        clusters = metadata["clusters"]
        self.centers = np.ascontiguousarray([c["center"] for c in clusters], dtype=np.float32)
        self.max_error = np.ascontiguousarray([c["maxError"] for c in clusters],
                                              dtype=np.float32)
        self.n_features = int(n_features)
        n = self.axes.size
        if self.mean.size != n or self.scale.size != n or self.centers.shape[1:] != (n,):
            raise ConfigurationError(
                f"anomaly metadata: axes has {n} entries but mean has {self.mean.size}, scale "
                f"{self.scale.size}, cluster centres {self.centers.shape[1:]}")
        # the params struct points into the arrays above, which this object keeps alive
        self._params = ffi.new("edgert_kmeans_params *")
        self._params.n_axes = n
        self._params.axes = _ffi.ptr("int32_t *", self.axes)
        self._params.mean = _ffi.ptr("float *", self.mean)
        self._params.scale = _ffi.ptr("float *", self.scale)
        self._params.n_clusters = self.centers.shape[0]
        self._params.centers = _ffi.ptr("float *", self.centers)
        self._params.max_error = _ffi.ptr("float *", self.max_error)
        st = lib.edgert_kmeans_check(self._params, self.n_features)
        if st < 0:
            bad = [int(a) for a in self.axes if not 0 <= a < self.n_features]
            why = (f"axes {bad} are outside the {self.n_features} features of the block's "
                   "input" if bad else _ffi.strerror(st))
            raise ConfigurationError(f"anomaly metadata: {why}")

    def score(self, features: np.ndarray) -> np.ndarray:
        """float32 scores of (n_windows, n_features) float32 ``features`` (one C call)."""
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise InputError(f"K-means scorer: expected (windows, {self.n_features}) features, "
                             f"got shape {x.shape}")
        out = np.empty(x.shape[0], dtype=np.float32)
        if x.shape[0] == 0:
            return out
        _ffi.check(lib.edgert_kmeans_score_batch(self._params, _ffi.ptr("float *", x),
                                                 x.shape[0], x.shape[1],
                                                 _ffi.ptr("float *", out)),
                   "K-means anomaly scoring")
        return out


class GmmScorer:
    """GMM anomaly scoring through a float32 model (an ``edgert.engine`` model object)."""

    def __init__(self, model: Any, axes: Sequence[int], n_features: int):
        self.model = model
        self.axes = np.asarray(axes, dtype=np.intp)
        self.n_features = int(n_features)
        if self.axes.size and (self.axes.min() < 0 or self.axes.max() >= self.n_features):
            raise ConfigurationError(f"anomaly-gmm: axes {list(map(int, self.axes))} are "
                                     f"outside the {self.n_features} input features")

    def score(self, features: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(features, dtype=np.float32)[:, self.axes])
        if x.shape[0] == 0:
            return np.empty(0, dtype=np.float32)
        shape = tuple(self.model.inputs[0].shape[1:])
        out = self.model.invoke_batch(x.reshape((x.shape[0],) + shape))
        out = out[0] if isinstance(out, (list, tuple)) else out
        return np.asarray(out, dtype=np.float32).reshape(x.shape[0], -1)[:, 0].copy()


__all__ = ["KMeansScorer", "GmmScorer"]

"""The ``raw`` and ``flatten`` DSP blocks over the C core (csrc/flatten.c)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .._ffi import ffi, lib
from ..errors import ConfigurationError
from . import params as P
from ._common import DspBlock, _as_count, _status_error, buffers

FLATTEN_STATS = ["average", "minimum", "maximum", "rms", "stdev", "skewness", "kurtosis"]
_FLATTEN_LABELS = {"average": "Average", "minimum": "Minimum", "maximum": "Maximum",
                   "rms": "RMS", "stdev": "Stdev", "skewness": "Skewness",
                   "kurtosis": "Kurtosis"}


class RawBlock(DspBlock):
    """``raw``: the window's values of the block's axes, interleaved, times ``scale-axes``.
    Labels are ``"<axis> <sample index>"``."""

    type = "raw"

    def __init__(self, params: Mapping[str, Any] | None, sampling_freq: float,
                 axes: Sequence[str], columns: Sequence[int] | None = None) -> None:
        self.axes = [str(a) for a in axes]
        if not self.axes:
            raise ConfigurationError("the raw block needs at least one axis")
        self.columns = list(columns) if columns is not None else None
        self.sampling_freq = float(sampling_freq)
        cfg = P.normalize_keys(params)
        self.scale_axes = P.as_float("scale-axes", cfg.get("scale-axes", 1.0))
        self._c = ffi.new("edgert_raw_params *")
        self._c.scale_axes = self.scale_axes

    def n_features(self, window_samples: int) -> int:
        return _as_count("window_samples", window_samples) * len(self.axes)

    def labels(self, window_samples: int) -> list[str]:
        n = _as_count("window_samples", window_samples)
        return [f"{a} {t}" for t in range(n) for a in self.axes]

    def _run(self, data, starts, cols, window_samples, out) -> int:
        d, s, c, o = buffers(data, starts, cols, out)
        return lib.edgert_raw_features_batch(self._c, d, data.shape[0], data.shape[1], c,
                                             len(self.axes), s, starts.size, window_samples, o,
                                             out.shape[1])


class FlattenBlock(DspBlock):
    """``flatten``: per axis the enabled statistics (params ``average``, ``minimum``,
    ``maximum``, ``rms``, ``stdev``, ``skewness``, ``kurtosis``, all default true) of the
    values times ``scale-axes``."""

    type = "flatten"

    def __init__(self, params: Mapping[str, Any] | None, sampling_freq: float,
                 axes: Sequence[str], columns: Sequence[int] | None = None) -> None:
        self.axes = [str(a) for a in axes]
        if not self.axes:
            raise ConfigurationError("the flatten block needs at least one axis")
        self.columns = list(columns) if columns is not None else None
        self.sampling_freq = float(sampling_freq)
        cfg = P.normalize_keys(params)
        self.scale_axes = P.as_float("scale-axes", cfg.get("scale-axes", 1.0))
        self.enabled = {k: P.as_bool(k, cfg.get(k, True)) for k in FLATTEN_STATS}
        if not any(self.enabled.values()):
            raise ConfigurationError(
                "the flatten block has every statistic turned off: enable at least one of "
                + ", ".join(FLATTEN_STATS)
            )
        c = ffi.new("edgert_flatten_params *")
        c.scale_axes = self.scale_axes
        for k in FLATTEN_STATS:
            setattr(c, k, int(self.enabled[k]))
        self._c = c
        nf = ffi.new("int32_t *")
        st = lib.edgert_flatten_check(c, len(self.axes), nf)
        if st < 0:
            raise _status_error(st, "flatten configuration")
        self._nf = int(nf[0])

    def n_features(self, window_samples: int) -> int:
        _as_count("window_samples", window_samples)
        return self._nf

    def labels(self, window_samples: int) -> list[str]:
        _as_count("window_samples", window_samples)
        per = [_FLATTEN_LABELS[k] for k in FLATTEN_STATS if self.enabled[k]]
        return [f"{a} {s}" for a in self.axes for s in per]

    def _run(self, data, starts, cols, window_samples, out) -> int:
        d, s, c, o = buffers(data, starts, cols, out)
        return lib.edgert_flatten_features_batch(self._c, d, data.shape[0], data.shape[1], c,
                                                 len(self.axes), s, starts.size,
                                                 window_samples, o, out.shape[1])

"""The Spectral Analysis DSP block (implementation versions 1-4) over the C core.

Configuration errors are detected here first, in the order the training reference checks
them, so the message says what to change; the C core validates again
(``edgert_spectral_check``) before every batch.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .._ffi import ffi, lib, strerror
from ..errors import ConfigurationError, InputError
from . import params as P
from ._common import DspBlock, _status_error, buffers

#: Studio defaults (spec table "Parameters")
DEFAULTS: dict[str, Any] = {
    "scale-axes": 1.0,
    "input-decimation-ratio": 1,
    "filter-type": "none",
    "filter-cutoff": 3.0,
    "filter-order": 6,
    "analysis-type": "FFT",
    "fft-length": 16,
    "spectral-peaks-count": 3,
    "spectral-peaks-threshold": 0.1,
    "spectral-power-edges": "0.1, 0.5, 1.0, 2.0, 5.0",
    "do-log": True,
    "do-fft-overlap": True,
    "wavelet-level": 1,
    "wavelet": "db4",
    "extra-low-freq": False,
}

_FILTERS = {"none": lib.EDGERT_FILTER_NONE, "low": lib.EDGERT_FILTER_LOW,
            "high": lib.EDGERT_FILTER_HIGH}
_ANALYSIS = {"fft": lib.EDGERT_ANALYSIS_FFT, "wavelet": lib.EDGERT_ANALYSIS_WAVELET}
_RATIOS = {1: [], 3: [3], 10: [10], 30: [3, 10], 100: [10, 10], 1000: [10, 10, 10]}
_WAVELET_FEATURES = ["entropy", "zcross", "mcross", "n5", "n25", "n75", "n95", "median",
                     "mean", "std", "var", "rms", "skew", "kurtosis"]


def legacy_available() -> bool:
    """Whether this build has the version-1 and wavelet code (csrc/spectral_v1.c, wavelet.c)."""
    return lib.edgert_wavelet_index(b"db4") >= 0


def _mask_bins(filter_type: str, cutoff: float, fs: float, n_fft: int) -> list[int]:
    """FFT bins kept, computed exactly as the C core and the reference do (float64)."""
    val = 1.0 / (n_fft * (1.0 / fs))
    fc = cutoff
    if filter_type != "none" and fc > fs / 2.0:
        fc = fs / 2.0
    kept = []
    for k in range(1, n_fft // 2 + 1):
        f = k * val
        if filter_type == "low" and f - val / 2.0 > fc:
            break
        if filter_type == "high" and f + val / 2.0 < fc:
            continue
        kept.append(k)
    return kept


def _bin_labels(kept: list[int], fs: float, n_fft: int) -> list[str]:
    val = 1.0 / (n_fft * (1.0 / fs))
    out = []
    for k in kept:
        f = k * val
        out.append(f"Spectral Power {round(f - val / 2, 2)} - {round(f + val / 2, 2)} Hz")
    return out


def _butter_stable(order: int, cutoff: float, fs: float) -> bool:
    """The reference's design check, reproduced with its float32 arithmetic (numpy type
    promotion of the reference's expressions; np.roots of the float32 denominators, as
    scipy's tf2zpk does): the biquads of the tan() formulation have all poles inside the unit
    circle. The C core applies a slightly looser version of this test (clearly unstable designs only)."""
    a = np.float32(math.tan(math.pi * cutoff / fs))
    a2 = np.float32(pow(a, 2))
    poles = []
    for k in range(order // 2):
        r = np.sin(np.float64(math.pi * (2.0 * k + 1.0) / (2.0 * order)))  # float64, strong
        s = a2 + (2.0 * a * r) + 1.0
        d1 = np.float32(2.0 * (1 - a2) / s)
        d2 = np.float32(-(a2 - (2.0 * a * r) + 1.0) / s)
        poles.append(np.roots(np.array([1, -d1, -d2], dtype=np.float32)))
    return bool(np.max(np.abs(poles)) < 1)


def _fmt(v: float) -> str:
    return f"{v:g}"


class SpectralAnalysis(DspBlock):
    """Edge Impulse's Spectral Analysis block.

    ``params``: Studio keys (``filter-type``, ``fft-length``, ...; missing keys take Studio's
    defaults, values may be strings as Studio sends them). ``sampling_freq``: Hz of the raw
    input. ``axes``: the block's axis names, in order. ``columns``: optional column indices of
    those axes in the recordings passed to :meth:`features_batch`.
    """

    type = "spectral-analysis"

    def __init__(self, params: Mapping[str, Any] | None, sampling_freq: float,
                 axes: Sequence[str], implementation_version: int = 4,
                 columns: Sequence[int] | None = None) -> None:
        self.axes = [str(a) for a in axes]
        if not self.axes:
            raise ConfigurationError("the spectral-analysis block needs at least one axis")
        self.columns = list(columns) if columns is not None else None
        self.version = P.as_int("implementation_version", implementation_version)
        if self.version not in (1, 2, 3, 4):
            raise ConfigurationError(
                f"implementation_version must be 1, 2, 3 or 4 (got {implementation_version!r})"
            )
        self.sampling_freq = P.as_float("sampling frequency", sampling_freq)
        if self.sampling_freq <= 0:
            raise ConfigurationError(
                f"the sampling frequency must be > 0 Hz (got {sampling_freq!r})"
            )
        given = P.normalize_keys(params)
        cfg = dict(DEFAULTS)
        cfg.update({k: v for k, v in given.items() if k in DEFAULTS})
        self.params = cfg
        self.scale_axes = P.as_float("scale-axes", cfg["scale-axes"])
        self.decimation_ratio = P.as_int("input-decimation-ratio", cfg["input-decimation-ratio"])
        self.filter_type = P.as_choice("filter-type", cfg["filter-type"],
                                       {"low": "low", "high": "high", "none": "none"})
        self.filter_cutoff = P.as_float("filter-cutoff", cfg["filter-cutoff"])
        self.filter_order = P.as_int("filter-order", cfg["filter-order"])
        self.analysis_type = P.as_choice("analysis-type", cfg["analysis-type"],
                                         {"fft": "FFT", "wavelet": "Wavelet"})
        self.fft_length = P.as_int("fft-length", cfg["fft-length"])
        self.peaks_count = P.as_int("spectral-peaks-count", cfg["spectral-peaks-count"])
        self.peaks_threshold = P.as_float("spectral-peaks-threshold",
                                          cfg["spectral-peaks-threshold"])
        self.power_edges = P.as_float_list("spectral-power-edges", cfg["spectral-power-edges"])
        self.do_log = P.as_bool("do-log", cfg["do-log"])
        self.do_fft_overlap = P.as_bool("do-fft-overlap", cfg["do-fft-overlap"])
        self.wavelet_level = P.as_int("wavelet-level", cfg["wavelet-level"])
        self.wavelet = str(cfg["wavelet"]).strip()
        self.extra_low_freq = P.as_bool("extra-low-freq", cfg["extra-low-freq"])
        self._validate_config()
        self._c = self._c_params()
        self._checked: dict[int, int] = {}
        self._scratch: dict[int, int] = {}

    # -- configuration ----------------------------------------------------------------------
    @property
    def uses_wavelet(self) -> bool:
        return self.version >= 3 and self.analysis_type == "Wavelet"

    @property
    def filtering(self) -> bool:
        return self.filter_type != "none" and self.filter_order != 0

    def _validate_config(self) -> None:
        """Window-independent checks, in the reference's order."""
        n = self.fft_length
        if n < 1 or n & (n - 1):
            raise ConfigurationError(
                f"FFT length must be a power of 2: fft-length is {n}; use one of 16, 32, 64, "
                "128, 256, 512, 1024, 2048, 4096"
            )
        if n < 2 or n > 65536:
            raise ConfigurationError(
                f"fft-length must be between 2 and 65536 (got {n}); Studio uses 16 to 4096"
            )
        r = self.decimation_ratio
        if r not in _RATIOS:
            raise ConfigurationError(
                f"input-decimation-ratio must be one of 1, 3, 10, 30, 100, 1000 (got {r})"
            )
        if r > 1:
            if self.version < 4:
                raise ConfigurationError(
                    "Input decimation is only supported in implementation version 4: "
                    f"input-decimation-ratio is {r} with implementation_version "
                    f"{self.version}; set the ratio to 1"
                )
            nyq = self.sampling_freq / 2 / r
            if self.filter_type != "none" and self.filter_cutoff > nyq * 0.9:
                raise ConfigurationError(
                    f"decimation ratio is too high: after input-decimation-ratio {r} the "
                    f"Nyquist frequency is {_fmt(nyq)} Hz and filter-cutoff "
                    f"{_fmt(self.filter_cutoff)} Hz must be at most 90% of it "
                    f"({_fmt(nyq * 0.9)} Hz); lower the input decimation ratio or the cutoff"
                )
        if self.filtering:
            o = self.filter_order
            if o < 0 or o > 8 or o % 2:
                raise ConfigurationError(
                    f"filter-order must be an even number between 2 and 8 (got {o}), or 0 to "
                    "mask FFT bins without filtering"
                )
            fs1 = self.sampling_freq / r
            if self.filter_cutoff <= 0:
                raise ConfigurationError(
                    f"filter-cutoff must be above 0 Hz when filtering (got "
                    f"{_fmt(self.filter_cutoff)}); set filter-type to none to disable the "
                    "filter"
                )
            if self.filter_cutoff * 2 / fs1 >= 1.0:
                raise ConfigurationError(
                    f"Cut-off frequency is above Nyquist: filter-cutoff "
                    f"{_fmt(self.filter_cutoff)} Hz must be below half the sample rate "
                    f"({_fmt(fs1 / 2)} Hz); choose a lower cutoff frequency"
                )
            if not _butter_stable(o, self.filter_cutoff, fs1):
                raise ConfigurationError(
                    f"Filter created is not stable: a {o}-order {self.filter_type}-pass "
                    f"Butterworth at {_fmt(self.filter_cutoff)} Hz ({_fmt(fs1)} Hz rate) is "
                    "unstable in float32; move the cutoff away from 0 and from Nyquist or lower "
                    "filter-order"
                )
        if self.uses_wavelet:
            if not 1 <= self.wavelet_level <= 7:
                raise ConfigurationError(
                    f"wavelet-level must be between 1 and 7 (got {self.wavelet_level})"
                )
            if legacy_available() and lib.edgert_wavelet_index(self.wavelet.encode()) < 0:
                raise ConfigurationError(
                    f"unknown wavelet {self.wavelet!r}: use a PyWavelets name such as db4, "
                    "sym5, coif2, haar, bior3.5 or rbio2.2"
                )
        if self.version == 1:
            if self.peaks_count < 0 or self.peaks_count > 1000:
                raise ConfigurationError(
                    f"spectral-peaks-count must be between 0 and 1000 (got {self.peaks_count})"
                )
            ne = len(self.power_edges)
            if ne < 2 or ne > lib.EDGERT_SPECTRAL_MAX_EDGES:
                raise ConfigurationError(
                    "spectral-power-edges needs between 2 and "
                    f"{lib.EDGERT_SPECTRAL_MAX_EDGES} edges (got {ne})"
                )

    def _c_params(self):
        c = ffi.new("edgert_spectral_params *")
        c.version = self.version
        c.sampling_freq = self.sampling_freq
        c.scale_axes = self.scale_axes
        c.decimation_ratio = self.decimation_ratio
        c.filter_type = _FILTERS[self.filter_type]
        c.filter_cutoff = self.filter_cutoff
        c.filter_order = self.filter_order
        c.analysis_type = _ANALYSIS[self.analysis_type.lower()]
        c.fft_length = self.fft_length
        c.do_log = int(self.do_log)
        c.do_fft_overlap = int(self.do_fft_overlap)
        c.extra_low_freq = int(self.extra_low_freq)
        c.peaks_count = self.peaks_count
        c.peaks_threshold = self.peaks_threshold
        edges = self.power_edges[: lib.EDGERT_SPECTRAL_MAX_EDGES]
        c.n_power_edges = len(edges)
        for i, e in enumerate(edges):
            c.power_edges[i] = e
        c.wavelet_level = self.wavelet_level
        idx = lib.edgert_wavelet_index(self.wavelet.encode()) if self.uses_wavelet else 0
        c.wavelet = max(idx, 0)
        return c

    # -- window-dependent checks ------------------------------------------------------------
    def _decimated(self, n_samples: int) -> tuple[int, float]:
        n, fs = n_samples, self.sampling_freq
        for r in _RATIOS[self.decimation_ratio]:
            n = -(-n // r)
            fs /= r
        return n, fs

    def check(self, n_samples: int) -> int:
        """Validate the configuration for windows of ``n_samples`` samples per axis and
        return the feature count; raises ConfigurationError/InputError saying what to change."""
        nf = self._checked.get(n_samples)
        if nf is not None:
            return nf
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise InputError(
                f"the window is empty or invalid ({n_samples!r} samples): pass at least one "
                "sample per axis"
            )
        if self.version != 1 and (self.uses_wavelet and not legacy_available()):
            raise ConfigurationError(
                "the wavelet analysis is not available in this build of edgert"
            )
        if self.version == 1 and not legacy_available():
            raise ConfigurationError(
                "spectral-analysis implementation version 1 is not available in this build"
            )
        nd, fs1 = self._decimated(n_samples)
        if self.uses_wavelet:
            need = 32 * 2 ** self.wavelet_level
            if nd < need:
                ms = math.ceil(need / fs1 * 1000)
                raise ConfigurationError(
                    "Wavelet decomposition level is too high for this window: level "
                    f"{self.wavelet_level} needs {need} samples"
                    + (" after input decimation" if self.decimation_ratio > 1 else "")
                    + f" (got {nd}); increase the window size to at least {ms} ms, or reduce "
                    "wavelet-level"
                )
        elif self.version >= 2:
            if not _mask_bins(self.filter_type, self.filter_cutoff, fs1, self.fft_length):
                raise ConfigurationError(
                    f"Cutoff frequency masked all FFT bins: a {self.filter_type}-pass cutoff of "
                    f"{_fmt(self.filter_cutoff)} Hz keeps no bin of a {self.fft_length}-point "
                    f"FFT at {_fmt(fs1)} Hz; move the cutoff or change fft-length"
                )
            if self.version >= 4 and self.extra_low_freq:
                nlf = -(-nd // 10)
                if nlf < self.fft_length / 2:
                    raise ConfigurationError(
                        "Extra low frequency requires at least "
                        f"{self.fft_length / 2 * 10} samples"
                        + (" after input decimation" if self.decimation_ratio > 1 else "")
                        + f" (the window has {nd}); lengthen the window, lower fft-length"
                        + (" or input-decimation-ratio" if self.decimation_ratio > 1 else "")
                        + ", or turn extra-low-freq off"
                    )
                if not _mask_bins(self.filter_type, self.filter_cutoff, fs1 / 10,
                                  self.fft_length):
                    raise ConfigurationError(
                        "Cutoff frequency masked all FFT bins of the extra low frequency "
                        f"block (rate {_fmt(fs1 / 10)} Hz); move the cutoff or turn "
                        "extra-low-freq off"
                    )
        nf = ffi.new("int32_t *")
        status = lib.edgert_spectral_check(self._c, int(n_samples), len(self.axes), nf)
        if status < 0:
            raise _status_error(status, "spectral-analysis configuration")
        self._checked[int(n_samples)] = int(nf[0])
        return int(nf[0])

    # -- interface --------------------------------------------------------------------------
    def n_features(self, window_samples: int) -> int:
        return self.check(window_samples)

    def _fft_label_blocks(self, window_samples: int) -> tuple[list[str], list[str]]:
        """Per-axis names of the main block and of the low-frequency block (may be empty)."""
        _, fs1 = self._decimated(window_samples)
        stats = ["RMS", "Skewness", "Kurtosis"]
        if self.version >= 4:
            stats += ["Spectral Skewness", "Spectral Kurtosis"]
        main = stats + _bin_labels(
            _mask_bins(self.filter_type, self.filter_cutoff, fs1, self.fft_length), fs1,
            self.fft_length)
        lf: list[str] = []
        if self.version >= 4 and self.extra_low_freq:
            # the reference suffixes the statistics with " LF" but not the bin names
            lf = ([s + " LF" for s in stats] + _bin_labels(
                _mask_bins(self.filter_type, self.filter_cutoff, fs1 / 10, self.fft_length),
                fs1 / 10, self.fft_length))
        return main, lf

    def axis_labels(self, window_samples: int) -> list[str]:
        """Feature names of one axis, main block then low-frequency block, exactly as the
        reference block returns them (the ``labels`` of the reference vectors)."""
        self.check(window_samples)
        if self.version == 1:
            out = ["RMS"]
            for k in range(1, self.peaks_count + 1):
                out += [f"Peak {k} Freq", f"Peak {k} Height"]
            e = self.power_edges
            out += [f"Spectral Power {e[i]} - {e[i + 1]}" for i in range(len(e) - 1)]
            return out
        if self.uses_wavelet:
            return [f"L{lv}-{name}" for lv in range(self.wavelet_level + 1)
                    for name in _WAVELET_FEATURES]
        main, lf = self._fft_label_blocks(window_samples)
        return main + lf

    def labels(self, window_samples: int) -> list[str]:
        """One name per feature, in output order, ``"<axis> <feature>"``: all axes' main
        blocks, then all axes' low-frequency blocks (names ending in " LF" for statistics,
        prefixed "LF " for bins so that every label is unique)."""
        per = self.axis_labels(window_samples)
        if self.version >= 2 and not self.uses_wavelet:
            main, lf = self._fft_label_blocks(window_samples)
            lf = [s if s.endswith(" LF") else "LF " + s for s in lf]
            return ([f"{a} {s}" for a in self.axes for s in main]
                    + [f"{a} {s}" for a in self.axes for s in lf])
        return [f"{a} {s}" for a in self.axes for s in per]

    def _scratch_bytes(self, window_samples: int) -> int:
        nb = self._scratch.get(window_samples)
        if nb is None:
            nbytes = ffi.new("size_t *")
            status = lib.edgert_spectral_scratch_size(self._c, window_samples, len(self.axes),
                                                      nbytes)
            if status < 0:
                raise _status_error(status, "spectral-analysis scratch size")
            nb = self._scratch[window_samples] = int(nbytes[0])
        return nb

    def _run(self, data, starts, cols, window_samples, out) -> int:
        # per call: several threads may run batches of this block at once
        scratch = np.empty(self._scratch_bytes(window_samples), dtype=np.uint8)
        d, s, c, o = buffers(data, starts, cols, out)
        return lib.edgert_spectral_features_batch(
            self._c, d, data.shape[0], data.shape[1], c, len(self.axes), s, starts.size,
            window_samples, o, out.shape[1], ffi.from_buffer(scratch), scratch.size)

    def __repr__(self) -> str:
        return (f"SpectralAnalysis(v{self.version}, {self.sampling_freq:g} Hz, axes={self.axes}, "
                f"fft-length={self.fft_length}, filter={self.filter_type}/{self.filter_order}"
                f"@{self.filter_cutoff:g} Hz)")


__all__ = ["SpectralAnalysis", "DEFAULTS", "legacy_available", "strerror"]

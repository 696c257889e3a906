"""The audio DSP blocks - MFCC, MFE and Spectrogram, implementation versions 1-4 - over the C
core (csrc/audio.c), and their continuous (slice by slice) form.

Parameters use Studio's keys (``num_cepstral``, ``frame_length``, ... as in Studio's DSP config
and exported impulses; dashes are accepted too) with Studio's defaults (:data:`MFCC_DEFAULTS`,
:data:`MFE_DEFAULTS`, :data:`SPECTROGRAM_DEFAULTS`). Every configuration check is the C core's
(``edgert_audio_check``, in the order Edge Impulse's reference blocks check); this module only
turns its problem code into the reference's error - same class (``ConfigurationError``, or
:class:`~edgert.errors.ConfigurationAssertionError` where the reference asserts), the
reference's message first, then what to change.

Output is frame-major (``[frame 0: c0 c1 ..., frame 1: ...]``) float32, as the reference
returns it. The reference has no per-feature names; :meth:`AudioBlock.labels` gives
``"<axis> f<frame> c<k>"`` (MFCC), ``"... mel<k>"`` (MFE), ``"... bin<k>"`` (spectrogram), and
:meth:`AudioBlock.output_config` the ``{"type": "spectrogram", "shape": {width, height}}`` that
Studio uses to draw and reshape them.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from .._ffi import ffi, lib
from ..errors import ConfigurationAssertionError, ConfigurationError, InputError
from . import params as P
from ._common import DspBlock, _status_error, buffers

MFCC_DEFAULTS: dict[str, Any] = {
    "num_cepstral": 13, "frame_length": 0.02, "frame_stride": 0.02, "num_filters": 32,
    "fft_length": 256, "win_size": 101, "low_frequency": 0, "high_frequency": 0,
    "pre_cof": 0.98, "pre_shift": 1,
}
MFE_DEFAULTS: dict[str, Any] = {
    "frame_length": 0.02, "frame_stride": 0.01, "num_filters": 40, "fft_length": 256,
    "low_frequency": 0, "high_frequency": 0, "win_size": 101, "noise_floor_db": -52,
}
SPECTROGRAM_DEFAULTS: dict[str, Any] = {
    "frame_length": 0.02, "frame_stride": 0.01, "fft_length": 128, "noise_floor_db": -52,
    "show_axes": True,
}
_INT_KEYS = {"num_cepstral", "num_filters", "fft_length", "win_size", "pre_shift"}
_OPTIONAL_ZERO = {"low_frequency", "high_frequency"}   # absent / null means 0 (Studio)


def _g(v: float) -> str:
    return f"{v:g}"


class AudioBlock(DspBlock):
    """Common part of :class:`MFCC`, :class:`MFE` and :class:`Spectrogram`.

    ``params``: Studio keys (missing keys take Studio's defaults; values may be numeric
    strings). ``sampling_freq``: Hz. ``axes``: the block's axis names (the reference blocks take
    exactly one; more is the reference's configuration error when a window is checked).
    ``columns``: optional column indices of those axes in the data passed to
    :meth:`features_batch`.
    """

    type = ""
    title = ""
    defaults: dict[str, Any] = {}
    _block = -1

    def __init__(self, params: Mapping[str, Any] | None, sampling_freq: float,
                 axes: Sequence[str], implementation_version: int = 4,
                 columns: Sequence[int] | None = None) -> None:
        self.axes = [str(a) for a in axes]
        if not self.axes:
            raise ConfigurationError(f"the {self.type} block needs an axis (the audio axis)")
        self.columns = list(columns) if columns is not None else None
        self.version = P.as_int("implementation_version", implementation_version)
        self.sampling_freq = P.as_float("sampling frequency", sampling_freq)
        given = {str(k).strip().replace("-", "_"): v
                 for k, v in P.normalize_keys(params).items()}
        cfg = dict(self.defaults)
        for key in self.defaults:
            if key in given:
                value = given[key]
                empty = value is None or (isinstance(value, str) and not value.strip())
                cfg[key] = 0 if (empty and key in _OPTIONAL_ZERO) else value
        self.params = cfg
        self._c = ffi.new("edgert_audio_params *")
        self._c.block = self._block
        self._c.version = self.version
        self._c.sampling_freq = self.sampling_freq
        self._c.noise_floor_db = -52.0
        for key, value in cfg.items():
            if key == "show_axes":
                P.as_bool(key, value)       # a graph option: validated, otherwise ignored
                continue
            setattr(self._c, key, P.as_int(key, value) if key in _INT_KEYS
                    else P.as_float(key, value))
        self._layouts: dict[int, Any] = {}
        self._sizes: dict[int, tuple[int, int, int]] = {}

    # -- configuration ----------------------------------------------------------------------
    def layout(self, window_samples: int):
        """The C core's layout for windows of ``window_samples`` samples (frame count, frame
        length/stride in samples, features per frame, the mel range used); raises the
        reference's configuration error, with what to change, when the configuration is
        invalid for such windows."""
        n = int(window_samples) if isinstance(window_samples, (int, np.integer)) else -1
        ly = self._layouts.get(n)
        if ly is not None:
            return ly
        if n < 0 or n > 2**31 - 1:
            raise InputError(f"the window must be a whole number of samples >= 0 "
                             f"(got {window_samples!r})")
        ly = ffi.new("edgert_audio_layout *")
        status = lib.edgert_audio_check(self._c, n, len(self.axes), ly)
        if status < 0:
            if ly.problem > 0:
                raise self._problem_error(int(ly.problem), ly, n)
            raise _status_error(status, f"{self.type} configuration")
        self._layouts[n] = ly
        return ly

    def check(self, window_samples: int) -> int:
        """Validate the configuration for windows of ``window_samples`` samples and return
        the feature count (see :meth:`layout`)."""
        return int(self.layout(window_samples).n_features)

    def n_features(self, window_samples: int) -> int:
        return self.check(window_samples)

    def n_frames(self, window_samples: int) -> int:
        return int(self.layout(window_samples).n_frames)

    def per_frame(self, window_samples: int) -> int:
        return int(self.layout(window_samples).per_frame)

    def _label_kind(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def labels(self, window_samples: int) -> list[str]:
        """``"<axis> f<frame> <kind><k>"`` per feature, frame-major (the reference names none)."""
        ly = self.layout(window_samples)
        kind, axis = self._label_kind(), self.axes[0]
        return [f"{axis} f{f} {kind}{k}" for f in range(ly.n_frames)
                for k in range(ly.per_frame)]

    def output_config(self, window_samples: int) -> dict[str, Any]:
        """What the reference returns as ``output_config``: the features as an image."""
        ly = self.layout(window_samples)
        return {"type": "spectrogram",
                "shape": {"width": int(ly.n_frames), "height": int(ly.per_frame)}}

    def sizes(self, window_samples: int) -> tuple[int, int, int]:
        """Bytes of (prepared state, stage scratch, batch scratch) for this window length."""
        s = self._sizes.get(window_samples)
        if s is None:
            self.layout(window_samples)
            out = ffi.new("size_t[3]")
            status = lib.edgert_audio_scratch_size(self._c, window_samples, out, out + 1,
                                                   out + 2)
            if status < 0:
                raise _status_error(status, f"{self.type} scratch size")
            s = self._sizes[window_samples] = (int(out[0]), int(out[1]), int(out[2]))
        return s

    def features(self, window: np.ndarray | Sequence[float]) -> np.ndarray:
        """Features of one window (``(n_samples, 1)`` or flat). An empty window raises the
        reference's error for it (spectrogram: input must not be empty; MFCC/MFE: the frame
        does not fit)."""
        if np.asarray(window).size == 0:
            self.check(0)
        return super().features(window)

    def _run(self, data, starts, cols, window_samples, out) -> int:
        # per call: several threads may run batches of this block at once
        nbytes = self.sizes(window_samples)[2]
        scratch = np.empty(nbytes, dtype=np.uint8)
        d, s, c, o = buffers(data, starts, cols, out)
        return lib.edgert_audio_features_batch(
            self._c, d, data.shape[0], data.shape[1], c, len(cols), s, starts.size,
            window_samples, o, out.shape[1], ffi.from_buffer(scratch), nbytes)

    def _overflow_message(self) -> str:
        return (f"{self.type} features overflow float32: the samples are finite but so large "
                "that the block's energies exceed 3.4e38; pass int16 sample values (or "
                "floats in a sensor's range)")

    def continuous(self, window_samples: int, slice_samples: int) -> "ContinuousFeatures":
        """A slice-by-slice feature computer for a stream (see :class:`ContinuousFeatures`)."""
        return ContinuousFeatures(self, window_samples, slice_samples)

    def __repr__(self) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{type(self).__name__}(v{self.version}, {self.sampling_freq:g} Hz, {keys})"

    # -- errors -----------------------------------------------------------------------------
    def _problem_error(self, problem: int, ly: Any, n: int) -> ConfigurationError:
        p = self._c
        fs = self.sampling_freq
        ms = n * 1000.0 / fs if fs > 0 else float("nan")
        tip_fft = "use one of 64, 128, 256, 512, 1024"
        hz_low, hz_high = float(ly.low_frequency), float(ly.high_frequency)
        A, C = ConfigurationAssertionError, ConfigurationError
        problems: dict[int, Callable[[], tuple[type, str]]] = {
            lib.EDGERT_AUDIO_BAD_VERSION: lambda: self._version_error(),
            lib.EDGERT_AUDIO_BAD_RATE: lambda: (C, (
                f"the sampling frequency must be a finite number above 0 Hz (got {_g(fs)})")),
            lib.EDGERT_AUDIO_BAD_FRAME: lambda: (C, (
                f"frame_length must be at least one sample: {_g(p.frame_length)} s at "
                f"{_g(fs)} Hz is less (or not a number); use a frame length such as 0.02 s")),
            lib.EDGERT_AUDIO_BAD_STRIDE: lambda: (C, (
                f"frame_stride must be at least one sample: {_g(p.frame_stride)} s at "
                f"{_g(fs)} Hz is less (or not a number); use a stride such as 0.01 s")),
            lib.EDGERT_AUDIO_BAD_CEPSTRAL: lambda: (C, (
                f"num_cepstral must be at least 1 (got {p.num_cepstral}); Studio's default "
                "is 13")),
            lib.EDGERT_AUDIO_BAD_WIN_SIZE: lambda: (C, (
                f"win_size must be between 0 and {lib.EDGERT_AUDIO_MAX_WIN_SIZE} (got "
                f"{p.win_size}); Studio's default is 101")),
            lib.EDGERT_AUDIO_BAD_FREQ: lambda: (C, (
                f"low_frequency and high_frequency must be finite numbers (got "
                f"{_g(p.low_frequency)} and {_g(p.high_frequency)})")),
            lib.EDGERT_AUDIO_BAD_PRE_COF: lambda: (C, (
                f"pre_cof must be a finite number (got {_g(p.pre_cof)}); 0.98 is Studio's "
                "default, 0 disables pre-emphasis")),
            lib.EDGERT_AUDIO_BAD_NOISE_FLOOR: lambda: (C, (
                f"noise_floor_db must be below -12 dB (got {_g(p.noise_floor_db)}); Studio's "
                "default is -52")),
            lib.EDGERT_AUDIO_FEW_FILTERS: lambda: (C, (
                f"Filter number should be at least 2: num_filters is {p.num_filters}; use 2 "
                f"or more (Studio's default is {self.defaults.get('num_filters')})")),
            lib.EDGERT_AUDIO_FFT_NOT_POW2: lambda: (C, (
                f"FFT length must be a power of 2: fft_length is {p.fft_length}; {tip_fft}")),
            lib.EDGERT_AUDIO_BAD_FFT_SIZE: lambda: (C, (
                f"fft_length must be between 2 and {lib.EDGERT_FFT_MAX_LENGTH} (got "
                f"{p.fft_length}); {tip_fft}")),
            lib.EDGERT_AUDIO_AXES: lambda: (C, (
                f"{self.title} blocks only support a single axis, create one "
                f"{self._axis_block_name()} block per axis under **Create impulse** (this "
                f"block has {len(self.axes)} axes: {', '.join(self.axes)})")),
            lib.EDGERT_AUDIO_EMPTY: lambda: (C, (
                "Input data must not be empty: the window has no samples; give the impulse a "
                "window of at least one frame")),
            lib.EDGERT_AUDIO_SHORT_FRAME: lambda: (C, (
                f"Frame length should be at least 4 samples: frame_length {_g(p.frame_length)} s "
                f"at {_g(fs)} Hz is {_g(p.frame_length * fs)} samples; use at least "
                f"{_g(4 / fs)} s")),
            lib.EDGERT_AUDIO_SHORT_STRIDE: lambda: (C, (
                f"Frame stride should be at least 4 samples: frame_stride {_g(p.frame_stride)} "
                f"s at {_g(fs)} Hz is {_g(p.frame_stride * fs)} samples; use at least "
                f"{_g(4 / fs)} s")),
            lib.EDGERT_AUDIO_FEW_FRAMES: lambda: (C, (
                f"Frame length is larger than your window size: a frame of "
                f"{_g(p.frame_length)} s"
                + (f" plus a stride of {_g(p.frame_stride)} s (version 1)" if self.version == 1
                   else "")
                + f" does not fit in the window of {n} samples ({_g(ms)} ms at {_g(fs)} Hz); "
                "lower frame_length or make the window longer")),
            lib.EDGERT_AUDIO_MANY_FRAMES: lambda: (C, (
                f"Number of frames is larger than {lib.EDGERT_AUDIO_MAX_FRAMES} "
                f"({ly.n_frames}), increase your frame stride or decrease your window size. "
                f"(frame_stride {_g(p.frame_stride)} s is {ly.frame_stride} samples; the "
                f"window is {n} samples)")),
            lib.EDGERT_AUDIO_BAD_SHIFT: lambda: (C, (
                "Shift cannot be zero, or less than 0.  To disable pre emphasis, set "
                f"coefficient to 0 (pre_shift is {p.pre_shift}; Studio's default is 1)")),
            lib.EDGERT_AUDIO_LONG_SHIFT: lambda: (C, (
                f"pre_shift must be shorter than the window: {p.pre_shift} samples >= {n}; "
                "use 1 (Studio's default)")),
            lib.EDGERT_AUDIO_HIGH_FREQ: lambda: (A, (
                "High frequency cannot be greater than half of the sampling frequency! "
                f"(high_frequency is {_g(hz_high)} Hz at {_g(fs)} Hz; use at most "
                f"{_g(fs / 2)}, or 0 for half the sampling frequency)")),
            lib.EDGERT_AUDIO_LOW_FREQ: lambda: (A, (
                f"low frequency cannot be less than zero! (low_frequency is {_g(hz_low)} Hz; "
                "use 0 or more)")),
            lib.EDGERT_AUDIO_LOW_ABOVE_HIGH: lambda: (C, (
                f"low_frequency {_g(hz_low)} Hz is above the high frequency {_g(hz_high)} Hz: "
                "the mel filterbank would be empty; lower low_frequency or raise "
                "high_frequency")),
            lib.EDGERT_AUDIO_EMPTY_FILTER: lambda: (C, (
                "At least one row of the mel filterbank contains all zeros. Suggest lowering "
                f"filter number to {float(math.floor((p.fft_length // 2 + 1) / 4))}, or "
                f"increasing the FFT length. ({p.num_filters} filters over "
                f"{_g(hz_low)}-{_g(hz_high)} Hz with fft_length {p.fft_length}"
                + ("; versions 1-3 place the filters at about half their nominal frequency"
                   if self.version <= 3 else "") + ")")),
            lib.EDGERT_AUDIO_EVEN_WINDOW: lambda: (A, (
                f"Windows size must be odd! (win_size is {p.win_size}; use an odd number such "
                "as 101" + (", or 0 to turn the normalisation off" if self._block ==
                            lib.EDGERT_AUDIO_MFCC else "") + ")")),
        }
        make = problems.get(problem)
        if make is None:
            return ConfigurationError(f"{self.type}: invalid configuration (problem {problem})")
        cls, msg = make()
        return cls(msg)

    def _axis_block_name(self) -> str:
        return self.title

    def _version_error(self) -> tuple[type, str]:
        v = self.version
        if v < 1:
            return ConfigurationError, (
                "Invalid value for implementation_version, should be 1, 2 or 3 but was "
                f"{v} (edgert implements {self.type} versions 1 to 4)")
        return ConfigurationError, (
            f"{self._version_message()} (implementation_version is {v}; use 1, 2, 3 or 4)")

    def _version_message(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


class MFCC(AudioBlock):
    """Mel-frequency cepstral coefficients (``mfcc``): pre-emphasis, framing, power spectrum,
    mel filterbank, log, DCT with c0 replaced by the log frame energy, sliding cepstral
    mean-variance normalisation (``win_size`` frames, 0 = off)."""

    type = "mfcc"
    title = "MFCC"
    defaults = MFCC_DEFAULTS
    _block = lib.EDGERT_AUDIO_MFCC

    def _label_kind(self) -> str:
        return "c"

    def _version_message(self) -> str:
        return "implementation_version should be between 1 and 4"

    def output_config(self, window_samples: int) -> dict[str, Any]:
        """MFCC's width is features / num_cepstral (fractional when num_cepstral exceeds
        num_filters: spec quirk 9), height num_cepstral."""
        ly = self.layout(window_samples)
        c = int(self._c.num_cepstral)
        return {"type": "spectrogram", "shape": {"width": ly.n_features / c, "height": c}}


class MFE(AudioBlock):
    """Mel-filterbank energies (``mfe``): v1/v2 linear energies with sliding mean
    normalisation and 0-1 scaling; v3/v4 dB over a noise floor, quantised to 1/256."""

    type = "mfe"
    title = "MFE"
    defaults = MFE_DEFAULTS
    _block = lib.EDGERT_AUDIO_MFE

    def _label_kind(self) -> str:
        return "mel"

    def _version_message(self) -> str:
        return "implementation_version should be less than 5"


class Spectrogram(AudioBlock):
    """Power spectrogram (``spectrogram``): framing and |FFT|^2 / N per frame; v1/v2 0-1
    scaling over the window, v3/v4 dB over a noise floor."""

    type = "spectrogram"
    title = "Spectrogram"
    defaults = SPECTROGRAM_DEFAULTS
    _block = lib.EDGERT_AUDIO_SPECTROGRAM

    def _label_kind(self) -> str:
        return "bin"

    def _axis_block_name(self) -> str:
        return "spectrogram"

    def _version_message(self) -> str:
        return "implementation_version should be <= 4"


AUDIO_BLOCKS: dict[str, type[AudioBlock]] = {"mfcc": MFCC, "mfe": MFE,
                                             "spectrogram": Spectrogram}


class ContinuousFeatures:
    """Features of a stream of audio, one window per slice, as Edge Impulse's
    ``run_classifier_continuous`` slides its window: the window is the last
    ``window_samples`` samples, advanced by ``slice_samples`` per :meth:`push_slice`.

    The per-frame work of each slice is done once: frames that the new window shares with an
    earlier one keep their rows (the block's per-frame values), only the frames holding new
    samples and the frames whose circular pre-emphasis reads the window's end (MFCC, MFE
    v3/v4: the first) are computed, and then what the block does over the whole window
    (normalisation, 0-1 scaling, the spectrogram v3 rescale decision) runs on the assembled
    rows. The result equals :meth:`AudioBlock.features` of the same window bit for bit.

    Frames line up between windows ``G`` slices apart, ``G = stride / gcd(slice, stride)``
    (1 when the slice is a multiple of the frame stride; 2 for Studio's MFCC default of 20 ms
    frames every 20 ms with 250 ms slices): the rows of the last ``G`` windows are kept, one
    matrix per frame phase. When windows ``G`` slices apart share no frame (or ``G`` > 16)
    every frame is recomputed (``reuses_frames`` False; same results).

    Not thread-safe (one per stream); the C calls release the GIL.
    """

    def __init__(self, block: AudioBlock, window_samples: int, slice_samples: int) -> None:
        self.block = block
        self.window_samples = L = int(window_samples)
        self.slice_samples = S = int(slice_samples)
        if S < 1 or S > L:
            raise InputError(f"slice_samples must be between 1 and the window ({L} samples), "
                             f"got {slice_samples!r}")
        ly = block.layout(L)
        self.n_frames, self.per_frame = int(ly.n_frames), int(ly.per_frame)
        self.frame_stride, self.wrap_frames = int(ly.frame_stride), int(ly.wrap_frames)
        state_bytes, self._scratch_bytes, _ = block.sizes(L)
        self._state = np.zeros((state_bytes + 7) // 8, dtype=np.float64)   # 8-byte aligned
        self._state_bytes = state_bytes
        status = lib.edgert_audio_state_init(block._c, L, ffi.from_buffer(self._state),
                                             state_bytes)
        if status < 0:
            raise _status_error(status, f"{block.type} continuous state")
        self._scratch = np.empty(self._scratch_bytes, dtype=np.uint8)
        self._window = np.zeros(L, dtype=np.float32)
        G = self.frame_stride // math.gcd(S, self.frame_stride)
        d = G * S // self.frame_stride            # frames between windows G slices apart
        #: whether frames computed for earlier windows are reused (see the class docstring)
        self.reuses_frames = G <= 16 and d < self.n_frames
        self._phases = G if self.reuses_frames else 1
        self._shift = d if self.reuses_frames else 0
        self._rows = np.zeros((self._phases, self.n_frames, self.per_frame), dtype=np.float64)
        self._last = [-1] * self._phases          # window number each phase's rows belong to
        self._count = 0                           # windows produced since the last reset
        self._out = np.zeros(int(ly.n_features), dtype=np.float32)
        self._peaks: deque[float] = deque(maxlen=-(-L // S))
        self._filled = 0
        self._need_peak = block.type == "spectrogram" and block.version == 3
        # the buffers never move: their C pointers are made once
        self._c_state = ffi.from_buffer(self._state)
        self._c_scratch = ffi.from_buffer(self._scratch)
        self._c_window = ffi.cast("float *", ffi.from_buffer(self._window))
        self._c_rows = ffi.cast("double *", ffi.from_buffer(self._rows))
        self._c_out = ffi.cast("float *", ffi.from_buffer(self._out))

    def reset(self) -> None:
        """Forget the samples seen so far (the next windows start filling again)."""
        self._filled = 0
        self._count = 0
        self._last = [-1] * self._phases
        self._peaks.clear()

    @property
    def ready(self) -> bool:
        """Whether the window is full (push_slice returns features from now on)."""
        return self._filled >= self.window_samples

    def push_slice(self, samples: Any) -> Optional[np.ndarray]:
        """Append one slice (``slice_samples`` values) and return the features (float32,
        ``n_features``) of the window that now ends with it; ``None`` until the window is
        full. The returned array is reused by the next call: copy it to keep it."""
        with np.errstate(over="ignore"):   # beyond float32's range -> inf, refused below
            x = np.asarray(samples, dtype=np.float32).reshape(-1)
        S = self.slice_samples
        if x.size != S:
            raise InputError(f"a slice must have {S} samples, got {x.size}")
        if not np.isfinite(x).all():
            raise InputError("the slice holds NaN or infinite values (or values beyond "
                             "float32's range): clean or drop them first")
        return self.push_checked(x)

    def push_checked(self, x: np.ndarray) -> Optional[np.ndarray]:
        """:meth:`push_slice` for a caller that has checked the slice: ``x`` is a float32
        array of ``slice_samples`` finite values (a stream validating whole chunks once)."""
        S, L = self.slice_samples, self.window_samples
        w = self._window
        w[:-S] = w[S:]
        w[-S:] = x
        self._filled = min(L, self._filled + S)
        if self._need_peak:
            self._peaks.append(float(np.abs(x).max()))
        if self._filled < L:
            return None
        F, d, m = self.n_frames, self._shift, self._count
        ph = m % self._phases
        rows = self._rows[ph]
        if d > 0 and m >= self._phases and self._last[ph] == m - self._phases:
            # the window G slices back had these frames at d..F-1
            rows[:F - d] = rows[d:]
            self._frame_rows(ph, 0, min(self.wrap_frames, F - d))
            self._frame_rows(ph, F - d, d)
        else:
            self._frame_rows(ph, 0, F)
        self._last[ph] = m
        self._count = m + 1
        peak = 0.0
        if self._need_peak:
            # the oldest slice may lie partly outside the window: then look at the window
            peak = max(self._peaks) if L % S == 0 else float(np.abs(w).max())
        status = lib.edgert_audio_finish(self._c_state, self._state_bytes,
                                         self._c_rows + ph * F * self.per_frame, peak,
                                         self._c_out, self._c_scratch, self._scratch_bytes)
        if status < 0:
            if status == lib.EDGERT_ERR_NONFINITE:
                raise InputError(self.block._overflow_message())
            raise _status_error(status, f"{self.block.type} continuous features")
        return self._out

    def _frame_rows(self, phase: int, first: int, count: int) -> None:
        if count <= 0:
            return
        offset = (phase * self.n_frames + first) * self.per_frame
        status = lib.edgert_audio_frame_rows(
            self._c_state, self._state_bytes, self._c_window, self.window_samples, first,
            count, self._c_rows + offset, self._c_scratch, self._scratch_bytes)
        if status < 0:
            raise _status_error(status, f"{self.block.type} frame rows")


__all__ = ["AudioBlock", "MFCC", "MFE", "Spectrogram", "AUDIO_BLOCKS", "ContinuousFeatures",
           "MFCC_DEFAULTS", "MFE_DEFAULTS", "SPECTROGRAM_DEFAULTS"]

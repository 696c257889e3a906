"""What every DSP block shares: the input checks of a batch call and the block interface."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .._ffi import as_c_array, ffi, lib, status_error
from ..errors import EdgertError, InputError


class DspBlock:
    """Interface of every DSP block (spectral-analysis, raw, flatten).

    A block knows its ``axes`` (names) and, when built by :func:`edgert.dsp.make_dsp_block`,
    the ``columns`` of the recording that hold them. Methods:

    - ``n_features(window_samples)`` / ``labels(window_samples)``: output size and names
      (``"<axis> <feature>"``, one per feature, in output order);
    - ``features(window)``: one window, ``(n_samples, n_axes)`` or flat interleaved;
    - ``features_batch(data, starts, window_samples, axes_columns=None)``: all windows
      ``data[s:s+window_samples]`` for ``s`` in ``starts`` in ONE native call, returning a
      ``(n_windows, n_features)`` float32 array. Thread-safe: no state changes, scratch is
      allocated per call.
    """

    type: str = ""
    axes: list[str]
    columns: list[int] | None

    def n_features(self, window_samples: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def labels(self, window_samples: int) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def _run(self, data: np.ndarray, starts: np.ndarray, cols: np.ndarray, window_samples: int,
             out: np.ndarray) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    # -- shared driver --------------------------------------------------------------------
    def features(self, window: np.ndarray | Sequence[float]) -> np.ndarray:
        """Features of one window: an ``(n_samples, n_axes)`` array, or a flat interleaved
        ``[x0, y0, z0, x1, ...]`` sequence whose length is a multiple of the axis count."""
        arr = np.asarray(window)
        n_axes = len(self.axes)
        if arr.ndim == 1:
            if arr.size == 0:
                raise InputError("the window is empty: pass at least one sample per axis")
            if arr.size % n_axes:
                raise InputError(
                    f"a flat window of {arr.size} values is not a whole number of samples of "
                    f"{n_axes} axes ({', '.join(self.axes)}): its length must be a multiple "
                    f"of {n_axes}"
                )
            arr = arr.reshape(-1, n_axes)
        elif arr.ndim != 2 or arr.shape[1] != n_axes:
            raise InputError(
                f"a window must have shape (n_samples, {n_axes}) for axes "
                f"{', '.join(self.axes)} (or be flat interleaved), got shape {arr.shape}"
            )
        if arr.shape[0] == 0:
            raise InputError("the window is empty: pass at least one sample per axis")
        data32 = _as_float32(arr)
        n = data32.shape[0]
        out = np.empty((1, self.n_features(n)), dtype=np.float32)
        self._call(data32, _ZERO_START, _identity_columns(n_axes), n, out)
        return out[0]

    def features_batch(self, data: np.ndarray, starts: Sequence[int] | np.ndarray,
                       window_samples: int,
                       axes_columns: Sequence[int] | None = None) -> np.ndarray:
        """Features of the windows ``data[s : s + window_samples]`` for every ``s`` in
        ``starts``, computed in one native call. ``data`` is ``(n_rows, n_columns)``;
        ``axes_columns`` are the columns of this block's axes (default: the block's
        ``columns`` from :func:`make_dsp_block`, else ``0..n_axes-1``)."""
        window_samples = _as_count("window_samples", window_samples)
        arr = np.asarray(data)
        if arr.ndim == 1 and len(self.axes) == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise InputError(
                f"data must be a 2-D (n_rows, n_columns) array, got shape {arr.shape}"
            )
        data32 = _as_float32(arr)
        n_rows, n_cols = data32.shape
        cols = self._columns(axes_columns, n_cols)
        st = np.asarray(starts)
        if st.ndim != 1:
            raise InputError(f"starts must be a 1-D sequence of row indices, got shape {st.shape}")
        if st.size and not np.issubdtype(st.dtype, np.integer):
            if not np.issubdtype(st.dtype, np.number) or not np.all(np.equal(np.mod(st, 1), 0)):
                raise InputError("starts must be whole row indices")
        if st.size:
            lo, hi = int(st.min()), int(st.max())
            if lo < 0:
                raise InputError(f"window start {lo} is negative; starts must be >= 0")
            if hi + window_samples > n_rows:
                raise InputError(
                    f"the window starting at row {hi} needs {window_samples} rows but the data "
                    f"has {n_rows}: starts must be <= n_rows - window_samples "
                    f"({n_rows - window_samples})"
                )
        starts32 = np.ascontiguousarray(st, dtype=np.int32)
        out = np.empty((starts32.size, self.n_features(window_samples)), dtype=np.float32)
        if starts32.size:
            self._call(data32, starts32, cols, window_samples, out)
        return out

    def _call(self, data32: np.ndarray, starts32: np.ndarray, cols: np.ndarray,
              window_samples: int, out: np.ndarray) -> None:
        status = self._run(data32, starts32, cols, window_samples, out)
        if status < 0:
            if status == lib.EDGERT_ERR_NONFINITE:
                bad = _first_nonfinite_window(data32, starts32, cols, window_samples)
                if bad is None:
                    # the data is finite: scaling (or the maths on it) overflowed float32
                    raise InputError(self._overflow_message())
                raise InputError(
                    f"window {bad} (rows {starts32[bad]}..{starts32[bad] + window_samples - 1}) "
                    "contains NaN or infinite values: clean or drop those samples first"
                )
            raise _status_error(status, f"{self.type} features")

    def _overflow_message(self) -> str:
        scale = getattr(self, "scale_axes", 1.0)
        return (f"{self.type} features overflow float32: the data is finite but with "
                f"scale-axes {scale:g} the values (or their powers) exceed 3.4e38; "
                "lower scale-axes or rescale the data")

    def _columns(self, axes_columns: Sequence[int] | None, n_cols: int) -> np.ndarray:
        n_axes = len(self.axes)
        if axes_columns is None:
            axes_columns = self.columns if self.columns is not None else list(range(n_axes))
        cols = np.asarray(axes_columns, dtype=np.int64).reshape(-1)
        if cols.size != n_axes:
            raise InputError(
                f"{n_axes} axis columns are needed ({', '.join(self.axes)}), got {cols.size}"
            )
        if cols.size and (cols.min() < 0 or cols.max() >= n_cols):
            raise InputError(
                f"axis columns {cols.tolist()} are outside the data's {n_cols} columns: "
                f"the data must have a column for every axis ({', '.join(self.axes)})"
            )
        return as_c_array(cols, np.int32, "axes_columns")


_ZERO_START = np.zeros(1, dtype=np.int32)
_IDENTITY: dict[int, np.ndarray] = {}


def _identity_columns(n: int) -> np.ndarray:
    cols = _IDENTITY.get(n)
    if cols is None:
        cols = _IDENTITY[n] = np.arange(n, dtype=np.int32)
    return cols


def _as_float32(arr: np.ndarray) -> np.ndarray:
    if arr.dtype != np.float32 or not arr.flags.c_contiguous:
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise InputError(f"data must be real numbers, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    return arr


def _as_count(name: str, v: int) -> int:
    try:
        iv = int(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number, got {v!r}") from None
    if iv != v or iv < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {v!r}")
    if iv > 2**31 - 1:
        raise InputError(f"{name} is too large: {v!r}")
    return iv


def _first_nonfinite_window(data: np.ndarray, starts: np.ndarray, cols: np.ndarray,
                            n: int) -> int | None:
    """Index of the first window holding a NaN/inf input value; None when the input is
    finite (the C core's non-finite value then came from scaling or an overflow)."""
    bad_rows = ~np.isfinite(data[:, cols]).all(axis=1)
    csum = np.concatenate([[0], np.cumsum(bad_rows)])
    for i, s in enumerate(starts):
        if csum[s + n] - csum[s] > 0:
            return i
    return None


def _status_error(status: int, context: str) -> EdgertError:
    """The exception of edgert._ffi's one status map, with what to change when a DSP
    configuration's sizes overflow the C core's limits."""
    exc = status_error(status, context)
    if status == lib.EDGERT_ERR_OVERFLOW:
        exc = type(exc)(f"{exc}: the feature vector (or its scratch memory) would exceed the C "
                        "core's 2^31 limits; use fewer axes, a shorter fft-length, fewer "
                        "spectral peaks or shorter windows")
    return exc


def buffers(data: np.ndarray, starts: np.ndarray, cols: np.ndarray, out: np.ndarray):
    """cffi pointers (zero-copy) for a batch call."""
    fb = ffi.from_buffer
    return (fb("float[]", data), fb("int32_t[]", starts), fb("int32_t[]", cols),
            fb("float[]", out))


__all__ = ["DspBlock", "buffers", "ffi", "lib"]

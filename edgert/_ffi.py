"""Loads the compiled C core and maps its status codes to exceptions.

Import this module rather than ``edgert._native`` directly: it refuses a stale extension (one
built from another version of the sources) with a message that says how to rebuild.
"""
from __future__ import annotations

from typing import NoReturn

import numpy as np

from ._version import __version__
from .errors import (
    ConfigurationError,
    EdgertError,
    InputError,
    ModelError,
    NativeError,
)

try:
    from ._native import ffi, lib  # type: ignore[import-not-found]
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        f"edgert's C extension (edgert._native) could not be loaded ({exc}): install with "
        "`pip install .` (or `python setup.py build_ext --inplace` in a source checkout)"
    ) from exc



def check_native_version(native_version: str, package_version: str) -> None:
    """Refuse a C extension built from other sources than this Python package (e.g. an
    in-place build left over after a ``git pull`` that bumped the version): its functions
    and structs may no longer match the cdef the Python layer was written against."""
    if native_version != package_version:
        raise ImportError(
            f"edgert's C extension is version {native_version} but the Python package is "
            f"{package_version}: the build is stale; rebuild with `pip install .` "
            "(or `python setup.py build_ext --inplace` in a source checkout)"
        )


check_native_version(ffi.string(lib.edgert_version()).decode(), __version__)

#: The one map from C status codes to exception classes. Bad data or arguments from the caller
#: are InputError, impossible configurations ConfigurationError, bad models ModelError; the rest
#: (NULL pointers, short scratch/output buffers, internal errors) are bugs of the binding:
#: NativeError, with the status number for the report.
_STATUS_CLASS: dict[int, type[EdgertError]] = {
    lib.EDGERT_ERR_ARG: InputError,
    lib.EDGERT_ERR_NONFINITE: InputError,
    lib.EDGERT_ERR_SHAPE: InputError,
    lib.EDGERT_ERR_TOO_SHORT: InputError,
    lib.EDGERT_ERR_PARAM: ConfigurationError,
    lib.EDGERT_ERR_MASKED_ALL: ConfigurationError,
    lib.EDGERT_ERR_OVERFLOW: ConfigurationError,
    lib.EDGERT_ERR_UNSUPPORTED: ModelError,
    lib.EDGERT_ERR_MODEL: ModelError,
}


def strerror(status: int) -> str:
    """The C core's description of a status code."""
    return ffi.string(lib.edgert_strerror(status)).decode()


def status_error(status: int, context: str) -> EdgertError:
    """The exception for a negative status; ``context`` says what was being done."""
    cls = _STATUS_CLASS.get(status, NativeError)
    text = f"{context}: {strerror(status)}"
    if cls is NativeError:
        text += f" (status {status})"
    return cls(text)


def raise_status(status: int, context: str) -> NoReturn:
    """Raise :func:`status_error` for a negative status."""
    raise status_error(status, context)


def check(status: int, context: str) -> None:
    """Raise for a negative status code, else return."""
    if status < 0:
        raise_status(status, context)


def as_c_array(arr: np.ndarray, dtype: np.dtype | type, name: str) -> np.ndarray:
    """Validate that ``arr`` is a C-contiguous array of ``dtype`` (converting when needed;
    conversion copies, zero-copy otherwise) so it can be passed with ``ffi.from_buffer``."""
    out = np.ascontiguousarray(arr, dtype=dtype)
    if out.dtype != np.dtype(dtype):  # pragma: no cover - ascontiguousarray guarantees it
        raise InputError(f"{name}: expected dtype {np.dtype(dtype)}, got {out.dtype}")
    return out


def ptr(ctype: str, arr: np.ndarray):
    """A zero-copy cffi pointer of type ``ctype`` (e.g. ``"float *"``) into a numpy array."""
    return ffi.cast(ctype, ffi.from_buffer(arr))


__all__ = ["ffi", "lib", "check_native_version", "strerror", "status_error", "raise_status",
           "check",
           "as_c_array", "ptr"]

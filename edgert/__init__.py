"""edgert: an on-device inference runtime for Edge Impulse impulses.

The hot path (spectral DSP, int8/float32 TFLite kernels, K-means anomaly) is a C99 core in
``csrc/`` compiled through cffi; this package is a thin, validating layer over it.
"""
from ._version import __version__
from .errors import (
    AcquisitionFormatError,
    BundleError,
    ConfigurationError,
    DatasetError,
    EdgertError,
    InputError,
    ModelError,
    NativeError,
    UnsupportedOperatorError,
)

__all__ = [
    "__version__",
    "AcquisitionFormatError",
    "BundleError",
    "ConfigurationError",
    "DatasetError",
    "EdgertError",
    "InputError",
    "ModelError",
    "NativeError",
    "UnsupportedOperatorError",
]

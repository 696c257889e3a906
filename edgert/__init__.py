"""edgert: an on-device inference runtime for Edge Impulse impulses.

>>> from edgert import Impulse, load_recording
>>> imp = Impulse.load("examples/motion-demo")
>>> res = imp.classify(load_recording("examples/motion-demo/samples/idle.01.json"))
>>> print(res.summary())

The hot path (spectral DSP, int8/float32 TFLite kernels, K-means anomaly) is a C99 core in
``csrc/`` compiled through cffi; this package is a thin, validating layer over it, in layers
(each imports only from the ones above it in this list):

- ``errors``, ``_ffi`` (the native library and its one status map);
- ``engine`` (TFLite models), ``dsp`` (DSP blocks), ``acquisition`` (data-acquisition
  documents);
- ``recording`` (the one Recording type and its file readers);
- ``runtime`` (bundles, Impulse, streams, results);
- ``dataset`` (local datasets, classify-all, metrics), ``ingestion`` (uploads, the durable
  outbox, the ingestion service), ``studio`` (anomaly training);
- ``cli`` and the other faces.

The runtime names below are loaded on first use, so ``import edgert`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

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

#: name -> module of the names loaded on first use
_LAZY = {
    "Impulse": "edgert.runtime.impulse",
    "Stream": "edgert.runtime.stream",
    "ClassificationResult": "edgert.runtime.results",
    "Recording": "edgert.recording.data",
    "SensorAxis": "edgert.recording.data",
    "load_recording": "edgert.recording.files",
    "read_recording": "edgert.recording.files",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgert' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "AcquisitionFormatError",
    "BundleError",
    "ClassificationResult",
    "ConfigurationError",
    "DatasetError",
    "EdgertError",
    "Impulse",
    "InputError",
    "ModelError",
    "NativeError",
    "Recording",
    "SensorAxis",
    "Stream",
    "UnsupportedOperatorError",
    "load_recording",
    "read_recording",
]

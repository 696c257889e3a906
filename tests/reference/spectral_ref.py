"""The numpy/scipy reference of spectral analysis versions 2-4 (FFT path).

It lives in the package (:mod:`edgert.bench.reference_dsp`), where ``edgert bench`` uses it as
its reference pipeline; this module re-exports it for the tests, which keep using it as an
oracle independent of the C core (it is plain numpy/scipy written from the spec).
"""
from edgert.bench.reference_dsp import (DEFAULTS, RATIO_STAGES, RefConfigError,  # noqa: F401
                                        decimate_stage, kept_bins, spectral_features,
                                        spectral_features_batch)

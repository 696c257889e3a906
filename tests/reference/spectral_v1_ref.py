"""The float64 numpy/scipy reference of the legacy version-1 Spectral Analysis block.

It lives in the package (:mod:`edgert.bench.reference_dsp`), where ``edgert bench`` uses it as
its reference pipeline; this module re-exports it for the tests (an oracle independent of the
C core: plain numpy/scipy written from the spec).
"""
from edgert.bench.reference_dsp import peak_indexes, v1_axis  # noqa: F401

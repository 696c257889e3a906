"""edgert.bench: what an impulse costs, measured on this machine, against the pipelines a user
would otherwise run (the ``edgert bench``, ``bench-model`` and ``profile`` commands).

    from edgert.bench import bench_bundle, bench_model, render
    doc = bench_bundle("examples/motion-demo", seconds=5)   # the documented JSON document
    print(render(doc))                                       # the table

Modules: :mod:`.timing` (interleaved per-call timing), :mod:`.stages` (what is timed),
:mod:`.reference` and :mod:`.reference_dsp` (the reference pipelines), :mod:`.memory` (how
memory is measured), :mod:`.run` (the runs), :mod:`.report` (the table), :mod:`.schema` (the
JSON schemas), :mod:`.profile` (``edgert profile``), :mod:`.plot` (PNG plots).
"""
from __future__ import annotations

from .report import render
from .run import bench_bundle, bench_model

__all__ = ["bench_bundle", "bench_model", "render"]

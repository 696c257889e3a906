"""Interleaved per-call timing: wall and CPU time of many calls, min/median/p99.

Why interleaved: the machines edgert is measured on are shared and their load changes within a
run. :func:`measure_interleaved` gives every timed task (edgert's stage and each reference's)
a short time slice in turn, round after round, until the time budget is spent; a change of load
then hits every task alike and a ratio of medians taken in the same run stays fair.

Wall time: every call is timed on its own with :func:`time.perf_counter_ns` (a cheap clock:
tens of nanoseconds), so min/median/p99 describe single calls. CPU time: the process's CPU
clocks are system calls on many machines (about a microsecond on a VM), too costly to read
around every call of a few microseconds; :func:`time.process_time_ns` (all threads of the
process: an interpreter's worker threads count too, waiting for a core does not) is read once
per time slice, and a CPU sample is the slice's CPU time divided by its calls. Every sample is
divided by the windows a call handles (a batched call of 32 inferences gives per-inference
figures). The cost of the timer is measured (:func:`timer_overhead_ns`) and reported, not
subtracted.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

#: a task's call: takes the call number (to pick a window), returns nothing
Call = Callable[[int], object]


@dataclass
class Task:
    """One thing to time: ``call(i)`` handles ``per_call`` windows (or inferences)."""
    key: str
    call: Call
    per_call: int = 1
    wall_ns: list[float] = field(default_factory=list)
    cpu_ns: list[float] = field(default_factory=list)

    def stats(self) -> dict:
        """{"samples": calls timed, "cpu_samples": time slices, "wall_us": {min, median, p99,
        mean}, "cpu_us": {...}} per window."""
        return {"samples": len(self.wall_ns), "cpu_samples": len(self.cpu_ns),
                "wall_us": summary_us(self.wall_ns), "cpu_us": summary_us(self.cpu_ns)}


def summary_us(samples_ns: Sequence[float]) -> dict:
    """min / median / p99 (and mean) of nanosecond samples, in microseconds."""
    if not samples_ns:
        return {"min": None, "median": None, "p99": None, "mean": None}
    a = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {"min": float(a.min()), "median": float(np.median(a)),
            "p99": float(np.percentile(a, 99)), "mean": float(a.mean())}


def timer_overhead_ns(n: int = 2000) -> dict:
    """Median cost of reading the clocks: ``wall`` around one (empty) call, as every call is
    timed; ``cpu`` one read of the process CPU clock (once per slice)."""
    wall, cpu = [], []
    pc, pt = time.perf_counter_ns, time.process_time_ns

    def nothing(i: int) -> None:
        return None
    for i in range(n):
        w0 = pc()
        nothing(i)
        w1 = pc()
        wall.append(w1 - w0)
    for _ in range(min(n, 500)):
        c0 = pc()
        pt()
        cpu.append(pc() - c0)
    return {"wall": float(np.median(wall)), "cpu": float(np.median(cpu))}


def measure_interleaved(tasks: Sequence[Task], seconds: float, slice_s: float = 0.02,
                        min_samples: int = 5,
                        progress: Optional[Callable[[float], None]] = None) -> int:
    """Round-robin over ``tasks``: each gets ``slice_s`` of calls per round, until ``seconds``
    have passed (and every task has had at least ``min_samples`` slices). Samples accumulate in
    each task's ``wall_ns`` (one per call) and ``cpu_ns`` (one per slice).
    ``progress(elapsed_s)`` is called after every round.
    Returns the number of rounds."""
    pc, pt = time.perf_counter_ns, time.process_time_ns
    counters = [0] * len(tasks)
    start = time.perf_counter()
    slice_ns = int(slice_s * 1e9)
    rounds = 0
    while True:
        for k, t in enumerate(tasks):
            call, per = t.call, t.per_call
            i = counters[k]
            samples = t.wall_ns
            c0 = pt()
            end = pc() + slice_ns
            while True:
                w0 = pc()
                call(i)
                w1 = pc()
                samples.append((w1 - w0) / per)
                i += 1
                if w1 >= end:
                    break
            c1 = pt()
            t.cpu_ns.append((c1 - c0) / ((i - counters[k]) * per))
            counters[k] = i
        rounds += 1
        elapsed = time.perf_counter() - start
        if progress is not None:
            progress(elapsed)
        if elapsed >= seconds and all(len(t.cpu_ns) >= min_samples for t in tasks):
            return rounds


def load_average() -> Optional[list[float]]:
    """The 1/5/15-minute load averages (None where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def ratio(reference: Optional[float], ours: Optional[float]) -> Optional[float]:
    """reference / ours (how many times faster ours is), None when either is missing."""
    if reference is None or ours is None or ours <= 0 or not math.isfinite(reference):
        return None
    return reference / ours


__all__ = ["Task", "measure_interleaved", "summary_us", "timer_overhead_ns", "load_average",
           "ratio"]

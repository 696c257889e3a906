"""How the harness measures memory, each method named in the report.

- ``rss_delta``: growth of the process's resident set (``/proc/self/statm``) across building a
  pipeline and running its first window. It sees C/C++ heaps (an interpreter's arena and
  tensors) as well as Python's; it is a lower bound when the allocator reuses memory freed
  earlier, and page-granular (4 KiB).
- ``tracemalloc``: bytes Python's allocator and numpy (which reports its buffers to
  tracemalloc) hold - what a loaded impulse keeps, and the peak on top of that during one
  window. It does not see C allocations outside numpy (there are none in edgert's C core:
  every buffer is a numpy array passed in).
- ``arena``: exact byte counts the engines report (edgert's plan, TFLite Micro's recording
  allocator).
- ``peak_rss``: the process's peak resident set at the end of the run (everything loaded,
  Python itself included).
"""
from __future__ import annotations

import os
import re
import struct
import sys
import tempfile
import tracemalloc
from contextlib import contextmanager
from typing import Any, Iterator, Optional

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> Optional[int]:
    """Current resident set size of this process (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_bytes() -> Optional[int]:
    """Peak resident set size of this process so far."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class Traced:
    """Result of :func:`traced`: ``held`` bytes allocated inside and still alive at its end,
    ``peak`` the highest traced total above the start, ``rss_delta`` the resident growth."""
    held: int = 0
    peak: int = 0
    rss_delta: Optional[int] = None


@contextmanager
def traced() -> Iterator[Traced]:
    """Measure what the block allocates (tracemalloc, restored afterwards) and the RSS delta."""
    out = Traced()
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    r0 = rss_bytes()
    try:
        yield out
    finally:
        cur, peak = tracemalloc.get_traced_memory()
        r1 = rss_bytes()
        if not was:
            tracemalloc.stop()
        out.held = max(0, cur - base)
        out.peak = max(0, peak - base)
        out.rss_delta = None if r0 is None or r1 is None else max(0, r1 - r0)


def loaded_size(path: str) -> Optional[int]:
    """Bytes a shared object occupies once loaded: the sum of its ELF sections that are
    allocated in memory and hold file data (code, read-only data, initialised data); None when
    the file is not ELF."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data[:4] != b"\x7fELF":
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
    total = 0
    for i in range(shnum):
        off = shoff + i * shentsize
        if is64:
            _, sh_type, flags = struct.unpack_from(end + "IIQ", data, off)
            size, = struct.unpack_from(end + "Q", data, off + 0x20)
        else:
            _, sh_type, flags = struct.unpack_from(end + "III", data, off)
            size, = struct.unpack_from(end + "I", data, off + 0x14)
        SHF_ALLOC, SHT_NOBITS = 0x2, 8
        if flags & SHF_ALLOC and sh_type != SHT_NOBITS:
            total += size
    return total


@contextmanager
def captured_fd2() -> Iterator[list[str]]:
    """Capture what C/C++ code writes on file descriptor 2 inside the block (an interpreter's
    log lines); the text is in the yielded list afterwards."""
    out: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode(errors="replace"))


def micro_arena_bytes(interpreter: Any) -> Optional[dict]:
    """TFLite Micro's recording allocator report for a ``tflite_micro`` interpreter:
    {"activations": head bytes, "total": arena bytes with its bookkeeping}, or None. The
    report is printed by its C++ code on file descriptor 2, captured here."""
    fn = getattr(interpreter, "print_allocations", None)
    if fn is None:
        return None
    with captured_fd2() as captured:
        fn()
    text = "".join(captured)
    head = re.search(r"Arena allocation head (\d+) bytes", text)
    total = re.search(r"Arena allocation total (\d+) bytes", text)
    if not total:
        return None
    return {"activations": int(head.group(1)) if head else None, "total": int(total.group(1))}


__all__ = ["rss_bytes", "peak_rss_bytes", "traced", "Traced", "loaded_size",
           "micro_arena_bytes", "captured_fd2"]

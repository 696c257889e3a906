"""The POSIX shared-memory segment a client writes a window's features into
(``classify_shm``): created at ``hello``, named in the hello response's ``features_shm``,
unlinked when the runner exits.

The official clients attach by name: Python with ``multiprocessing.shared_memory.SharedMemory
(name)`` (the leading ``/`` stripped), Node with ``shm_open``. The segment is created here with
CPython's ``_posixshmem.shm_open`` (what ``SharedMemory`` itself calls) rather than
``SharedMemory(create=True)``: before Python 3.13 the latter registers the segment with
multiprocessing's resource tracker, which starts an extra tracker process and unlinks the
segment when *that* process decides to, neither of which a long-running runner wants.
``O_CREAT | O_EXCL`` with a random name, mode 0600, as Edge Impulse's runner does.
"""
from __future__ import annotations

import logging
import mmap
import os
import secrets
from typing import Optional

import numpy as np

log = logging.getLogger("edgert.eim")

try:
    import _posixshmem
except ImportError:  # pragma: no cover - not CPython on a POSIX system
    _posixshmem = None


class SharedMemoryUnavailable(OSError):
    """The segment could not be created (the runner then answers without ``features_shm``)."""


class FeatureSegment:
    """``elements`` float32 values in a new POSIX shared-memory segment."""

    def __init__(self, elements: int, prefix: str = "edgert-eim"):
        if _posixshmem is None:
            raise SharedMemoryUnavailable("POSIX shared memory is not available in this Python")
        self.elements = int(elements)
        self.size_bytes = self.elements * 4
        fd = -1
        for _ in range(10):
            name = f"/{prefix}-{os.getpid()}-{secrets.token_hex(6)}"
            try:
                fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise SharedMemoryUnavailable(f"shm_open for '{name}' failed ({exc})") from exc
        else:
            raise SharedMemoryUnavailable("shm_open failed: ten random names already existed")
        self.name: Optional[str] = name
        try:
            os.ftruncate(fd, self.size_bytes)
            self._map: Optional[mmap.mmap] = mmap.mmap(fd, self.size_bytes)
        except OSError as exc:
            os.close(fd)
            _posixshmem.shm_unlink(name)
            self.name = None
            raise SharedMemoryUnavailable(f"mapping '{name}' failed ({exc})") from exc
        os.close(fd)
        self._array: Optional[np.ndarray] = np.frombuffer(self._map, dtype=np.float32,
                                                          count=self.elements)

    def read(self, count: int) -> np.ndarray:
        """A copy of the first ``count`` values (the client may write the next window while
        this one is classified)."""
        if self._array is None:
            raise SharedMemoryUnavailable("the segment is closed")
        return self._array[:count].copy()

    def close(self) -> None:
        """Unmap and unlink (idempotent). The name goes at once; the memory when the client
        unmaps it too."""
        self._array = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:      # a view still exported somewhere: the unlink matters
                pass
            self._map = None
        if self.name is not None:
            name, self.name = self.name, None
            try:
                _posixshmem.shm_unlink(name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not unlink shared memory %s: %s", name, exc)

    def describe(self) -> dict:
        """The hello response's ``features_shm`` object."""
        return {"name": self.name, "size_bytes": self.size_bytes, "type": "float32",
                "elements": self.elements}


__all__ = ["FeatureSegment", "SharedMemoryUnavailable"]

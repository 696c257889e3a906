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

Names are ``/edgert-eim-<pid>-<random>``. A runner killed with SIGKILL cannot unlink its
segment; the next runner to create one removes the segments whose pid is no longer a process
(:func:`remove_stale_segments`), so such leftovers do not pile up.
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


SHM_DIR = "/dev/shm"


def remove_stale_segments(prefix: str = "edgert-eim") -> list[str]:
    """Unlink the segments of runners that no longer exist (``/{prefix}-{pid}-...`` whose pid
    is not a live process: left by a runner killed with SIGKILL, which cannot clean up).
    Linux keeps POSIX shared memory in /dev/shm; elsewhere this does nothing."""
    removed: list[str] = []
    if _posixshmem is None or not os.path.isdir(SHM_DIR):
        return removed
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix + "-"):
            continue
        pid_text = name[len(prefix) + 1:].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            _posixshmem.shm_unlink("/" + name)
            removed.append(name)
            log.info("removed shared memory %s of a runner that no longer exists", name)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # someone else's process: alive
        return True
    return True


class FeatureSegment:
    """``elements`` float32 values in a new POSIX shared-memory segment."""

    def __init__(self, elements: int, prefix: str = "edgert-eim"):
        if _posixshmem is None:
            raise SharedMemoryUnavailable("POSIX shared memory is not available in this Python")
        self.elements = int(elements)
        self.size_bytes = self.elements * 4
        remove_stale_segments(prefix)
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


__all__ = ["FeatureSegment", "SharedMemoryUnavailable", "remove_stale_segments"]

"""Decoding a dataset's sample files into :class:`~edgert.recording.Recording` objects, and
keeping the ones decoded while indexing for the classification that usually follows (so a
fresh classify-all decodes every file once)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Optional, Tuple

from ..errors import DatasetError, EdgertError
from ..recording import Recording, read_recording

__all__ = ["SAMPLE_SUFFIXES", "DECODED_CACHE_BYTES", "Reader", "default_reader",
           "DecodedSamples"]

SAMPLE_SUFFIXES = (".json", ".cbor", ".csv", ".wav")
#: Decoded samples kept by :meth:`edgert.dataset.Dataset.refresh` for the classification that
#: usually follows; each is handed out once by :meth:`~edgert.dataset.Dataset.load`, the oldest
#: dropped past this many bytes of values, all on close().
DECODED_CACHE_BYTES = 32 * 1024 * 1024

#: A sample file decoder: (path, file bytes, HMAC key or None) -> Recording.
Reader = Callable[[Path, bytes, Optional[bytes]], Recording]


def default_reader(path: Path, data: bytes, hmac_key: Optional[bytes]) -> Recording:
    """Decode one sample file with edgert's own readers (:func:`edgert.recording.read_recording`:
    data-acquisition JSON/CBOR told apart by content, CSV and WAV by suffix). Errors are
    :class:`DatasetError` without the file name (the index prefixes the sample's path)."""
    suffix = path.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise DatasetError(f"unsupported file type {suffix!r}; use "
                           f"{', '.join(SAMPLE_SUFFIXES)}")
    try:
        return read_recording(data, path.name, hmac_key)
    except EdgertError as exc:
        raise DatasetError(str(exc).removeprefix(f"{path.name}: ")) from None


class DecodedSamples:
    """Recordings decoded while indexing, by (relative path, SHA-256), at most ``max_bytes``
    of values (oldest dropped first); :meth:`take` hands each out once. Thread-safe."""

    def __init__(self, max_bytes: int = DECODED_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: "OrderedDict[Tuple[str, str], Recording]" = OrderedDict()
        self._bytes = 0

    def keep(self, rel: str, sha256: str, sample: Recording) -> None:
        size = int(getattr(sample.values, "nbytes", 0))
        if not 0 < size <= self.max_bytes:
            return
        with self._lock:
            old = self._items.pop((rel, sha256), None)
            if old is not None:
                self._bytes -= int(old.values.nbytes)
            self._items[(rel, sha256)] = sample
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, gone = self._items.popitem(last=False)
                self._bytes -= int(gone.values.nbytes)

    def take(self, rel: str, sha256: str) -> Optional[Recording]:
        with self._lock:
            kept = self._items.pop((rel, sha256), None)
            if kept is not None:
                self._bytes -= int(kept.values.nbytes)
        return kept

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

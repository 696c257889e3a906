"""Storing an uploaded sample in a dataset folder the way Edge Impulse's ingestion API does
(:meth:`edgert.dataset.Dataset.add_sample`, what a gateway's ingestion endpoint needs): the
``x-file-name`` reduced to a safe file name, ``.1``, ``.2``... for names already used, the
label in ``info.labels``, metadata in the sidecar, nothing written for a malformed document.
"""
from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from ..errors import DatasetError
from .decoding import SAMPLE_SUFFIXES
from .filters import CATEGORIES, format_date
from .manifest import SIDECAR_SUFFIX, set_manifest_label, string_metadata

__all__ = ["MAX_NAME_BYTES", "upload_file_name", "store_upload"]

#: Longest stored file name in UTF-8 bytes: file systems allow 255, and a name may still get a
#: ``.NNN`` duplicate suffix, a ``.metadata.json`` sidecar and a ``.tmp`` prefix.
MAX_NAME_BYTES = 200


def upload_file_name(filename: Any, data: bytes) -> str:
    """The file name an upload is stored under: ``filename`` (``x-file-name``) reduced to its
    last path component, with a ``.json``/``.cbor`` extension from the content when it has none
    of the sample extensions. DatasetError for names no file system takes: empty, hidden
    (leading '.'), with control characters (NUL, newline, ...) or longer than
    :data:`MAX_NAME_BYTES` bytes."""
    if not isinstance(filename, str):
        raise DatasetError(f"file name {filename!r}: must be text")
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name or name.startswith("."):
        raise DatasetError(f"file name {filename!r}: give a name that does not start "
                           "with '.'")
    bad = sorted({c for c in name if unicodedata.category(c) in ("Cc", "Cs")})
    if bad:
        raise DatasetError(f"file name {filename!r}: holds control characters "
                           f"({', '.join(repr(c) for c in bad)}); give a printable name")
    if not name.lower().endswith(SAMPLE_SUFFIXES):
        name += ".json" if bytes(data[:1]) in (b"{", b" ", b"\n") else ".cbor"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise DatasetError(f"file name {filename[:40]!r}...: {size} bytes long; give a name "
                           f"of at most {MAX_NAME_BYTES} bytes")
    return name


def store_upload(dataset: Any, data: bytes, *, filename: str, category: str,
                 label: Optional[str], no_label: bool, metadata: Optional[Dict[str, Any]],
                 disallow_duplicates: bool) -> Any:
    """What :meth:`edgert.dataset.Dataset.add_sample` does (see there); returns the new
    :class:`~edgert.dataset.SampleRow`."""
    if category not in CATEGORIES:
        raise DatasetError(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    name = upload_file_name(filename, data)
    sha = hashlib.sha256(data).hexdigest()
    if disallow_duplicates:
        dup = dataset.find_content(sha)
        if dup is not None:
            raise DatasetError(f"the same content is already stored as {dup.path}")
    sample = dataset.reader(Path(name), bytes(data), dataset.hmac_key)   # raises when malformed
    if metadata:
        meta_text = json.dumps(string_metadata(metadata, "metadata")) + "\n"
    folder = dataset.root / category
    base = Path(name)
    stem, suffix = name[: -len(base.suffix)], base.suffix
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with dataset.lock:
            target = folder / name
            n = 0
            while target.exists() or (target.with_name(target.name + SIDECAR_SUFFIX)).exists():
                n += 1
                target = folder / f"{stem}.{n}{suffix}"
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(bytes(data))
            os.replace(tmp, target)
            rel = target.relative_to(dataset.root).as_posix()
            if metadata:
                target.with_name(target.name + SIDECAR_SUFFIX).write_text(meta_text,
                                                                         encoding="utf-8")
            if label is not None or no_label:
                set_manifest_label(dataset.root, rel, {"type": "unlabeled"} if no_label
                                   else {"type": "label", "label": str(label)})
            # indexed from the decode above: the stored name differs from ``name`` at most
            # by a ``.N`` before the extension, which changes neither the format nor the label
            return dataset.index_new_file(target, rel, format_date(datetime.now(timezone.utc)),
                                          sample)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot store {name!r} ({exc.strerror or exc})") \
            from None

"""How a dataset's samples are labelled: the ``info.labels`` manifest (Edge Impulse's export
format), the ``<file>.metadata.json`` sidecars and the category/label rules of the dataset
layout (see :mod:`edgert.dataset.index`). Everything here lives outside the recording files,
so the index re-applies it on every refresh.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..acquisition.labels import infer_label
from ..errors import DatasetError
from .filters import CATEGORIES

__all__ = ["MANIFEST_NAME", "SIDECAR_SUFFIX", "DEFAULT_CATEGORY", "read_manifest",
           "labelling", "set_manifest_label", "string_metadata", "atomic_text"]

MANIFEST_NAME = "info.labels"
SIDECAR_SUFFIX = ".metadata.json"
DEFAULT_CATEGORY = "training"


def atomic_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (readers never see a
    half-written file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def manifest_label(entry: Dict[str, Any]) -> Tuple[bool, Optional[str]]:
    """(has_label_info, label) of a manifest entry."""
    if "label" not in entry:
        return False, None
    lab = entry["label"]
    if lab is None or isinstance(lab, str):
        return True, lab
    if isinstance(lab, dict):
        if lab.get("type") == "unlabeled":
            return True, None
        if "label" in lab:
            return True, str(lab["label"])
    raise DatasetError(f"{MANIFEST_NAME}: label of {entry.get('path')!r} must be a string or "
                       "{\"type\": \"label\", \"label\": ...}")


def string_metadata(obj: Any, where: str) -> Dict[str, str]:
    """Studio's metadata (string keys, string values) from a JSON object; non-string values
    are kept as their JSON text."""
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: metadata must be a JSON object of key -> value")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}


def read_manifest(root: Path) -> Dict[str, Dict[str, Any]]:
    """The manifest's entries by relative path ({} without a manifest)."""
    path = root / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable JSON manifest ({exc}); fix or remove "
                           "it") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        raise DatasetError(f"{path}: expected {{\"version\": 1, \"files\": [...]}}")
    out = {}
    for entry in files:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            out[Path(entry["path"]).as_posix().lstrip("./")] = entry
    return out


def labelling(rel: str, path: Path, manifest: Dict[str, Dict[str, Any]],
              recording_label: Optional[str]) -> Tuple[str, Optional[str],
                                                       Optional[Dict[str, str]]]:
    """(category, label, metadata) of the sample at ``rel`` (``path`` on disk): the manifest
    entry, else the first folder / the recording's own label / the file name; metadata from
    the manifest updated by the sidecar."""
    entry = manifest.get(rel, {})
    category = entry.get("category")
    if category is None:
        first = rel.split("/", 1)[0] if "/" in rel else ""
        category = first.lower() if first.lower() in CATEGORIES else DEFAULT_CATEGORY
    elif category not in CATEGORIES:
        raise DatasetError(f"{MANIFEST_NAME}: category {category!r} of {rel!r} is not one "
                           f"of {', '.join(CATEGORIES)}")
    has_label, label = manifest_label(entry)
    if not has_label:
        label = recording_label if recording_label else infer_label(path.name)
    meta: Dict[str, str] = {}
    if "metadata" in entry and entry["metadata"] is not None:
        meta.update(string_metadata(entry["metadata"], f"{MANIFEST_NAME} ({rel})"))
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    if side.exists():
        try:
            meta.update(string_metadata(json.loads(side.read_text(encoding="utf-8")),
                                        str(side)))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{side}: not a JSON object ({exc})") from None
    return category, label, (meta or None)


def set_manifest_label(root: Path, rel: str, label: Dict[str, Any]) -> None:
    """Record ``label`` for ``rel`` in the manifest (created when missing), atomically."""
    path = root / MANIFEST_NAME
    doc: Dict[str, Any] = {"version": 1, "files": []}
    if path.exists():
        doc = json.loads(path.read_text(encoding="utf-8"))
    files = [f for f in doc.get("files", []) if f.get("path") != rel]
    files.append({"path": rel, "label": label})
    doc["files"] = files
    atomic_text(path, json.dumps(doc, indent=1) + "\n")

"""Finding an Edge Impulse export in what the user points at, and reading its files safely.

SOURCE may be the export folder itself (it holds ``model-parameters/``), a ``.zip`` of one
(Studio's "C++ library" / "Arduino library" download), or a repository folder that contains
one anywhere below it (``src/``, ``lib/<name>/src/``, ...). Only the files of
``model-parameters/`` and ``tflite-model/`` are read: they are the impulse's data; the SDK
and application code beside them are never opened.

Every read is bounded: a file larger than :data:`MAX_FILE_BYTES` is refused from its size
before it is read (a 2 GB file costs nothing), the export's files together may not exceed
:data:`MAX_TOTAL_BYTES`, zip members are read with a byte cap (a member whose declared size
lies is caught), and zip member names that are absolute or climb out with ``..`` are refused.
"""
from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Optional

from ..errors import EdgertError

MAX_FILE_BYTES = 64 << 20
MAX_TOTAL_BYTES = 256 << 20
MAX_ZIP_MEMBERS = 200_000
MAX_SEARCH_ENTRIES = 200_000   # directory entries looked at while searching a repository
MARKER = "model-parameters/model_metadata.h"
EXPORT_DIRS = ("model-parameters", "tflite-model")
DATA_SUFFIXES = (".h", ".hpp", ".c", ".cc", ".cpp")


class ExportError(EdgertError, ValueError):
    """The source cannot be imported: no export found, unsafe or oversized files, an
    unsupported impulse. The message says what and what to do."""


@dataclass
class ExportFiles:
    """The data files of one export: relative path (``model-parameters/x.h``) -> text."""
    source: str                    # what the user gave
    location: str                  # where the export root is (a folder, or zip!member prefix)
    files: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def _decode(data: bytes, where: str) -> str:
    if b"\0" in data[:65536]:
        raise ExportError(f"{where}: a binary file where a C header was expected")
    return data.decode("utf-8", errors="replace")


def _wanted(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return len(parts) == 2 and parts[0] in EXPORT_DIRS and parts[1].endswith(DATA_SUFFIXES)


def find_export(source: str) -> ExportFiles:
    """Locate the export in ``source`` and read its data files."""
    path = Path(source)
    if not path.exists():
        raise ExportError(f"{source}: no such file or folder (give an Edge Impulse export "
                           "folder, a .zip of one, or a repository that contains one)")
    if path.is_dir():
        return _from_dir(path, source)
    if zipfile.is_zipfile(path):
        return _from_zip(path, source)
    raise ExportError(f"{source}: not a folder nor a .zip; give the folder that holds "
                       "model-parameters/ (or a .zip of it, or a repository containing it)")


def _from_dir(root: Path, source: str) -> ExportFiles:
    if (root / MARKER).is_file():
        found = [root]
    else:
        found = []
        seen = 0
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            seen += len(dirnames) + len(filenames)
            if seen > MAX_SEARCH_ENTRIES:
                raise ExportError(f"{source}: more than {MAX_SEARCH_ENTRIES} files searched "
                                   "without finding one export; point at the export folder "
                                   "(the one that holds model-parameters/)")
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and
                                 d not in ("node_modules", "edge-impulse-sdk", "build"))
            if "model-parameters" in dirnames and \
                    os.path.isfile(os.path.join(dirpath, MARKER)):
                found.append(Path(dirpath))
                dirnames.remove("model-parameters")
    if not found:
        raise ExportError(f"{source}: no Edge Impulse export found (no "
                           f"{MARKER}); point at the deployment's C++/Arduino library folder "
                           "or a .zip of it")
    if len(found) > 1:
        names = ", ".join(str(f.relative_to(root)) or "." for f in found[:8])
        raise ExportError(f"{source}: {len(found)} exports found ({names}); point at the one "
                           "to import")
    exp = found[0]
    out = ExportFiles(source, str(exp))
    total = 0
    for d in EXPORT_DIRS:
        folder = exp / d
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            rel = f"{d}/{entry.name}"
            if not _wanted(rel):
                continue
            st = entry.lstat()
            if stat.S_ISLNK(st.st_mode):
                raise ExportError(f"{entry}: a symbolic link; copy the file itself into the "
                                   "export")
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_size > MAX_FILE_BYTES:
                raise ExportError(f"{entry}: {st.st_size} bytes, more than the "
                                   f"{MAX_FILE_BYTES >> 20} MiB a header of an export may have")
            total += st.st_size
            if total > MAX_TOTAL_BYTES:
                raise ExportError(f"{exp}: the export's files exceed "
                                   f"{MAX_TOTAL_BYTES >> 20} MiB")
            with open(entry, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:   # grew while we read it
                raise ExportError(f"{entry}: more than {MAX_FILE_BYTES >> 20} MiB")
            out.files[rel] = _decode(data, str(entry))
            out.sizes[rel] = len(data)
    return out


def _from_zip(path: Path, source: str) -> ExportFiles:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportError(f"{source}: not a readable .zip ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise ExportError(f"{source}: more than {MAX_ZIP_MEMBERS} members")
        for info in infos:
            name = info.filename.replace("\\", "/")
            p = PurePosixPath(name)
            if p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":"):
                raise ExportError(f"{source}: member {info.filename!r} has an absolute path "
                                   "or climbs out with '..'; refusing the whole archive")
        roots = sorted({info.filename[:-len(MARKER)] for info in infos
                        if info.filename == MARKER or info.filename.endswith("/" + MARKER)},
                       key=lambda r: (r.count("/"), r))
        roots = [r for r in roots if "edge-impulse-sdk/" not in r]
        if not roots:
            raise ExportError(f"{source}: the zip holds no {MARKER}; download the C++ "
                               "library (or Arduino library) deployment of the impulse")
        if len(roots) > 1:
            raise ExportError(f"{source}: the zip holds {len(roots)} exports "
                               f"({', '.join(r or '.' for r in roots[:8])}); unpack it and "
                               "point at one")
        prefix = roots[0]
        out = ExportFiles(source, f"{source}!{prefix}")
        total = 0
        for info in infos:
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix):]
            if not _wanted(rel):
                continue
            if info.file_size > MAX_FILE_BYTES:
                raise ExportError(f"{source}: member {info.filename} declares {info.file_size} "
                                   f"bytes, more than {MAX_FILE_BYTES >> 20} MiB")
            try:
                with zf.open(info) as fh:
                    data = fh.read(MAX_FILE_BYTES + 1)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError,
                    NotImplementedError) as exc:
                raise ExportError(f"{source}: cannot read member {info.filename} "
                                   f"({exc})") from exc
            if len(data) > MAX_FILE_BYTES:
                raise ExportError(f"{source}: member {info.filename} inflates past "
                                   f"{MAX_FILE_BYTES >> 20} MiB")
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise ExportError(f"{source}: the export's files exceed "
                                   f"{MAX_TOTAL_BYTES >> 20} MiB")
            out.files[rel] = _decode(data, f"{source}!{info.filename}")
            out.sizes[rel] = len(data)
    return out


def header_order(files: dict[str, str]) -> list[str]:
    """The order to parse files in: metadata first (its macros are used by the others)."""
    def key(rel: str) -> tuple:
        name = PurePosixPath(rel).name
        first = ["model_metadata.h", "anomaly_types.h", "anomaly_clusters.h",
                 "anomaly_metadata.h", "dsp_blocks.h", "model_variables.h"]
        return (0 if rel.startswith("model-parameters/") else 1,
                first.index(name) if name in first else len(first), rel)
    return sorted(files, key=key)


def exclusive_open(path: Path, force: bool) -> Optional[str]:
    """None when ``path`` may be written; else the reason it may not."""
    if path.exists() and not force:
        return f"{path} exists; pass --force to replace it"
    return None

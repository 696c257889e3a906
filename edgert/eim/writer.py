"""Writing a ``.eim`` file: one executable that serves Edge Impulse's runner protocol for an
impulse bundle (``edgert eim BUNDLE -o model.eim``).

Layout: a ``/bin/sh`` launcher script, then a zip archive holding

- ``__main__.py`` and ``edgert_eim_lifecycle.py``: :mod:`edgert.eim.launcher` and
  :mod:`edgert.eim.lifecycle`, verbatim (standard library only: they run when edgert cannot);
- ``eim.json``: the settings (format ``edgert-eim/1``, the interpreter, the directory edgert
  was imported from, edgert's version, model variant, engine backend, continuous-mode slices
  and moving average, sensor);
- ``bundle/``: the bundle's ``impulse.json``, model files and anomaly metadata.

Why this shape:

- *one file that carries its bundle*: an ``.eim`` is copied, downloaded and started as one
  file by the applications that use it; a bundle beside it could go missing or drift from it.
  Python runs a zip archive with a prefix (what ``zipapp`` does), and
  :func:`edgert.runtime.bundle.load_bundle` reads the bundle straight from the same file.
- *a shell launcher rather than a ``#!`` line naming Python*: ``/bin/sh`` is on every Linux
  system, a ``#!`` line is cut at 127 bytes on older kernels (venv paths get long), and when the
  interpreter is gone the kernel's answer is a bare ENOENT (Python's ``subprocess`` then reports
  the *.eim* as missing). The launcher checks the interpreter first and says what is wrong.
- *bound to the interpreter that ran* ``edgert eim`` (``sys.executable``, symlinks kept, so a
  virtualenv's ``bin/python`` stays that virtualenv), run with ``-I`` (no ``PYTHONPATH``, no
  user site: the environment of the application that starts the runner cannot swap edgert or
  numpy underneath it), and to the edgert it imported then: its directory goes on ``sys.path``
  before site-packages when it still holds edgert, else the interpreter's own edgert is used (a
  version difference is logged). Made from a source checkout, the runner uses that checkout.

The writer loads the bundle fully (every model parsed), writes the file atomically (a
temporary file renamed into place, mode 0755) and, unless told not to, runs the new file with
``--print-info`` to prove that it starts.
"""
from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from .._version import __version__
from ..errors import ConfigurationError, EdgertError
from ..runtime.impulse import Impulse
from . import launcher, lifecycle
from .model import DEFAULT_SLICES_PER_WINDOW, EimModel

BUNDLE_DIR = "bundle/"
#: fixed member timestamps: the same inputs give the same file
ZIP_DATE = (2020, 1, 1, 0, 0, 0)

LAUNCHER = """\
#!/bin/sh
# Edge Impulse Linux runner (.eim) made by edgert {version}: {title}
#   {{this file}} SOCKET_PATH    serve the runner protocol on a Unix socket
#   {{this file}} --print-info   print the model description (the hello response)
# A shell launcher followed by a zip archive (the impulse bundle and the runner's entry point:
# `unzip -l` lists it), run by the Python interpreter below with the edgert it can import.
EDGERT_PYTHON={python}
if [ ! -x "$EDGERT_PYTHON" ]; then
    echo "${{0##*/}}: ERROR: the Python interpreter this runner was made for is gone:" \\
         "$EDGERT_PYTHON. Make the runner again with 'edgert eim BUNDLE -o ${{0##*/}}'" \\
         "where edgert is installed." >&2
    exit 127
fi
exec "$EDGERT_PYTHON" -I "$0" "$@"
exit 127
"""


@dataclass(frozen=True)
class EimFile:
    """What :func:`write_eim` wrote."""
    path: Path
    size_bytes: int
    python: str
    edgert_path: str
    config: dict[str, Any]
    hello: dict[str, Any]


def edgert_root() -> str:
    """The directory this edgert package was imported from (the ``sys.path`` entry)."""
    return str(Path(__file__).resolve().parents[2])


def bundle_members(impulse: Impulse) -> dict[str, bytes]:
    """The files of the impulse's bundle, by name (``impulse.json``, models, anomaly
    metadata), as the loaded bundle holds them."""
    b = impulse.bundle
    files = {"impulse.json": json.dumps(b.document, indent=2).encode()}
    for spec in b.learn:
        for mf in spec.models.values():
            files[mf.name] = mf.data
        if spec.metadata_file and spec.metadata is not None:
            files[spec.metadata_file] = json.dumps(spec.metadata).encode()
    return files


def _title(impulse: Impulse) -> str:
    proj = impulse.bundle.project
    text = f"{proj.get('name', '')} (project {proj.get('id', '?')})"
    return "".join(c if c.isprintable() else " " for c in text)[:120]


def build_eim(impulse: Impulse, config: dict[str, Any], python: str) -> bytes:
    """The bytes of an ``.eim`` for a loaded impulse."""
    head = LAUNCHER.format(version=__version__, title=_title(impulse),
                           python=shlex.quote(python)).encode()
    out = io.BytesIO()
    out.write(head)       # the zip's offsets then count from the file's start (unzip-clean)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
        add("__main__.py", Path(launcher.__file__).read_bytes())
        add(launcher.LIFECYCLE_MEMBER, Path(lifecycle.__file__).read_bytes())
        add(launcher.CONFIG_MEMBER, json.dumps(config, indent=2).encode())
        for name, data in sorted(bundle_members(impulse).items()):
            add(BUNDLE_DIR + name, data)
    return out.getvalue()


def write_eim(bundle: Union[str, os.PathLike], output: Union[str, os.PathLike], *,
              python: Optional[str] = None, variant: Optional[str] = None,
              backend: str = "auto", slices_per_window: int = DEFAULT_SLICES_PER_WINDOW,
              average_over: Optional[int] = None, sensor: Optional[str] = None,
              shared_memory: bool = True, check: bool = True) -> EimFile:
    """Write an ``.eim`` for ``bundle`` at ``output`` (see the module docstring).

    ``python``: the interpreter it runs with (default: this one); ``variant``/``backend``: the
    model variant and engine backend; ``slices_per_window``/``average_over``: continuous mode;
    ``sensor``: the sensor reported in hello (default: guessed from the axes); ``check``: run
    the written file with ``--print-info``. Raises EdgertError subclasses on bad input.
    """
    impulse = Impulse.load(bundle, backend=backend)
    model = EimModel(impulse, variant=variant, slices_per_window=slices_per_window,
                     average_over=average_over, sensor=sensor)
    python = python or sys.executable
    if not python or not os.path.isabs(python):
        raise ConfigurationError(f"the runner's Python must be an absolute path, got "
                                 f"{python!r}")
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise ConfigurationError(f"{python} is not an executable file (--python)")
    root = edgert_root()
    config = {"format": launcher.FORMAT, "edgert_version": __version__, "edgert_path": root,
              "python": python, "bundle": BUNDLE_DIR, "variant": model.variant,
              "backend": backend, "slices_per_window": model.slices_per_window,
              "average_over": model.average_over, "sensor": model.sensor,
              "no_shared_memory": not shared_memory}
    data = build_eim(impulse, config, python)
    out = Path(output)
    if out.is_dir():
        raise ConfigurationError(f"{out} is a directory; give the file to write (-o model.eim)")
    parent = out.parent if str(out.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=parent)
    except OSError as exc:
        raise ConfigurationError(f"cannot write in {parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755)
        if check:
            _check(tmp, out.name)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    hello = model.hello()
    return EimFile(out, len(data), python, root, config, hello)


def _check(path: str, name: str) -> None:
    """Run the new file (at temporary ``path``, to be ``name``) with --print-info: it must
    start and describe the model."""
    try:
        proc = subprocess.run([path, "--print-info"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EimCheckError(f"the new runner did not start: {exc}") from None
    if proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip() or f"exit {proc.returncode}"
        why = why.replace(os.path.basename(path), name)
        raise EimCheckError(f"the new runner does not start: {why}")
    try:
        doc = json.loads(proc.stdout)
        ok = doc.get("success") is True and "model_parameters" in doc
    except ValueError:
        ok = False
    if not ok:
        raise EimCheckError("the new runner's --print-info output is not its hello document")


class EimCheckError(EdgertError, RuntimeError):
    """The written ``.eim`` does not start (its own message says why)."""


__all__ = ["write_eim", "build_eim", "bundle_members", "edgert_root", "EimFile",
           "EimCheckError"]

"""The entry point of a generated ``.eim`` file. Standard library only: the writer copies this
module verbatim into every ``.eim`` as its ``__main__.py`` (with :mod:`edgert.eim.lifecycle`
as ``edgert_eim_lifecycle.py``), and it runs before edgert is imported.

A ``.eim`` is a ``/bin/sh`` launcher followed by a zip archive (see :mod:`edgert.eim.writer`).
The launcher checks that the Python interpreter the file was made with still exists (else it
prints why and exits 127), then runs ``PYTHON -I model.eim ARGS``: Python runs the archive's
``__main__.py`` (this file), which reads the archive's ``eim.json``, puts the directory edgert
was imported from when the file was made on ``sys.path`` right after the archive (before
site-packages), and hands over to
:func:`edgert.eim.entry.run`. When edgert (or numpy, or anything it needs) cannot be imported,
or the runner cannot start, the reason is printed on stderr and, when a socket path was given,
the socket is still created and every request is answered with that reason as its error:
the official clients raise it instead of waiting forever for a socket that never appears.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import zipfile
from typing import Any

try:                                   # inside the edgert package
    from .lifecycle import STOP_SIGNALS, fail
except ImportError:                    # inside an .eim, where this file is __main__.py
    from edgert_eim_lifecycle import STOP_SIGNALS, fail  # type: ignore[no-redef]

CONFIG_MEMBER = "eim.json"
LIFECYCLE_MEMBER = "edgert_eim_lifecycle.py"
FORMAT = "edgert-eim/1"

USAGE = """\
usage: {name} SOCKET_PATH     serve the Edge Impulse runner protocol on a Unix socket
       {name} --print-info    print the model description (the hello response) as JSON
       {name} stdin           read requests on stdin, write responses to stdout
"""


def read_config(archive: str) -> dict[str, Any]:
    """The archive's ``eim.json`` (the settings the file was made with)."""
    with zipfile.ZipFile(archive) as z:
        doc = json.loads(z.read(CONFIG_MEMBER))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{CONFIG_MEMBER} is not an {FORMAT} document")
    return doc


def main() -> int:
    # until the runner has something to clean up, a stop signal just ends the process
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_DFL)
    archive = os.path.abspath(sys.argv[0])
    name = os.path.basename(sys.argv[0]) or "model.eim"
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        sys.stderr.write(USAGE.format(name=name))
        return 0 if argv else 1
    try:
        config = read_config(archive)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        return fail(name, f"{archive} is damaged: cannot read its {CONFIG_MEMBER} ({exc}); "
                          "make it again with `edgert eim BUNDLE -o FILE`", argv)
    where = config.get("edgert_path")
    if isinstance(where, str) and where not in sys.path and \
            os.path.isfile(os.path.join(where, "edgert", "__init__.py")):
        # right after the archive itself: before site-packages (this edgert, not another
        # one installed there), never in front of the archive
        sys.path.insert(1, where)
    try:
        from edgert.eim.entry import run
    except Exception as exc:     # ImportError, or anything a broken installation raises
        return fail(name, f"edgert cannot be imported by {sys.executable} "
                          f"({type(exc).__name__}: {exc}). This runner was made with edgert "
                          f"{config.get('edgert_version', '?')} from {where}; install edgert "
                          "for this interpreter (pip install edgert), or make the runner again "
                          f"with `edgert eim BUNDLE -o {name}` where edgert is installed", argv)
    return run(archive, config, argv, name)


if __name__ == "__main__":
    sys.exit(main())

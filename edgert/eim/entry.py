"""What a ``.eim`` file runs once edgert is imported (called by its ``__main__.py``,
:mod:`edgert.eim.launcher`): load the bundle inside the file with the settings it was made
with, then serve a socket, print the hello document, or serve stdin."""
from __future__ import annotations

import logging
import sys
from typing import Any

from .._version import __version__
from ..errors import EdgertError
from .lifecycle import fail
from .model import DEFAULT_SLICES_PER_WINDOW, EimModel

log = logging.getLogger("edgert.eim")


def load_model(archive: str, config: dict[str, Any]) -> EimModel:
    """The impulse in ``archive`` (its ``bundle/`` directory) with the settings of
    ``config`` (the archive's ``eim.json``)."""
    from ..runtime.impulse import Impulse
    impulse = Impulse.load(archive, backend=config.get("backend", "auto"))
    return EimModel(impulse, variant=config.get("variant"),
                    slices_per_window=int(config.get("slices_per_window",
                                                     DEFAULT_SLICES_PER_WINDOW)),
                    average_over=config.get("average_over"), sensor=config.get("sensor"))


def run(archive: str, config: dict[str, Any], argv: list[str], name: str = "model.eim") -> int:
    """Run the ``.eim`` at ``archive`` (settings ``config``) as ``argv`` asks; the exit
    status. A bundle that does not load is reported as :func:`~.lifecycle.fail` does."""
    from .server import configure_logging, print_info, serve, serve_stream
    configure_logging(name)
    made_with = config.get("edgert_version")
    if made_with and made_with != __version__:
        log.warning("this runner was made with edgert %s and runs with edgert %s", made_with,
                    __version__)
    try:
        model = load_model(archive, config)
    except EdgertError as exc:
        return fail(name, f"cannot load the impulse inside {archive}: {exc}", argv)
    except Exception as exc:     # a damaged archive or eim.json: still a message, no traceback
        return fail(name, f"cannot load the impulse inside {archive}: "
                          f"{type(exc).__name__}: {exc}", argv)
    mode = argv[0]
    if mode == "--print-info":
        return print_info(model)
    if mode == "stdin":
        return serve_stream(model, sys.stdin, sys.stdout.buffer)
    if mode.startswith("-"):
        sys.stderr.write(f"{name}: ERROR: unknown option {mode} (expected SOCKET_PATH, "
                         "--print-info or stdin)\n")
        return 2
    return serve(model, mode, shared_memory=not config.get("no_shared_memory", False))


__all__ = ["run", "load_model"]

"""Where the C sources an export copies come from.

An installed edgert carries them as package data, ``edgert/_csrc/`` (the core's ``*.c`` and
``*.h`` and the bare-metal harness in ``mcu/``), copied there from ``csrc/`` when the wheel is
built (setup.py's build_py); a source checkout or an editable install uses ``csrc/`` itself.
Either way the files are the ones the Python extension was compiled from.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigurationError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: the harness files an export copies into DIR/harness/
HARNESS_FILES = ("mcu.mk", "export.mk", "mps2_an386.ld", "startup.c", "board.c", "board.h",
                 "board_host.c", "soft_double.c", "harness_main.c", "size_main.c")
#: the host tool export-c compiles to size the float32 build's scratch (not copied)
SCRATCH_TOOL = "scratch_main.c"


def c_sources_root() -> Path:
    """The directory holding ``edgert.h``, the core's ``*.c`` and ``mcu/`` (see the module
    docstring); ConfigurationError when this edgert has neither."""
    for root in (PACKAGE_DIR / "_csrc", PACKAGE_DIR.parent / "csrc"):
        if (root / "edgert.h").is_file() and (root / "mcu" / "export.mk").is_file():
            return root
    raise ConfigurationError(
        "this edgert installation carries no C sources (edgert/_csrc/ is missing): reinstall "
        "edgert from a wheel or sdist built with its setup.py, or run from a source checkout")


def core_files(root: Path) -> list[Path]:
    """The C core: every ``*.c`` and ``*.h`` at the top of ``root`` (what the Python extension
    is built from; the linker keeps only what the impulse calls)."""
    return sorted(p for p in root.iterdir() if p.suffix in (".c", ".h") and p.is_file())


__all__ = ["c_sources_root", "core_files", "HARNESS_FILES", "SCRATCH_TOOL"]

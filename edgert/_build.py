"""cffi build script for ``edgert._native`` (out-of-line API mode).

The cdef is the block of ``csrc/edgert.h`` between the ``EDGERT_CDEF_BEGIN``/``_END``
markers, so the public C header and the Python binding can never disagree. The version of
the Python package is compiled into the library; ``edgert._ffi`` checks it at import.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
HEADER = CSRC / "edgert.h"


def read_version() -> str:
    text = (ROOT / "edgert" / "_version.py").read_text()
    m = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if not m:
        raise RuntimeError("edgert/_version.py has no __version__")
    return m.group(1)


def cdef_text() -> str:
    """The declarations between the CDEF markers, with preprocessor lines other than
    integer #defines removed (cffi's parser accepts only those)."""
    text = HEADER.read_text()
    m = re.search(r"/\* EDGERT_CDEF_BEGIN \*/(.*)/\* EDGERT_CDEF_END \*/", text, re.S)
    if not m:
        raise RuntimeError(f"{HEADER}: missing EDGERT_CDEF_BEGIN/END markers")
    lines = []
    for line in m.group(1).splitlines():
        s = line.strip()
        if s.startswith("#"):
            if not re.match(r"#define\s+\w+\s+-?(0x[0-9a-fA-F]+|\d+)[uUlL]*\s*(/\*.*\*/)?$", s):
                continue
        lines.append(line)
    return "\n".join(lines)


def c_sources() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.c"))


VERSION = read_version()
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-fno-strict-aliasing"]
if os.environ.get("EDGERT_NATIVE_ARCH") == "1":
    CFLAGS.append("-march=native")
if sys.platform == "win32":  # MSVC understands none of the GNU flags
    CFLAGS = ["/O2"]

ffibuilder = FFI()
ffibuilder.cdef(cdef_text())
ffibuilder.set_source(
    "edgert._native",
    '#include "edgert.h"\n',
    sources=c_sources(),
    include_dirs=[str(CSRC.relative_to(ROOT))],
    define_macros=[("EDGERT_VERSION_STRING", f'"{VERSION}"')],
    extra_compile_args=CFLAGS,
    libraries=["m"] if sys.platform != "win32" else [],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

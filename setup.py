"""Build shim: PEP 621 metadata lives in pyproject.toml; this file wires the cffi out-of-line
API-mode extension (``edgert._native``) built from ``csrc/``, and puts the C sources into the
package as ``edgert/_csrc/`` (``edgert export-c`` copies the core and the bare-metal harness
from there: an installed edgert can export an impulse as C without a source checkout)."""
from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

CSRC = Path(__file__).resolve().parent / "csrc"


def c_source_files() -> list[Path]:
    """What edgert/mcu/sources.py expects in edgert/_csrc: the core's *.c and *.h, and the
    harness directory mcu/ (relative paths)."""
    top = [p for p in CSRC.iterdir() if p.is_file() and p.suffix in (".c", ".h")]
    mcu = [p for p in (CSRC / "mcu").iterdir() if p.is_file()]
    return sorted(p.relative_to(CSRC) for p in top + mcu)


class BuildPyWithCSources(build_py):
    """build_py that also copies the C sources into the built package (edgert/_csrc)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return    # an editable install reads csrc/ of the checkout itself
        dest = Path(self.build_lib) / "edgert" / "_csrc"
        for rel in c_source_files():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CSRC / rel, dest / rel)


setup(cffi_modules=["edgert/_build.py:ffibuilder"],
      cmdclass={"build_py": BuildPyWithCSources})

"""``edgert export-c BUNDLE -o DIR``: an impulse as plain C for a microcontroller.

Why: the device must run what the host tested. The export is the ONE impulse plan the host
runs (edgert/runtime/impulse_plan.py), serialised by
:func:`edgert.runtime.impulse_export.impulse_plan_sources` - DSP configuration, networks as
engine plans (weights, quantization, op list, arena offsets), anomaly clusters, thresholds,
labels - as ``const`` data, with one entry point, ``NAME_classify`` (the plan's
``edgert_impulse_run_window``). Next to it: the C core it runs on (the same sources as the
Python extension), a configuration leaving out what the impulse does not use, and a bare-metal
harness for QEMU's mps2-an386 (Cortex-M4 with FPU) with a Makefile (``make run INPUT=FILE``,
``make size``; harness/export.mk).

The working memory is one scratch buffer whose size the header gives at compile time
(``NAME_SCRATCH_BYTES``): the query of the microcontroller build (float32 DSP, the impulse's
configuration), answered by compiling that build for this machine with the host C compiler at
export time - the size depends on the DSP's precision and the configuration, not the CPU.
Without a host compiler the header gets the host build's figure, an upper bound (its DSP works
in double), and the export says so.

Layout of DIR::

    Makefile, README.md
    impulse/NAME.c, NAME.h        the plan as const data + the entry point; sizes
    impulse/impulse_config.h      EDGERT_WITH_* of csrc/edgert_config.h for this impulse
    impulse/impulse_glue.h        the names the harness programs use
    impulse/export.json           what was exported (sizes, labels, settings), for machines
    edgert/                       the C core (edgert.h is its API)
    harness/                      startup, linker script, semihosting, the harness programs
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .._version import __version__
from ..errors import ConfigurationError, EdgertError
from ..runtime.continuous import AUDIO_BLOCK_TYPES
from ..runtime.impulse_export import exported_networks, impulse_plan_sources
from .config import config_header, config_settings
from .readme import readme_text
from .sources import HARNESS_FILES, SCRATCH_TOOL, c_sources_root, core_files

log = logging.getLogger("edgert.mcu")

#: names an export's C prefix may not take (the harness's own macro prefix; the core's)
RESERVED_NAMES = ("impulse",)
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch "
    "typedef union unsigned void volatile while".split())
#: core sources the scratch-sizing program does not compile: nothing an exported plan calls
#: is in them (audio impulses are not exported, below; compiling audio.c would only cost time)
SIZING_SKIP = ("audio.c",)
#: what export-c writes into DIR (a re-export replaces exactly these)
OWNED = ("Makefile", "README.md", "impulse", "edgert", "harness", "build")


class ExportError(EdgertError, ValueError):
    """The bundle cannot be exported as C (the message says why and what to do)."""


@dataclass
class ExportReport:
    """What :func:`export_c` wrote."""
    out_dir: Path
    name: str
    variant: Optional[str]
    labels: tuple[str, ...]
    has_anomaly: bool
    window_samples: int
    n_axes: int
    scratch_bytes: int              # the header's NAME_SCRATCH_BYTES (the device build's)
    scratch_host_bytes: int         # this host build's query (double-precision DSP)
    scratch_measured_by: str
    arena_bytes: int                # the largest network arena (inside the scratch)
    network_constants_bytes: int
    config: dict[str, int]
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["out_dir"] = str(self.out_dir)
        d["labels"] = list(self.labels)
        return d


def _reserved(name: str) -> bool:
    """The harness's or the C core's prefix, or a C keyword."""
    return name in RESERVED_NAMES or name in C_KEYWORDS or name.startswith("edgert")


def default_name(bundle: Union[str, Path]) -> str:
    """A C prefix from the bundle's file name: ``examples/motion-demo`` -> ``motion_demo``."""
    p = Path(bundle)
    stem = p.stem if p.suffix.lower() == ".zip" else p.name
    n = re.sub(r"[^0-9a-z_]", "_", stem.lower()).strip("_")
    n = re.sub(r"_+", "_", n)
    if not n or n[0].isdigit():
        n = "m_" + n
    if _reserved(n):
        n = n + "_model"
    return n


def check_name(name: str) -> str:
    """``name`` if it can prefix the export's C identifiers, else ExportError."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,31}", name or ""):
        raise ExportError(f"--name {name!r}: use lower-case letters, digits and underscores "
                          "(a C identifier of at most 32 characters, not starting with a digit)")
    if _reserved(name):
        raise ExportError(f"--name {name!r} is reserved (the harness's or the C core's "
                          "prefix, or a C keyword); choose another")
    return name


def _prepare_dir(out: Path) -> None:
    """Create ``out``, or empty what a previous export wrote there; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a directory; choose another -o")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "impulse" / "export.json").is_file():
            raise ExportError(f"{out} is not empty and is not an earlier edgert export; "
                              "choose an empty or new directory for -o")
        for entry in OWNED:
            p = out / entry
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _glue(name: str, plan: Any) -> str:
    """impulse_glue.h: the harness programs' names for this export's impulse."""
    n, N = name, name.upper()
    return "\n".join([
        "/* Generated by edgert export-c: the names the harness programs (harness_main.c, size_main.c)",
        " * use for this export's impulse. Firmware includes the impulse's own header. */",
        "#ifndef EDGERT_IMPULSE_GLUE_H", "#define EDGERT_IMPULSE_GLUE_H",
        f'#include "{n}.h"',
        f"#define IMPULSE_PLAN {n}_impulse",
        f"#define IMPULSE_LABELS {n}_labels",
        f"#define IMPULSE_CLASSIFY {n}_classify",
        f"#define IMPULSE_SCRATCH_WORDS {N}_SCRATCH_WORDS",
        f"#define IMPULSE_WINDOW_SAMPLES {N}_WINDOW_SAMPLES",
        f"#define IMPULSE_WINDOW_VALUES {N}_WINDOW_VALUES",
        f"#define IMPULSE_N_FEATURES {N}_N_FEATURES",
        f"#define IMPULSE_N_LABELS {N}_N_LABELS",
        f"#define IMPULSE_HAS_ANOMALY {N}_HAS_ANOMALY",
        f"#define IMPULSE_N_OUTPUTS {int(plan.n_outputs)}",
        "#endif", ""])


def _host_compiler() -> Optional[str]:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc.split()[0]):
            return cc
    return None


def _device_scratch(out: Path, name: str, root: Path) -> Optional[int]:
    """edgert_impulse_scratch_size(plan, 1) of the microcontroller build (float32 DSP, the
    impulse's configuration), compiled for this machine; None without a host compiler."""
    cc = _host_compiler()
    if cc is None:
        return None
    with tempfile.TemporaryDirectory(prefix="edgert-export-") as tmp:
        exe = Path(tmp) / "scratch_size"
        cmd = [*cc.split(), "-std=c99", "-O0", "-w", "-DEDGERT_DSP_FLOAT32",
               f'-DEDGERT_VERSION_STRING="{__version__}"',
               '-DEDGERT_CONFIG_FILE="impulse_config.h"',
               f"-I{out / 'edgert'}", f"-I{out / 'impulse'}", "-o", str(exe),
               str(root / "mcu" / SCRATCH_TOOL), str(out / "impulse" / f"{name}.c"),
               *[str(p) for p in sorted((out / "edgert").glob("*.c"))
                 if p.name not in SIZING_SKIP], "-lm"]
        log.info("sizing the device build's scratch: %s", " ".join(cmd[:6]) + " ...")
        try:
            built = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                                   stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("cannot run the host compiler %s (%s)", cc, exc)
            return None
        if built.returncode != 0:
            log.warning("the host compiler %s failed on the device build's sources: %s", cc,
                        (built.stderr or built.stdout).strip().splitlines()[-3:])
            return None
        ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
        if ran.returncode != 0:
            raise ExportError("the microcontroller build refuses the exported plan: "
                              f"{ran.stderr.strip()} (please report this)")
        return int(ran.stdout.strip())


def _load(bundle: Union[str, Path], variant: Optional[str]) -> tuple[Any, Any, Optional[str]]:
    """(impulse, its plan, variant): int8 by default when the bundle has it."""
    from ..runtime.impulse import Impulse
    from ..runtime.impulse_plan import PlanUnsupportedError
    imp = Impulse.load(bundle, backend="native")
    if variant is None and "int8" in imp.variants:
        variant = "int8"
    variant = imp.resolve_variant(variant)
    try:
        plan = imp.plan(variant)
    except PlanUnsupportedError as exc:
        raise ExportError(f"cannot export {bundle} as C: {exc}. export-c writes the compiled "
                          "impulse plan, which represents spectral-analysis, raw and flatten "
                          "DSP blocks, native-engine classifiers, K-means and GMM blocks") \
            from None
    audio = [f"{d.spec.id} ('{d.spec.type}')" for d in imp.dsp_blocks
             if d.spec.type in AUDIO_BLOCK_TYPES]
    if audio:
        # The host plan runs them (edgert_impulse_run); their microcontroller build (float32
        # FFT, double-precision normalisation in software on a Cortex-M4F) is not verified
        # against the host nor profiled yet. It would not fit either: tried with the refusal
        # lifted (2026-12-05), examples/kws-demo exports and compiles, but its 1 s window as
        # float32 (64,000 bytes) plus the plan's scratch (92,928 bytes) overflow the
        # DISCO-L475's 128 KB of RAM the harness's linker script holds it to. Fitting needs an
        # int16 window and the frame-by-frame audio API (edgert_audio_frame_rows/_finish).
        window_bytes = plan.window_samples * len(imp.axes) * 4
        raise ExportError(f"cannot export {bundle} as C: DSP block {', '.join(audio)} is an "
                          "audio block, which export-c does not write yet (its microcontroller "
                          "build is not verified against the host, and its float32 window "
                          f"alone takes {window_bytes:,} bytes of RAM); the host runs it "
                          "(edgert classify, stream, eim)")
    return imp, plan, variant


def export_c(bundle: Union[str, Path], out_dir: Union[str, Path], variant: Optional[str] = None,
             name: Optional[str] = None) -> ExportReport:
    """Write the impulse at ``bundle`` as C into ``out_dir`` (see the module docstring).
    ``variant``: the model variant (default int8 when the bundle has it, a microcontroller's
    natural choice, else float32); ``name``: the C prefix (default from the bundle's name)."""
    imp, plan, variant = _load(bundle, variant)
    name = check_name(name) if name is not None else default_name(bundle)
    networks = exported_networks(plan, microcontroller=True)
    try:
        settings = config_settings(plan, networks.values())
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    root = c_sources_root()
    out = Path(out_dir)
    _prepare_dir(out)
    source_name = Path(bundle).name
    for sub in ("impulse", "edgert", "harness"):
        (out / sub).mkdir()
    for p in core_files(root):
        shutil.copyfile(p, out / "edgert" / p.name)
    for f in HARNESS_FILES:
        shutil.copyfile(root / "mcu" / f, out / "harness" / f)
    (out / "impulse" / "impulse_config.h").write_text(config_header(settings, source_name))
    (out / "impulse" / "impulse_glue.h").write_text(_glue(name, plan))
    # the plan with the host build's scratch figure first; the device build sizes itself
    source, header = impulse_plan_sources(plan, name, microcontroller=True, networks=networks,
                                          entry_point=True)
    (out / "impulse" / f"{name}.c").write_text(source)
    (out / "impulse" / f"{name}.h").write_text(header)
    host_bytes = _scratch_from_header(header, name)
    device = _device_scratch(out, name, root)
    if device is not None:
        scratch, measured_by = device, ("the microcontroller build (float32 DSP, "
                                        "impulse_config.h), measured at export")
    else:
        scratch, measured_by = host_bytes, ("the host build (double-precision DSP), an upper "
                                            "bound: no host C compiler at export")
        log.warning("no host C compiler (cc): NAME_SCRATCH_BYTES is the host build's %d bytes, "
                    "an upper bound for the device; install one and export again for the exact "
                    "figure", host_bytes)
    if device is not None and device > host_bytes:   # the bound the fallback relies on
        log.warning("the device build needs more scratch (%d) than the host build (%d)",
                    device, host_bytes)
    _, header = impulse_plan_sources(plan, name, microcontroller=True, networks=networks,
                                     scratch_bytes=(scratch, measured_by), entry_point=True)
    (out / "impulse" / f"{name}.h").write_text(header)
    report = ExportReport(
        out_dir=out, name=name, variant=variant, labels=tuple(plan.labels),
        has_anomaly=plan.anomaly >= 0, window_samples=plan.window_samples, n_axes=plan.n_axes,
        scratch_bytes=scratch, scratch_host_bytes=host_bytes, scratch_measured_by=measured_by,
        arena_bytes=max((int(p.arena_bytes) for p in networks.values()), default=0),
        network_constants_bytes=sum(int(p.consts_bytes) for p in networks.values()),
        config=settings)
    (out / "Makefile").write_text(_makefile(name, source_name))
    (out / "README.md").write_text(readme_text(report, imp, plan, source_name))
    meta = report.as_dict()
    meta.update({"edgert_version": __version__, "bundle": str(bundle), "axes": list(imp.axes),
                 "frequency_hz": float(imp.frequency), "n_features": int(plan.n_features),
                 "n_outputs": int(plan.n_outputs), "window_values": int(plan.window_values)})
    meta.pop("files", None)
    (out / "impulse" / "export.json").write_text(json.dumps(meta, indent=2) + "\n")
    report.files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return report


def _scratch_from_header(header: str, name: str) -> int:
    m = re.search(rf"#define {name.upper()}_SCRATCH_BYTES (\d+)u", header)
    assert m is not None
    return int(m.group(1))


def _makefile(name: str, source: str) -> str:
    return "\n".join([
        f"# Generated by edgert export-c {__version__} from {source}: the impulse '{name}' as",
        "# plain C with a bare-metal harness for QEMU's mps2-an386 (Cortex-M4 with FPU).",
        "#   make -C DIR run INPUT=FILE   one JSON line per raw window of FILE (float32 LE)",
        "#   make -C DIR size             {\"flash\": n, \"ram\": n}",
        "# The rules are in harness/export.mk; README.md explains the files.",
        f"NAME := {name}",
        f"EDGERT_VERSION := {__version__}",
        "include harness/export.mk", ""])


__all__ = ["export_c", "ExportReport", "ExportError", "default_name", "check_name"]

"""``edgert export-c BUNDLE -o DIR``: the impulse as plain C for a microcontroller."""
from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger("edgert.cli")

EPILOG = """\
Writes the impulse - the compiled impulse plan the host runs: DSP configuration, networks as
ahead-of-time compiled engine plans, anomaly clusters, thresholds, labels - as const C data
with one entry point, NAME_classify(window, &result, timing, scratch, scratch_bytes), plus:
  edgert/                 the C core it runs on (C99, no malloc, no stdio, no OS)
  impulse/impulse_config.h  what the impulse does not use, left out of the firmware
  harness/, Makefile      a bare-metal harness for QEMU's mps2-an386 (Cortex-M4 with FPU)
  README.md               for the firmware engineer: the entry point, the buffers, the timing
                          hooks, how to compile it into a firmware

The scratch buffer's size is in the header (NAME_SCRATCH_BYTES): the microcontroller build's
(float32 DSP), measured at export with the host C compiler (cc; without one the host build's
larger figure). DIR must be new, empty, or an earlier export (which is replaced).

Then, with gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm installed:
  make -C DIR run INPUT=FILE   one JSON line per raw window of FILE (float32 little-endian,
                               axes interleaved, one window after another):
                               {"classification": {label: score, ...}, "anomaly": x}
  make -C DIR size             {"flash": n, "ram": n} (the raw window buffer apart)

Impulses the plan cannot represent (audio blocks today, image impulses) are refused with the
reason. See docs/mcu.md.

examples:
  edgert export-c examples/motion-demo -o motion-c
  make -C motion-c size
  edgert export-c my-impulse --variant float32 --name gestures -o gestures-c --json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-c", help="write the impulse as plain C for a microcontroller, "
                                        "with a harness for an emulated Cortex-M4F",
                       description="Write an impulse bundle as plain C (the compiled impulse "
                                   "plan, the C core, a bare-metal harness and a Makefile).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", help="impulse bundle directory or .zip")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="directory to write (new, empty, or an earlier export)")
    p.add_argument("--variant", choices=("float32", "int8"),
                   help="model variant (default: int8 when the bundle has it, else float32)")
    p.add_argument("--name", metavar="NAME",
                   help="prefix of the C names (NAME_classify, NAME_SCRATCH_BYTES, ...; "
                        "default: from the bundle's name)")
    p.add_argument("--json", action="store_true",
                   help="print what was written as JSON (directory, name, sizes, files)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..output import emit_json
    from ...mcu import export_c
    report = export_c(args.bundle, args.output, variant=args.variant, name=args.name)
    if args.json:
        emit_json(report.as_dict())
        return 0
    w = sys.stdout.write
    n = report.name
    w(f"wrote {report.out_dir}/ ({len(report.files)} files): the impulse as C, "
      f"entry point {n}_classify in impulse/{n}.h\n")
    w(f"  variant {report.variant or 'none'}; labels {', '.join(report.labels) or '(none)'}"
      f"{'; anomaly score' if report.has_anomaly else ''}\n")
    w(f"  window {report.window_samples} x {report.n_axes} floats; scratch "
      f"{report.scratch_bytes} bytes (network arena {report.arena_bytes}); network constants "
      f"{report.network_constants_bytes} bytes\n")
    w(f"  try: make -C {report.out_dir} size; make -C {report.out_dir} run INPUT=windows.f32 "
      f"(see {report.out_dir}/README.md)\n")
    return 0

"""``edgert eim BUNDLE -o model.eim``: an Edge Impulse Linux runner file for an impulse."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from ..recording_args import positive_int

log = logging.getLogger("edgert.cli")

EPILOG = """\
The file stands in for the model.eim of Edge Impulse's Linux deployment: applications written
against Edge Impulse's Linux SDKs (the Python ImpulseRunner of edge_impulse_linux, Node's
LinuxImpulseRunner) start it and talk to it unchanged:

  ./model.eim SOCKET_PATH     serve the runner protocol on a Unix socket (one connection)
  ./model.eim --print-info    print the model description (the hello response) as JSON
  ./model.eim stdin           requests on stdin, responses on stdout (for trying by hand)

It is a small /bin/sh launcher followed by a zip archive that carries the bundle, so the one
file can be copied anywhere on this machine. It runs with the Python interpreter running this
command (or --python) and the edgert it imports now; if that interpreter is removed it says
so and exits 127. Requests: hello, classify (one window of raw values, axes interleaved),
classify_shm (the same values in POSIX shared memory), classify_continuous (one slice; the
window is the last slices), set_threshold. The new file is started once with --print-info
before this command reports success. See docs/eim.md.

examples:
  edgert eim examples/motion-demo -o motion.eim
  ./motion.eim --print-info
  edgert eim my-impulse.zip -o audio.eim --slices-per-window 3 --moving-average 1
  edgert eim examples/motion-demo -o motion.eim --python /opt/venv/bin/python --json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eim", help="write an Edge Impulse Linux runner (.eim) for a bundle",
                       description="Write one executable file that serves Edge Impulse's "
                                   ".eim runner protocol for an impulse bundle.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", help="impulse bundle directory or .zip")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the .eim file to write (replaced if it exists)")
    p.add_argument("--variant", choices=("float32", "int8"),
                   help="model variant to run (default: float32 when the bundle has it)")
    p.add_argument("--backend", choices=("native", "tflite", "auto"), default="auto",
                   help="engine backend of the runner (default: auto)")
    p.add_argument("--slices-per-window", type=positive_int, default=4, metavar="N",
                   help="classify_continuous: slices per window; slice_size = window samples "
                        "/ N x axes (default 4, the SDK's EI_CLASSIFIER_SLICES_PER_MODEL_WINDOW)")
    p.add_argument("--moving-average", type=positive_int, metavar="N",
                   help="classify_continuous: average each label's probability over the last "
                        "N results, as the SDK's moving-average filter (default: slices per "
                        "window // 2, the SDK's; 1 turns it off)")
    p.add_argument("--sensor", choices=("microphone", "accelerometer", "camera", "9dof",
                                        "environmental", "fusion", "unknown"),
                   help="sensor reported in hello (default: guessed from the axis names and "
                        "DSP blocks)")
    p.add_argument("--python", metavar="PATH",
                   help="absolute path of the Python interpreter the runner uses (default: "
                        "this one, %(default)s)".replace("%(default)s", sys.executable))
    p.add_argument("--no-shared-memory", action="store_true",
                   help="do not offer classify_shm (hello without features_shm)")
    p.add_argument("--no-check", action="store_true",
                   help="do not start the new file once with --print-info")
    p.add_argument("--json", action="store_true",
                   help="print what was written as JSON (path, size, interpreter, settings, "
                        "the hello document's model parameters)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..output import emit_json
    from ...eim import write_eim
    eim = write_eim(args.bundle, args.output, python=args.python, variant=args.variant,
                    backend=args.backend, slices_per_window=args.slices_per_window,
                    average_over=args.moving_average, sensor=args.sensor,
                    shared_memory=not args.no_shared_memory, check=not args.no_check)
    if args.json:
        emit_json({"output": str(eim.path), "bytes": eim.size_bytes, "python": eim.python,
                   "edgert_path": eim.edgert_path, "settings": eim.config,
                   "project": eim.hello["project"],
                   "model_parameters": eim.hello["model_parameters"]})
        return 0
    mp = eim.hello["model_parameters"]
    proj = eim.hello["project"]
    shown = eim.path if eim.path.is_absolute() or os.sep in str(eim.path) else f"./{eim.path}"
    w = sys.stdout.write
    w(f"wrote {eim.path} ({eim.size_bytes} bytes): {proj['name']} (project {proj['id']})\n")
    w(f"  {mp['input_features_count']} raw values per classify ({mp['axis_count']} axes x "
      f"{mp['input_features_count'] // max(1, mp['axis_count'])} samples at "
      f"{mp['frequency']:g} Hz), slice_size {mp['slice_size']}, labels "
      f"{', '.join(mp['labels']) or '(none)'}\n")
    w(f"  runs with {eim.python} and edgert from {eim.edgert_path}\n")
    w(f"  try: {shown} --print-info\n")
    return 0

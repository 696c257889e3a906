"""``edgert features BUNDLE FILE``: the DSP features of every window of a recording."""
from __future__ import annotations

import argparse
import sys

from ..recording_args import add_recording_args, load_impulse_and_recording

EPILOG = """\
Computes what Studio shows as the processed features: the impulse's DSP blocks over every
window of the recording (concatenated in bundle order). A bundle without learn blocks is
enough. --json prints {"labels": [...], "windows": [{"start_ms": t, "features": [...]}]}.

examples:
  edgert features examples/motion-demo examples/motion-demo/samples/wave.01.json
  edgert features examples/motion-demo recording.csv --json > features.json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="compute the DSP features of every window",
                       description="Compute the impulse's DSP features for every window of a "
                                   "recording.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recording_args(p)
    p.add_argument("--json", action="store_true", help="print the features as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..output import emit_json
    imp, rec = load_impulse_and_recording(args)
    feats = imp.features(rec, use_axes=args.axes)
    if args.json:
        emit_json(feats.to_json())
        return 0
    w = sys.stdout.write
    w(f"{rec.filename}: {len(feats)} windows x {feats.features.shape[1]} features\n")
    w("features: " + ", ".join(feats.labels) + "\n")
    for t, row in zip(feats.start_ms, feats.features):
        w(f"{t:9.0f} ms  " + " ".join(f"{v:.5g}" for v in row) + "\n")
    return 0

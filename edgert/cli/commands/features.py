"""``edgert features BUNDLE FILE``: the DSP features of every window of a recording."""
from __future__ import annotations

import argparse
import sys

from ..output import plural
from ..recording_args import add_recording_args, load_impulse_and_recording

EPILOG = """\
Computes what Studio shows as the processed features: the impulse's DSP blocks over every
window of the recording (concatenated in bundle order). A bundle without learn blocks is
enough. The table lists the feature names by number, then the values of every window, eight
features per block of columns. --json prints {"labels": [...], "windows": [{"start_ms": t,
"features": [...]}]}.

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
    print_table(feats, rec.filename)
    return 0


#: Feature columns per block of the table (so a line stays readable in a terminal).
COLUMNS = 8


def print_table(feats, filename: str) -> None:
    """The feature names, numbered, then the values: one row per window, at most COLUMNS
    features per block of rows, each column headed by its feature number."""
    w = sys.stdout.write
    n_win, n_feat = len(feats), feats.features.shape[1]
    w(f"{filename}: {plural(n_win, 'window')} x {n_feat} features\n\n")
    width = len(str(n_feat - 1)) if n_feat else 1
    for i, name in enumerate(feats.labels):
        w(f"  {i:>{width}}  {name}\n")
    for first in range(0, n_feat, COLUMNS):
        cols = range(first, min(first + COLUMNS, n_feat))
        w(f"\n{'start_ms':>9} " + " ".join(f"{f'#{c}':>11}" for c in cols) + "\n")
        for t, row in zip(feats.start_ms, feats.features):
            w(f"{t:9.0f} " + " ".join(f"{row[c]:>11.5g}" for c in cols) + "\n")

"""``edgert classify BUNDLE FILE``: classify every window of a recording."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ..output import plural
from ..recording_args import add_recording_args, load_impulse_and_recording, positive_int

log = logging.getLogger("edgert.classify")

EPILOG = """\
FILE is an Edge Impulse data-acquisition document (JSON or CBOR, as the firmware and the
ingestion API use, including the firmware's raw int16 audio, Ref-BINARY-i16), a CSV whose first
column is a timestamp in milliseconds followed by one column per axis (timestamp,accX,accY,accZ),
or a 16-bit PCM mono WAV file (one axis, audio). Columns are matched to the impulse's axes by
name (--axes maps differently named columns explicitly); a recording at another frequency (e.g.
44.1 kHz audio for a 16 kHz impulse) is resampled to the impulse's. The label is taken from the
file name like the ingestion API does (wave.01.json -> wave) unless --label is given.

The window slides over the whole recording like Studio's "classify sample": one result per
window, with every label's probability, the anomaly score, and Studio's prediction (anomaly
when the score is over the anomaly threshold, uncertain when the top probability is below
min_score).

examples:
  edgert classify examples/motion-demo examples/motion-demo/sdk-windows/wave.00.json
  edgert classify examples/motion-demo examples/motion-demo/samples/wave.01.json
  edgert classify examples/motion-demo recording.cbor --variant int8 --json > result.json
  edgert classify examples/motion-demo recording.csv --plot scores.png
  edgert classify keyword-spotting/ yes.wav          (an MFCC/MFE/spectrogram impulse)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="classify every window of a recording",
                       description="Slide the impulse's window over a whole recording and "
                                   "classify every window (DSP, network, anomaly).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recording_args(p)
    # checked by Impulse.resolve_variant, not argparse `choices`: a bad value is then one
    # error line and exit code 1 like every other bad input (argparse exits 2 with usage)
    p.add_argument("--variant", metavar="{float32,int8}",
                   help="model variant (default: float32 when the bundle has it, else int8)")
    p.add_argument("--json", action="store_true",
                   help="print Studio's classify response document (POST .../classify/v2)")
    p.add_argument("--plot", metavar="PNG", help="also write a per-window score plot to PNG "
                                                 "(into a folder: PNG/<recording>.scores.png; "
                                                 "needs matplotlib)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="split the windows over this many threads (default: 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..output import emit_json
    imp, rec = load_impulse_and_recording(args)
    if args.plot:
        from ..plot import plot_path
        path = plot_path(args.plot, rec.filename)   # a bad path fails before the work
    res = imp.classify(rec, variant=args.variant, use_axes=args.axes, threads=args.threads)
    if args.plot:
        from ..plot import plot_scores
        plot_scores(res, path, title=f"{rec.filename}: {plural(len(res), 'window')}")
        if not getattr(args, "quiet", False):
            sys.stderr.write(f"edgert: wrote the score plot of {plural(len(res), 'window')} "
                             f"to {path}\n")
    if args.json:
        emit_json(res.to_studio_json(sample=rec))
        return 0
    print_table(res, rec)
    return 0


def print_table(res: Any, rec: Any) -> None:
    w = sys.stdout.write
    labels = list(res.labels)
    width = max([7] + [len(lab) for lab in labels])
    head = f"{'start_ms':>9} {'end_ms':>9} " + " ".join(f"{lab:>{width}}" for lab in labels)
    if res.anomaly is not None:
        # `anomaly score` when a class is itself named `anomaly` (results.reserved_names)
        key = res.names.anomaly_key
        head += f" {key:>{max(8, len(key))}}"
    w(head + "  prediction\n")
    for win in res:
        line = f"{win.start_ms:9.0f} {win.end_ms:9.0f} " + " ".join(
            f"{win.scores[lab]:{width}.4f}" for lab in labels)
        if win.anomaly is not None:
            line += f" {win.anomaly:{max(8, len(res.names.anomaly_key))}.3f}"
        w(line + f"  {win.label}\n")
    s = res.summary()
    w(f"\n{rec.filename}: {plural(s['windows'], 'window')} of {res.window_size_ms:g} ms every "
      f"{res.window_increase_ms:g} ms at {res.frequency:g} Hz")
    if res.resampled:
        w(f" (resampled from {res.source_frequency:g} Hz)")
    w(f"; model variant {res.variant}\n" if res.variant else "\n")
    if rec.label:
        w(f"expected label: {rec.label}\n")
    counts = ", ".join(f"{k} {v}" for k, v in s["predictions"].items() if v)
    w(f"predictions (min_score {res.min_score:g}): {counts}\n")
    if "mean_scores" in s:
        w("mean scores: " + ", ".join(f"{k} {v:.4f}" for k, v in s["mean_scores"].items())
          + "\n")
    if "anomaly" in s:
        a = s["anomaly"]
        w(f"anomaly: min {a['min']:.3f}, max {a['max']:.3f}; "
          f"{plural(a['anomalous_windows'], 'window')} over the threshold "
          f"{res.anomaly_threshold:g}\n")

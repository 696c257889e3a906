"""``edgert anomaly fit BUNDLE DATA...``: train the impulse's K-means anomaly block on the
gateway, from known-good recordings."""
from __future__ import annotations

import argparse
import logging
import sys
from contextlib import ExitStack
from typing import List

from ..dask_args import add_dask_args, dask_client_from_args
from ..output import plural

log = logging.getLogger("edgert.runtime.anomaly")

EPILOG = """\
Trains a K-means anomaly detector the way the runtime scores it: the impulse computes the DSP
features of every window of the known-good recordings in DATA; the chosen features (--axes,
indices into the block's input features) are standardised (mean / standard deviation) and
clustered (k-means++ seeding from --seed, Lloyd iterations to convergence); each cluster's
maxError is its largest member distance, so every training window scores <= 0 and windows
unlike the training data score above 0 (reported as anomalous over the block's
min_anomaly_score threshold, 0.3 by default).

DATA: recording files (data-acquisition JSON/CBOR, CSV) and/or dataset folders; from folders,
the samples of --category (default training) and --labels are used. Train only on normal
operation: anything in DATA becomes "normal".

Default --axes: the bundle's existing anomaly block's axes, else the RMS feature of every
sensor axis (e.g. 0,11,22 for a 3-axis spectral-analysis block with 11 features per axis).
`edgert features BUNDLE FILE` lists the feature names.

The bundle's K-means block is retrained (its id, name and thresholds kept), or a new block is
added when it has none. Without --out a bundle directory is updated in place (impulse.json and
anomaly-<id>.json are replaced atomically); a .zip bundle needs --out. --out DIR (a new or
empty folder) gets a bundle of only the files it needs: impulse.json, the model files and the
anomaly metadata (nothing else of BUNDLE's folder, such as recordings or scripts).

examples:
  edgert anomaly fit examples/motion-demo data/ --clusters 32 --out my-bundle
  edgert anomaly fit my-bundle normal-01.json normal-02.cbor --clusters 8 --axes 0,11,22
  edgert anomaly fit bundle.zip data/ --labels idle --seed 3 --out retrained --json
"""


def _axes(text: str) -> List[int]:
    try:
        return [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give feature indices like 0,11,22") \
            from None


def _labels(text: str) -> List[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("anomaly", help="on-gateway anomaly detection tools (fit)",
                       description="On-gateway K-means anomaly training.",
                       epilog="examples:\n  edgert anomaly fit examples/motion-demo data/ "
                              "--clusters 32 --out my-bundle",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="anomaly_command", metavar="ACTION")
    f = s.add_parser("fit", help="train the K-means anomaly block from known-good recordings",
                     description="Train the bundle's K-means anomaly block on known-good "
                                 "recordings and write the bundle.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("bundle", metavar="BUNDLE", help="impulse bundle directory or .zip")
    f.add_argument("data", metavar="DATA", nargs="+",
                   help="recording files and/or dataset folders of normal operation")
    f.add_argument("--clusters", type=int, default=32, help="number of clusters (default 32)")
    f.add_argument("--axes", type=_axes, help="feature indices to use, e.g. 0,11,22 "
                                              "(default: see below)")
    f.add_argument("--seed", type=int, default=0, help="k-means++ seed (default 0)")
    f.add_argument("--out", metavar="DIR", help="write the bundle here (default: update "
                                                "BUNDLE in place)")
    f.add_argument("--category", default="training",
                   choices=("training", "testing", "validation", "post-processing", "anomaly",
                            "all"), help="samples of dataset folders to use (default: training)")
    f.add_argument("--labels", type=_labels, help="only these labels from dataset folders "
                                                  "(comma-separated)")
    f.add_argument("--block-id", type=int, help="the learn block to train (default: the "
                                                "bundle's K-means block, or a new one)")
    f.add_argument("--hmac-key", metavar="KEY", help="HS256 key of the documents (only "
                                                     "recorded; signatures do not gate use)")
    add_dask_args(f)
    f.add_argument("--json", action="store_true",
                   help="print the written anomaly metadata document")
    f.set_defaults(func=run_fit)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def run_fit(args: argparse.Namespace) -> int:
    from ...studio.anomaly_fit import fit_bundle
    from ..output import emit_json
    progress = not getattr(args, "quiet", False) and sys.stderr.isatty()
    with ExitStack() as stack:
        client = dask_client_from_args(args, stack)
        rep = fit_bundle(args.bundle, args.data, clusters=args.clusters, axes=args.axes,
                         seed=args.seed, out=args.out, category=args.category,
                         labels=args.labels, hmac_key=args.hmac_key, block_id=args.block_id,
                         progress=progress, client=client)
    if args.json:
        emit_json(rep.metadata)
        return 0
    w = sys.stdout.write
    w(f"trained K-means block {rep.block['id']} ({rep.block.get('title', '')}): "
      f"{plural(len(rep.metadata['clusters']), 'cluster')} on "
      f"{plural(rep.windows, 'window')} of {plural(rep.recordings, 'recording')}\n")
    w("features: " + ", ".join(f"{a} ({n})" for a, n in zip(rep.axes, rep.axis_names)) + "\n")
    errs = [c["maxError"] for c in rep.metadata["clusters"]]
    w(f"cluster maxError: {min(errs):.3f} - {max(errs):.3f}; highest training score "
      f"{rep.max_training_score:.3g} (<= 0: every training window is inside a cluster)\n")
    for name, why in rep.skipped:
        w(f"skipped {name}: {why}\n")
    w(f"wrote {rep.bundle / rep.block['metadata']} and {rep.bundle / 'impulse.json'}\n")
    return 0

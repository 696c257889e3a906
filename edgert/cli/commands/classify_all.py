"""``edgert classify-all BUNDLE DATASET``: Studio's "classify all" (model testing) over a local
dataset folder, with every filter of the classify-all result page."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Dict, List

from ..dask_args import add_dask_args, dask_client_from_args
from ..recording_args import positive_int

log = logging.getLogger("edgert.classify_all")

EPILOG = """\
DATASET is a folder of recordings: data-acquisition JSON/CBOR files, CSV files (timestamp in
ms, then one column per axis) and 16-bit PCM mono WAV files, sorted into training/, testing/ and anomaly/ subfolders (files
elsewhere count as training unless an info.labels manifest says otherwise). The label is the
file name's prefix as the ingestion API infers it (idle.01.json -> idle) unless info.labels
gives one; <file>.metadata.json next to a file holds its metadata ({"site": "A"}). The folder
is indexed (only changed files are re-read) in a database in your cache folder
($XDG_CACHE_HOME/edgert/datasets/, ~/.cache/edgert/datasets/ by default; --index PATH puts
it elsewhere; nothing is written into DATASET), and results are cached there per file
content, model variant and bundle: re-running, or asking for another page, does not classify
again. By default only the testing samples are classified, as in Studio: files outside
training/, testing/ and anomaly/ folders count as training, so use --category all (or
training) for a plain folder of recordings.

Every window of every matching sample is classified; the summary shows accuracy, the
confusion matrix (rows: the true label, columns: the prediction, with Studio's 'anomaly' and
'uncertain' columns) and per-label precision/recall/F1 over all of them, then one line per
sample of the page (--limit/--offset). --json prints the page document of Studio's
GET /v1/api/{projectId}/classify/all/result/page instead (with the metrics under
modelValidationMetrics).

Filters (Studio's semantics; bounds named "longer/shorter/higher/lower/after/before" are
strict, the id and label bounds are >= min and < max):
  --labels idle,snake           only these labels (or a JSON array)
  --filename long               file name contains the text (case-insensitive)
  --min-length/--max-length MS  longer / shorter than MS milliseconds
  --min-frequency/--max-frequency HZ
  --signature-validity valid    both | valid | invalid (verified with --hmac-key)
  --search "idle 01"            every word in the file name or label, or equal to the id
  --metadata JSON               e.g. '[{"key": "site", "op": "eq", "values": ["A"]}]', with
                                {"no_metadata": true} and {"filters_combinator": "or"} options
  --min-date/--max-date ISO     added to the index after / before

examples:
  edgert classify-all examples/motion-demo data/
  edgert classify-all examples/motion-demo data/ --labels idle,wave --min-length 2000
  edgert classify-all examples/motion-demo data/ --category all --limit 20 --offset 40 --json
  edgert classify-all bundle.zip data/ --metadata '[{"key": "site", "op": "eq", "values": ["A"]}]'
"""


def _labels(text: str) -> List[str]:
    """argparse type: comma-separated labels, or a JSON array of strings."""
    text = text.strip()
    if text.startswith("["):
        try:
            labels = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a JSON array ({exc}); give "
                                             "comma-separated labels or a JSON array like "
                                             '\'["idle", "wave"]\'') from None
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise argparse.ArgumentTypeError(f"{text!r}: a JSON array of label strings, "
                                             'like \'["idle", "wave"]\'')
        return labels
    return [t.strip() for t in text.split(",") if t.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify-all", help="classify every sample of a dataset folder "
                                            "(model testing, with Studio's filters)",
                       description="Classify every sample of a local dataset that passes the "
                                   "filters: accuracy, confusion matrix, per-label metrics, "
                                   "and Studio's classify-all result page.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", help="impulse bundle directory or .zip")
    p.add_argument("dataset", metavar="DATASET", help="dataset folder")
    g = p.add_argument_group("paging and model")
    g.add_argument("--limit", type=int, help="samples on the page (default: all)")
    g.add_argument("--offset", type=int, default=0, help="first sample of the page (default 0)")
    g.add_argument("--variant", metavar="{float32,int8}",   # checked by classify_all
                   help="model variant (default: float32 when the bundle has it, else int8)")
    g.add_argument("--threads", type=positive_int,
                   help="classification threads (default: CPU count)")
    g.add_argument("--backend", choices=("native", "tflite", "auto"), default="auto",
                   help="engine backend for the networks (default: auto)")
    g.add_argument("--no-metrics", action="store_true",
                   help="classify only the page's samples; no accuracy/confusion matrix")
    f = p.add_argument_group("filters")
    f.add_argument("--category", default="testing",
                   choices=("training", "testing", "validation", "post-processing", "anomaly",
                            "all"), help="sample category (default: testing, as Studio)")
    f.add_argument("--labels", type=_labels, help="comma-separated labels, or a JSON array")
    f.add_argument("--filename", help="file name contains this text")
    f.add_argument("--min-length", type=float, metavar="MS", help="longer than MS")
    f.add_argument("--max-length", type=float, metavar="MS", help="shorter than MS")
    f.add_argument("--min-frequency", type=float, metavar="HZ", help="higher frequency than HZ")
    f.add_argument("--max-frequency", type=float, metavar="HZ", help="lower frequency than HZ")
    f.add_argument("--signature-validity", choices=("both", "valid", "invalid"))
    f.add_argument("--min-label", type=float, help="numeric label >= this (regression)")
    f.add_argument("--max-label", type=float, help="numeric label < this (regression)")
    f.add_argument("--search", help="words that must each be in the file name or label "
                                    "(or equal the sample id)")
    f.add_argument("--data-type", choices=("audio", "image"))
    f.add_argument("--min-id", type=int, help="sample id >= this")
    f.add_argument("--max-id", type=int, help="sample id < this")
    f.add_argument("--metadata", help="metadata filter (JSON array, see below)")
    f.add_argument("--min-date", metavar="ISO", help="added after this date")
    f.add_argument("--max-date", metavar="ISO", help="added before this date")
    add_dask_args(p)
    d = p.add_argument_group("dataset")
    d.add_argument("--hmac-key", metavar="KEY", help="verify HS256 signatures with this key")
    d.add_argument("--index", metavar="PATH",
                   help="index/cache database (default: one per dataset folder in "
                        "$XDG_CACHE_HOME/edgert/datasets/, i.e. ~/.cache/edgert/datasets/)")
    p.add_argument("--json", action="store_true", help="print the result page document")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from contextlib import ExitStack
    from ...dataset.classify_all import classify_all
    from ..output import emit_json
    from ...dataset import Dataset
    from ...runtime.impulse import Impulse
    imp = Impulse.load(args.bundle, backend=args.backend)
    progress = not getattr(args, "quiet", False) and sys.stderr.isatty()
    with ExitStack() as stack:
        client = dask_client_from_args(args, stack)
        ds = stack.enter_context(Dataset(args.dataset, hmac_key=args.hmac_key,
                                         index_path=args.index, refresh=client is None))
        if client is not None:
            # indexed on the cluster; the files of the category classified in the same pass
            from ...dataset.distributed import refresh_on_cluster
            refresh_on_cluster(ds, client, imp, args.variant, args.category, progress)
        page = classify_all(
            imp, ds, limit=args.limit, offset=args.offset, variant=args.variant,
            category=args.category, labels=args.labels, filename=args.filename,
            min_length=args.min_length, max_length=args.max_length,
            min_frequency=args.min_frequency, max_frequency=args.max_frequency,
            signature_validity=args.signature_validity, min_label=args.min_label,
            max_label=args.max_label, search=args.search, data_type=args.data_type,
            min_id=args.min_id, max_id=args.max_id, metadata=args.metadata,
            min_date=args.min_date, max_date=args.max_date, threads=args.threads,
            progress=progress, with_metrics=not args.no_metrics, client=client)
        if page["totalCount"] == 0 and args.category != "all":
            _hint_other_categories(ds, args.category)
    if args.json:
        emit_json(page)
    else:
        print_summary(page, args)
    return 0


def _hint_other_categories(ds: Any, category: str) -> None:
    """No sample of ``category`` passed: say where the dataset's samples are (a plain folder
    of recordings is all training) and how to classify them."""
    from ...dataset import CATEGORIES, SampleFilter
    counts = {c: ds.count(SampleFilter(category=c)) for c in CATEGORIES}
    elsewhere = {c: n for c, n in counts.items() if n and c != category}
    if not elsewhere:
        return
    where = ", ".join(f"{n} {c}" for c, n in elsewhere.items())
    log.warning("no %s samples to classify in %s (it has %s; files outside training/, "
                "testing/ and anomaly/ folders count as training): use --category all, or "
                "--category %s", category, ds.root, where, next(iter(elsewhere)))


def print_summary(page: Dict[str, Any], args: argparse.Namespace) -> None:
    w = sys.stdout.write
    metrics = (page.get("modelValidationMetrics") or [None])[0]
    if metrics is not None:
        w(f"{metrics['sampleCount']} samples ({args.category}), {metrics['windowCount']} "
          f"windows, model variant {metrics['type']}\n")
        w(f"accuracy: {metrics['accuracy'] * 100:.2f}%")
        if "loss" in metrics:
            w(f"   loss: {metrics['loss']:.4f}")
        w("\n\nconfusion matrix (rows: true label, columns: prediction)\n")
        labels = metrics["labels"]
        width = max([6] + [len(x) for x in labels])
        rwidth = max([width] + [len(k) for k in metrics["report"]])
        w(" " * (width + 1) + " ".join(f"{x:>{width}}" for x in labels) + "\n")
        for lab, row in zip(labels, metrics["confusionMatrix"]):
            w(f"{lab:>{width}} " + " ".join(f"{int(v):>{width}}" for v in row) + "\n")
        w(f"\n{'label':>{rwidth}} {'precision':>9} {'recall':>7} {'F1':>6} {'windows':>8}\n")
        for lab, r in metrics["report"].items():
            if isinstance(r, dict) and "precision" in r:
                w(f"{lab:>{rwidth}} {r['precision']:9.3f} {r['recall']:7.3f} "
                  f"{r['f1-score']:6.3f} {r['support']:8d}\n")
        for f in metrics["failedSamples"]:
            w(f"\nnot classified: sample {f['sampleId']} ({f['filename']}): {f['error']}")
        if metrics["failedSamples"]:
            w("\n")
    n = len(page["result"])
    w(f"\nsamples {args.offset + 1 if n else 0}-{args.offset + n} of {page['totalCount']}:\n")
    by_sample: Dict[int, List[Dict[str, Any]]] = {}
    for p in page["predictions"]:
        by_sample.setdefault(p["sampleId"], []).append(p)
    for entry in page["result"]:
        s = entry["sample"]
        preds = by_sample.get(entry["sampleId"], [])
        line = f"{s['id']:>5} {s['filename']:<24} {s['label'] or '-':<12}"
        if s.get("processingError"):
            line += f" error: {s.get('processingErrorString', '')}"
        else:
            counts: Dict[str, int] = {}
            for p in preds:
                counts[p["prediction"]] = counts.get(p["prediction"], 0) + 1
            ok = sum(p["predictionCorrect"] for p in preds)
            line += f" {ok}/{len(preds)} windows correct; " + ", ".join(
                f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        w(line + "\n")

"""``edgert info BUNDLE``: load and fully validate a bundle, and describe it."""
from __future__ import annotations

import argparse
import sys

EPILOG = """\
The bundle is checked completely (impulse.json fields, DSP parameters, every model file and
anomaly metadata, feature counts between blocks); an invalid bundle exits with status 1 and an
error that names the file and the field.

examples:
  edgert info examples/motion-demo
  edgert info my-impulse.zip --json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="validate an impulse bundle and describe it",
                       description="Validate an impulse bundle (directory or .zip) and print "
                                   "its input, DSP blocks, learn blocks and models.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory or .zip")
    p.add_argument("--backend", choices=("native", "tflite", "auto"), default="auto",
                   help="engine backend used to check the models (default: auto)")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..output import emit_json
    from ...runtime.impulse import Impulse
    imp = Impulse.load(args.bundle, backend=args.backend)
    d = imp.describe()
    if args.json:
        emit_json(d)
        return 0
    w = sys.stdout.write
    proj = d["project"]
    w(f"bundle     {d['bundle']}\n")
    if proj:
        w(f"project    {proj.get('name', '')} (id {proj.get('id', '?')}, owner "
          f"{proj.get('owner', '?')}, deploy version {proj.get('deploy_version', '?')})\n")
    prov = d.get("provenance")
    if prov:
        w(f"imported   from {prov.get('export_path') or prov.get('source', '?')}"
          f" (SDK layout {prov.get('sdk_era', '?')})\n")
    i = d["input"]
    w(f"input      {', '.join(i['axes'])} at {i['frequency']:g} Hz; window "
      f"{i['window_size_ms']:g} ms ({i['window_samples']} samples) every "
      f"{i['window_increase_ms']:g} ms ({i['window_increase_samples']} samples); zero-pad "
      f"{'on' if i['zero_pad'] else 'off'}\n")
    for b in d["dsp"]:
        w(f"dsp {b['id']:<6} {b['type']} v{b['implementation_version']} on "
          f"{', '.join(b['axes'])} -> {b['features']} features\n")
    for b in d["learn"]:
        w(f"learn {b['id']:<4} {b['type']} '{b['name']}' <- dsp {b['dsp']} "
          f"({b['input_features']} features)\n")
        if "labels" in b:
            w(f"           labels: {', '.join(b['labels'])}\n")
        for v, m in (b.get("models") or {}).items():
            if isinstance(m, dict):
                arena = f", arena {m['arena_bytes']} B" if m.get("arena_bytes") else ""
                w(f"           {v}: {m['file']} ({m['bytes']} B; in {m['input']['dtype']} "
                  f"{m['input']['shape']}, out {m['output']['dtype']} {m['output']['shape']}"
                  f"{arena})\n")
                if m.get("engine") == "tflite-interpreter":
                    w(f"           {v}: runs in the TFLite interpreter, not the native engine: "
                      f"{m.get('native_unsupported')}\n")
            else:
                w(f"           {v}: {m}\n")
        if b["type"] == "anomaly":
            w(f"           K-means: {b['clusters']} clusters on features {b['axes']} "
              f"({b['metadata']})\n")
        if b["thresholds"]:
            w("           thresholds: " + ", ".join(f"{k} {v}" for k, v in
                                                   b["thresholds"].items()) + "\n")
    if d["variants"]:
        w(f"variants   {', '.join(d['variants'])} (classify uses "
          f"{'float32' if 'float32' in d['variants'] else d['variants'][0]} by default)\n")
    else:
        w("variants   none: this bundle only computes features (edgert features)\n")
    return 0

"""``edgert import SOURCE -o BUNDLE [--force]``.

The CLI hook is this module's :func:`register`; the command package only imports it, so the
hook moves with a reorganised CLI by re-adding one import.
"""
from __future__ import annotations

import argparse
import sys

EPILOG = """\
SOURCE is what Edge Impulse Studio's Deployment page gives you: the "C++ library" (or Arduino
library) folder - the one holding model-parameters/ and tflite-model/ - or the .zip you
downloaded, or a firmware repository that contains such a folder (e.g. under src/). Only the
files of model-parameters/ and tflite-model/ are read, as data: nothing is compiled or run.

A TFLite model array is copied byte for byte; an EON-compiled model is rebuilt into an
equivalent .tflite from its tables. Spectral, raw, flatten, MFCC, MFE and spectrogram blocks
are imported; impulses with blocks edgert cannot run (Syntiant audio front ends, image,
object detection, custom DSP) are refused with the block named.

examples:
  edgert import ~/Downloads/my-project-v3.zip -o my-impulse
  edgert import firmware-repo/ -o my-impulse --force
  edgert info my-impulse
  edgert classify my-impulse recording.json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import an Edge Impulse deployment export as a bundle",
                       description="Read an Edge Impulse C++/Arduino library export (folder, "
                                   ".zip, or a repository containing one) and write an impulse "
                                   "bundle that edgert runs.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SOURCE",
                   help="export folder, .zip of one, or a repository folder containing one")
    p.add_argument("-o", "--output", metavar="BUNDLE", required=True,
                   help="bundle to write: a directory, or a .zip when the name ends so")
    p.add_argument("--force", action="store_true", help="replace BUNDLE if it exists")
    p.add_argument("--json", action="store_true",
                   help="print the written impulse.json and notes as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..cli.output import emit_json
    from .bundle_writer import import_export
    rep = import_export(args.source, args.output, force=args.force)
    if args.json:
        emit_json({"bundle": rep.bundle, "impulse": rep.document, "notes": rep.notes})
        return 0
    d = rep.document
    w = sys.stdout.write
    prov = d["provenance"]
    proj = d.get("project") or {}
    w(f"imported {prov['export_path']} -> {rep.bundle}\n")
    if proj:
        w(f"project  {proj.get('name', '?')} (id {proj.get('id', '?')}, deploy version "
          f"{proj.get('deploy_version', '?')}); SDK layout {prov['sdk_era']}\n")
    i = d["input"]
    w(f"input    {', '.join(i['axes'])} at {i['frequency']:g} Hz, window "
      f"{i['window_size_ms']:g} ms\n")
    for b in d["dsp"]:
        w(f"dsp {b['id']:<5} {b['type']} v{b['implementation_version']}\n")
    for b in d["learn"]:
        extra = f" labels {', '.join(b['labels'])}" if "labels" in b else ""
        w(f"learn {b['id']:<3} {b['type']}{extra}\n")
    for note in rep.notes:
        w(f"note     {note}\n")
    w(f"next: edgert info {rep.bundle}; edgert classify {rep.bundle} RECORDING\n")
    return 0

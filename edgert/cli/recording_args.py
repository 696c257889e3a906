"""Arguments and loading shared by the commands that run an impulse over one recording
(``classify``, ``features``)."""
from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger("edgert.cli")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (``--threads 0`` is a usage error, not ignored)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def axis_list(text: str) -> list[str]:
    """argparse type: comma-separated axis names (``gyrX,gyrY,gyrZ``)."""
    names = [a.strip() for a in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated axis names, got {text!r}")
    return names


def add_recording_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="BUNDLE", help="impulse bundle directory or .zip")
    p.add_argument("file", metavar="FILE",
                   help="recording: data-acquisition JSON/CBOR, CSV (timestamp ms, axes...) or "
                        "16-bit PCM mono WAV")
    p.add_argument("--axes", type=axis_list, metavar="A,B,C",
                   help="the recording's columns to use, one per impulse axis in the impulse's "
                        "order, when their names differ from the impulse's (e.g. --axes "
                        "gyrX,gyrY,gyrZ for an accX,accY,accZ impulse); by default columns "
                        "are matched by name")
    p.add_argument("--backend", choices=("native", "tflite", "auto"), default="auto",
                   help="engine backend for the networks (default: auto)")
    p.add_argument("--hmac-key", metavar="KEY",
                   help="verify the document's HS256 signature with this key")
    p.add_argument("--label", help="the recording's expected label (default: from the file "
                                   "name)")


def load_impulse_and_recording(args: argparse.Namespace) -> tuple[Any, Any]:
    from ..recording import load_recording
    from ..runtime.impulse import Impulse
    imp = Impulse.load(args.bundle, backend=args.backend)
    rec = load_recording(args.file, hmac_key=args.hmac_key, label=args.label)
    if rec.signature_valid is False:
        log.warning("%s: the HS256 signature does not match the given key", args.file)
    return imp, rec


__all__ = ["add_recording_args", "axis_list", "load_impulse_and_recording", "positive_int"]

"""What the CLI writes to stdout: machine output only (``--json``); logs go to stderr."""
from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(obj: Any) -> None:
    """Write one JSON document to stdout (the only thing a --json command prints there)."""
    json.dump(obj, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def plural(n: int, noun: str) -> str:
    """``1 window``, ``26 windows``: counts in the human-readable output."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


__all__ = ["emit_json", "plural"]

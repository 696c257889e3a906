"""The ingestion API's label inference from a file name - one rule shared by the recording
reader, the dataset index and the ingestion server.

Upstream writes ``^[a-zA-Z0-9\\s-_]+`` (a JavaScript class in which ``\\s-_`` means whitespace,
``-`` and ``_``); Python rejects a range starting at a class escape, so ``-`` is escaped here.
"""
from __future__ import annotations

import os
import re
from typing import Optional

LABEL_RE = re.compile(r"^[a-zA-Z0-9\s\-_]+")


def infer_label(filename: str) -> Optional[str]:
    """The label upstream derives from a file name: the longest matching prefix of its base
    name (``idle.01.json`` -> ``idle``); None when nothing matches."""
    m = LABEL_RE.match(os.path.basename(filename))
    return m.group(0) if m else None

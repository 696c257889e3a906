"""Which columns of a recording feed which axes of an impulse.

Columns are matched by name: every impulse axis must be a column of the recording (extra
columns are ignored, order does not matter). When the names differ (a recording of ``gyrX,
gyrY, gyrZ`` given to an ``accX, accY, accZ`` impulse) nothing is guessed: the user maps them
explicitly with ``use_axes`` (``--axes`` on the command line), the recording columns to use,
one per impulse axis in the impulse's order.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..errors import InputError


def select_columns(values: np.ndarray, have: Sequence[str], want: Sequence[str],
                   use_axes: Optional[Sequence[str]] = None, where: str = "the recording"
                   ) -> np.ndarray:
    """The columns of ``values`` (named ``have``) that feed the impulse axes ``want``, in
    ``want``'s order (contiguous). ``use_axes``: the explicit mapping (recording columns, one
    per impulse axis). ``InputError`` naming both sets when they do not fit."""
    have = [str(h) for h in have]
    if len(set(have)) != len(have):
        dup = sorted({h for h in have if have.count(h) > 1})
        raise InputError(f"{where} names axis {dup[0]!r} more than once ({have})")
    if use_axes is not None:
        use = [str(a) for a in use_axes]
        if len(use) != len(want):
            raise InputError(f"--axes/use_axes maps {len(use)} recording columns {use} to the "
                             f"impulse's {len(want)} axes {list(want)}: give exactly one column "
                             "per impulse axis, in the impulse's order")
        unknown = [u for u in use if u not in have]
        if unknown:
            raise InputError(f"--axes/use_axes names {unknown}, which {where} does not have "
                             f"(its columns: {have})")
        idx = [have.index(u) for u in use]
    else:
        missing = [w for w in want if w not in have]
        if missing:
            hint = (f"; if its columns {have} measure the impulse's axes, map them explicitly "
                    f"with --axes {','.join(have[:len(want)])} (use_axes= in Python), one "
                    "recording column per impulse axis, in the impulse's order"
                    if len(have) >= len(want) else "")
            raise InputError(f"{where} has axes {have} but the impulse needs {list(want)} "
                             f"(missing {missing}); columns are matched by name{hint}")
        idx = [have.index(w) for w in want]
    if idx == list(range(values.shape[1])):
        return values
    return np.ascontiguousarray(values[:, idx])


__all__ = ["select_columns"]

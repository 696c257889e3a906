"""The compiled model as plain data: a :class:`Plan` of :class:`PlanTensor` and :class:`PlanOp`
records laid out like the C structs of ``csrc/edgert.h`` (engine section), with the engine's
constants read from the C core (``lib.EDGERT_*``) so that they cannot drift from the header.

:mod:`.compiler` makes plans, :mod:`.native` runs them, :mod:`.export` writes them as C.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .._ffi import lib

DT_FLOAT32 = lib.EDGERT_DTYPE_FLOAT32
DT_INT32 = lib.EDGERT_DTYPE_INT32
DT_INT16 = lib.EDGERT_DTYPE_INT16
DT_INT8 = lib.EDGERT_DTYPE_INT8
SPACE_ARENA = lib.EDGERT_SPACE_ARENA
SPACE_CONST = lib.EDGERT_SPACE_CONST
#: op name (TFLite's builtin spelling) -> EDGERT_OP_* code, every op the C engine has
OP: dict[str, int] = {name[len("EDGERT_OP_"):]: getattr(lib, name) for name in dir(lib)
                      if name.startswith("EDGERT_OP_")
                      and name not in ("EDGERT_OP_COUNT", "EDGERT_OP_MAX_INPUTS")}
MAX_OP_INPUTS = lib.EDGERT_OP_MAX_INPUTS
MAX_IO = lib.EDGERT_PLAN_MAX_IO
#: packed int16 weight copies are made up to this depth (host plans only)
WIDE_MAX = lib.EDGERT_ENGINE_WIDE_MAX
ALIGN = lib.EDGERT_ARENA_ALIGN

ELEMENT_BYTES = {DT_FLOAT32: 4, DT_INT32: 4, DT_INT16: 2, DT_INT8: 1}
NUMPY_DTYPE = {DT_FLOAT32: np.float32, DT_INT32: np.int32, DT_INT16: np.int16,
               DT_INT8: np.int8}


@dataclass
class PlanTensor:
    dtype: int
    space: int
    dims: tuple[int, int, int, int]
    name: str = ""
    data: Optional[np.ndarray] = None      # constants
    offset: int = 0
    graph_index: Optional[int] = None

    @property
    def bytes(self) -> int:
        d = self.dims
        return d[0] * d[1] * d[2] * d[3] * ELEMENT_BYTES[self.dtype]


@dataclass
class PlanOp:
    type: int
    dtype: int
    inputs: list[int]
    out: int
    params: dict[str, Any]
    source: str = ""


@dataclass
class Plan:
    """The compiled model. ``consts`` is the constant blob (uint8), ``arena_bytes`` the arena
    every invoke needs."""

    tensors: list[PlanTensor]
    ops: list[PlanOp]
    inputs: list[int]
    outputs: list[int]
    arena_bytes: int
    consts: np.ndarray
    aliases: int = 0

    @property
    def consts_bytes(self) -> int:
        return int(self.consts.size)


__all__ = ["ALIGN", "DT_FLOAT32", "DT_INT8", "DT_INT16", "DT_INT32", "ELEMENT_BYTES", "MAX_IO",
           "MAX_OP_INPUTS", "NUMPY_DTYPE", "OP", "Plan", "PlanOp", "PlanTensor", "SPACE_ARENA",
           "SPACE_CONST", "WIDE_MAX"]

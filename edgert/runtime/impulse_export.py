"""A compiled impulse plan written as C99 source: the DSP and learn tables, the networks'
engine plans and constant blobs, the K-means arrays and the plan record, all ``const``, so
the same C core runs the impulse with no Python, no parsing and no malloc - the device (or
the pure-C benchmark) runs exactly what the host tested.

    from edgert.runtime.impulse_export import impulse_plan_sources
    source, header = impulse_plan_sources(impulse.plan("int8"), name="motion")
    # source defines const edgert_impulse_plan motion_impulse and
    #   const char *const motion_labels[]; header declares them with MOTION_SCRATCH_BYTES
    #   (scratch for one window), MOTION_WINDOW_VALUES, MOTION_N_LABELS, ...
    # on the device:
    #   static uint32_t scratch[(MOTION_SCRATCH_BYTES + 3) / 4];
    #   edgert_impulse_result r;
    #   edgert_impulse_run_window(&motion_impulse, window, MOTION_WINDOW_VALUES, &r, NULL,
    #                             scratch, sizeof scratch);

Every record is written field by field from the plan's own C structs (cffi introspection), so
nothing is re-derived here: floats as exact hexadecimal literals, pointer fields as the
addresses of the const arrays written alongside. ``microcontroller=True`` writes the networks
without the host-only weight copies (packed int16 / transposed float weights: the same results,
smaller constants).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from .._ffi import check, ffi, lib
from ..engine.export import c_identifier, plan_to_c
from ..engine.plan import Plan

_DSP_UNION = {lib.EDGERT_DSP_SPECTRAL: "spectral", lib.EDGERT_DSP_RAW: "raw",
              lib.EDGERT_DSP_FLATTEN: "flatten", lib.EDGERT_DSP_AUDIO: "audio"}


def _float(v: float, cname: str) -> str:
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return float(v).hex() + ("f" if cname == "float" else "")


def _value(v: Any, ctype: Any, path: str, field: Callable[[str], Optional[str]]) -> str:
    """C initializer of cdata/value ``v`` of cffi type ``ctype``; ``field(path)`` may
    override any field (it must for pointers, and name the member of a union)."""
    given = field(path)
    kind = ctype.kind
    if given is not None and kind != "union":
        return given
    if kind == "primitive":
        if ctype.cname in ("float", "double"):
            return _float(float(v), ctype.cname)
        return str(int(v))
    if kind == "array":
        return "{" + ", ".join(_value(v[i], ctype.item, f"{path}[{i}]", field)
                               for i in range(ctype.length)) + "}"
    if kind == "pointer":
        if v != ffi.NULL:
            raise ValueError(f"{path}: a pointer the writer does not know")
        return "0"
    if kind == "struct":
        return "{" + ", ".join(f".{n} = " + _value(getattr(v, n), f.type, f"{path}.{n}", field)
                               for n, f in ctype.fields) + "}"
    if kind == "union" and given:
        f = dict(ctype.fields)[given]
        return "{." + given + " = " + _value(getattr(v, given), f.type, f"{path}.{given}",
                                             field) + "}"
    raise TypeError(f"{path}: cannot write a {kind} field")


def _array(ctype: str, name: str, values: np.ndarray) -> str:
    flat = np.asarray(values).reshape(-1)
    if ctype == "float":
        items = [_float(float(x), "float") for x in flat]
    else:
        items = [str(int(x)) for x in flat]
    rows = [", ".join(items[i:i + 8]) for i in range(0, len(items), 8)] or ["0"]
    return (f"static const {ctype} {name}[{max(len(items), 1)}] = {{\n    "
            + ",\n    ".join(rows) + "\n};\n")


def _pointer_array(cdata: Any, ctype: str, count: int) -> np.ndarray:
    dtype = np.float32 if ctype == "float" else np.int32
    if count == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(ffi.buffer(cdata, count * 4), dtype=dtype).copy()


def exported_networks(plan: Any, microcontroller: bool = False) -> dict[int, Plan]:
    """The engine plans :func:`impulse_plan_sources` writes, by learn index: the plan's own,
    or (``microcontroller``) each network recompiled without the host-only weight copies."""
    c = plan.c
    nets: dict[int, Plan] = {}
    for i in range(c.n_learn):
        rec = c.learn[i]
        if rec.type in (lib.EDGERT_LEARN_CLASSIFIER, lib.EDGERT_LEARN_GMM):
            nets[i] = (_recompile(plan.network_sources[i]) if microcontroller
                       else plan.network_plans[i])
    return nets


def impulse_plan_sources(plan: Any, name: str = "impulse",
                         microcontroller: bool = False,
                         networks: Optional[dict[int, Plan]] = None,
                         scratch_bytes: Optional[tuple[int, str]] = None,
                         entry_point: bool = False) -> tuple[str, str]:
    """C99 source and header of a compiled :class:`~edgert.runtime.impulse_plan.ImpulsePlan`
    (see the module docstring). ``microcontroller=True`` recompiles each network without the
    host-only weight copies (same results, smaller constants); ``networks`` passes
    :func:`exported_networks`' result when the caller has it already.

    ``scratch_bytes`` = (bytes, which build measured them) replaces the header's scratch figure
    (by default this host build's query) - ``edgert export-c`` gives the float32 DSP build's.
    ``entry_point`` adds ``int NAME_classify(window, result, timing, scratch, scratch_bytes)``
    (edgert_impulse_run_window on this plan) and ``NAME_SCRATCH_WORDS`` (uint32_t words of
    scratch, for a static buffer)."""
    from ..engine.native import CPlan
    n = c_identifier(name)
    c = plan.c
    out = [f"/* Generated by edgert.runtime.impulse_export: the compiled impulse plan "
           f"'{name}'", " * (see the impulse plan section of edgert.h). Do not edit. */",
           "#include <math.h>", '#include "edgert.h"', ""]
    nets = networks if networks is not None else exported_networks(plan, microcontroller)
    consts_bytes: dict[int, int] = {}
    cplans = {}
    for i, p in sorted(nets.items()):
        cplans[i] = CPlan(p)            # validated by the C core before it is written
        src = plan_to_c(p, f"{n}_net{i}", f"learn block {plan.learn_ids[i]}")
        out += [line for line in src.splitlines() if not line.startswith("#include")]
        consts_bytes[i] = p.consts_bytes
        out.append("")
    # K-means and GMM arrays
    for i in range(c.n_learn):
        rec = c.learn[i]
        if rec.type == lib.EDGERT_LEARN_KMEANS:
            k = rec.kmeans
            out.append(_array("int32_t", f"{n}_km{i}_axes", _pointer_array(k.axes, "int32_t",
                                                                            k.n_axes)))
            for field, count in (("mean", k.n_axes), ("scale", k.n_axes),
                                 ("centers", k.n_axes * k.n_clusters),
                                 ("max_error", k.n_clusters)):
                out.append(_array("float", f"{n}_km{i}_{field}",
                                  _pointer_array(getattr(k, field), "float", count)))
        elif rec.type == lib.EDGERT_LEARN_GMM:
            out.append(_array("int32_t", f"{n}_gmm{i}_select",
                              _pointer_array(rec.select, "int32_t", rec.n_select)))
    # DSP table
    out.append(f"static const edgert_impulse_dsp {n}_dsp[{c.n_dsp}] = {{")
    for i in range(c.n_dsp):
        rec = c.dsp[i]
        member = _DSP_UNION[rec.type]
        out.append("    " + _value(rec, ffi.typeof(rec), "dsp",
                                   lambda p, m=member: m if p == "dsp.p" else None) + ",")
    out.append("};\n")
    # learn table
    if c.n_learn:
        out.append(f"static const edgert_impulse_learn {n}_learn[{c.n_learn}] = {{")
        for i in range(c.n_learn):
            rec = c.learn[i]

            def field(path: str, i: int = i, rec: Any = rec) -> Optional[str]:
                name_ = path.rsplit(".", 1)[-1]
                if path == "learn.net":
                    return f"&{n}_net{i}_plan" if i in nets else "0"
                if path == "learn.consts":
                    return f"{n}_net{i}_consts" if i in nets else "0"
                if path == "learn.consts_bytes":
                    return f"{consts_bytes[i]}u" if i in nets else "0"
                if path == "learn.select":
                    return f"{n}_gmm{i}_select" if rec.type == lib.EDGERT_LEARN_GMM else "0"
                if path.startswith("learn.kmeans.") and name_ in (
                        "axes", "mean", "scale", "centers", "max_error"):
                    return f"{n}_km{i}_{name_}" if rec.type == lib.EDGERT_LEARN_KMEANS else "0"
                return None
            out.append("    " + _value(rec, ffi.typeof(rec), "learn", field) + ",")
        out.append("};\n")
    learn_ref = f"{n}_learn" if c.n_learn else "0"
    out.append(f"const edgert_impulse_plan {n}_impulse = " + _value(
        c[0], ffi.typeof(c[0]), "plan",
        lambda p: f"{n}_dsp" if p == "plan.dsp" else (learn_ref if p == "plan.learn" else None))
        + ";\n")
    labels = ", ".join('"' + lab.replace("\\", "\\\\").replace('"', '\\"') + '"'
                       for lab in plan.labels) or "0"
    out += [f"const char *const {n}_labels[{max(len(plan.labels), 1)}] = {{{labels}}};", ""]
    if entry_point:
        out += [f"int {n}_classify(const float *window, edgert_impulse_result *result,",
                f"{' ' * (len(n) + 14)}edgert_impulse_timing *timing, void *scratch, "
                "size_t scratch_bytes)", "{",
                f"    return edgert_impulse_run_window(&{n}_impulse, window, {plan.window_values}u, "
                "result,", "                                     timing, scratch, "
                "scratch_bytes);", "}", ""]
    if scratch_bytes is None:
        scratch_bytes = (_scratch_bytes(plan, cplans), "")
    return "\n".join(out), _header(plan, n, scratch_bytes, entry_point)


def _scratch_bytes(plan: Any, cplans: dict[int, Any]) -> int:
    """edgert_impulse_scratch_size for one window of the plan with the written networks."""
    c = plan.c
    learn = ffi.new("edgert_impulse_learn[]", max(c.n_learn, 1))
    for i in range(c.n_learn):
        learn[i] = c.learn[i]
        if i in cplans:
            learn[i].net, learn[i].consts = cplans[i].c, cplans[i].consts_ptr
            learn[i].consts_bytes = cplans[i].consts.size
    copy = ffi.new("edgert_impulse_plan *", c[0])
    copy.learn = learn
    out = ffi.new("size_t *")
    check(lib.edgert_impulse_scratch_size(copy, 1, out), "sizing the exported plan")
    return int(out[0])


def _header(plan: Any, n: str, scratch: tuple[int, str], entry_point: bool = False) -> str:
    """The header declaring what the source defines, with the sizes."""
    N = n.upper()
    nb, measured_by = scratch
    if measured_by:
        note = ["/* edgert_impulse_scratch_size(.., 1, ..) of", f" * {measured_by}.",
                " * A build with other options may need another size: a run with too little",
                " * returns EDGERT_ERR_SCRATCH (edgert_impulse_scratch_size tells at start-up). */"]
    else:
        note = ["/* edgert_impulse_scratch_size(.., 1, ..) of the host build that wrote this; "
                "a build",
                " * with other options (-DEDGERT_DSP_FLOAT32) may need another size: a run "
                "with too",
                " * little returns EDGERT_ERR_SCRATCH, so query it once at start-up to be "
                "sure. */"]
    entry = []
    if entry_point:
        entry = [f"#define {N}_SCRATCH_WORDS (({N}_SCRATCH_BYTES + 3u) / 4u)",
                 f"/* One raw window ({N}_WINDOW_VALUES floats: {N}_WINDOW_SAMPLES rows of "
                 f"{N}_N_AXES",
                 " * interleaved axes) -> *result. timing: NULL, or per-stage ticks of its "
                 "clock;",
                 f" * scratch: at least {N}_SCRATCH_BYTES bytes (any alignment), not shared "
                 "between",
                 " * concurrent calls. Returns 0 (EDGERT_OK) or a negative edgert status "
                 "(edgert_strerror). */",
                 f"int {n}_classify(const float *window, edgert_impulse_result *result,",
                 f"{' ' * (len(n) + 14)}edgert_impulse_timing *timing, void *scratch, "
                 "size_t scratch_bytes);"]
    return "\n".join([
        f"/* Generated by edgert.runtime.impulse_export: the impulse plan '{n}'. */",
        f"#ifndef {N}_IMPULSE_H", f"#define {N}_IMPULSE_H", '#include "edgert.h"',
        *note,
        f"#define {N}_SCRATCH_BYTES {nb}u",
        f"#define {N}_WINDOW_SAMPLES {plan.window_samples}",
        f"#define {N}_N_AXES {plan.n_axes}",
        f"#define {N}_WINDOW_VALUES {plan.window_values}",
        f"#define {N}_N_FEATURES {plan.n_features}",
        f"#define {N}_N_LABELS {plan.n_labels}",
        f"#define {N}_HAS_ANOMALY {1 if plan.anomaly >= 0 else 0}",
        f"extern const edgert_impulse_plan {n}_impulse;",
        f"extern const char *const {n}_labels[{max(plan.n_labels, 1)}];",
        *entry,
        "#endif", ""])


def _recompile(model_bytes: bytes) -> Plan:
    from ..engine.compiler import compile_graph
    from ..engine.reader import read_graph
    return compile_graph(read_graph(model_bytes), wide_weights=False)


__all__ = ["impulse_plan_sources", "exported_networks"]

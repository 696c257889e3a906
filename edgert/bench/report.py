"""The table a person reads (``edgert bench`` without ``--json``), from the same document the
JSON output is (:mod:`.schema`)."""
from __future__ import annotations

from typing import Any, Optional


def _us(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _bytes(v: Optional[int]) -> str:
    if v is None:
        return "-"
    if v >= 10 * 1024 * 1024:
        return f"{v / 1024 / 1024:.1f} MiB"
    if v >= 10 * 1024:
        return f"{v / 1024:.1f} KiB"
    return f"{v} B"


def _x(v: Optional[float]) -> str:
    return "-" if v is None else (f"{v:.1f}x" if v >= 10 else f"{v:.2f}x")


def _table(head: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    width = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "  ".join(str(c).rjust(width[i]) if i in right else str(c).ljust(width[i])
                         for i, c in enumerate(r)).rstrip()
    return [line(head)] + [line(r) for r in rows]


def render(doc: dict[str, Any]) -> str:
    """The whole report as text."""
    m = doc["machine"]
    meth = doc["method"]
    subj = doc["subject"]
    out: list[str] = []
    if doc["kind"] == "bundle":
        out.append(f"edgert bench {subj['path']}: {subj.get('project') or 'impulse'}, variant "
                   f"{subj.get('variant')}; {subj['window_samples']}-sample windows of "
                   f"{', '.join(subj['axes'])} at {subj['frequency']:g} Hz")
        out.append(f"one window per call runs through: {subj.get('one_window_path')}")
    else:
        out.append(f"edgert bench-model {subj['path']}: {subj['bytes']} B, engine "
                   f"{subj['engine']}" + (f" (not native: {subj['native_unsupported']})"
                                          if subj.get("native_unsupported") else ""))
    lb, la = m.get("load_average_before"), m.get("load_average_after")
    load = (f"load average (1 min) {lb[0]:.2f} before, {la[0]:.2f} after"
            if lb and la else "load average unknown")
    out.append(f"{m['hostname']}: {m['cpu']}, {m['arch']}, {m['logical_cpus']} logical CPUs; "
               f"{load}; {doc['date']}")
    out.append(f"{meth['elapsed_seconds']:.1f} s of interleaved measurement in "
               f"{meth['rounds']} rounds; timer overhead {meth['timer_overhead_ns']['wall']:.0f} "
               f"ns per call (not subtracted)")
    out.append("")
    unit = "inference" if doc["kind"] == "model" else "window"
    out.append(f"microseconds per {unit}: CPU time (min / median / p99) and wall time "
               "(median / p99)")
    rows = []
    for s in doc["stages"]:
        c, w = s["cpu_us"], s["wall_us"]
        rows.append([s["stage"], s["pipeline"] + (" (ref)" if s["reference"] else ""),
                     str(s["samples"]), _us(c["min"]), _us(c["median"]), _us(c["p99"]),
                     _us(w["median"]), _us(w["p99"])])
    out += _table(["stage", "pipeline", "samples", "cpu min", "cpu median", "cpu p99",
                   "wall median", "wall p99"], rows, {2, 3, 4, 5, 6, 7})
    if doc["ratios"]:
        out += ["", "speed-up: reference median / edgert median, measured in this run, "
                    "interleaved"]
        out += _table(["stage", "edgert", "reference", "CPU", "wall"],
                      [[r["stage"], r["pipeline"], r["reference"], _x(r["cpu"]), _x(r["wall"])]
                       for r in doc["ratios"]], {3, 4})
    tp = doc.get("throughput")
    if tp:
        out += ["", f"whole recording: {tp['windows']} windows "
                    f"({tp['recording_seconds']:.0f} s of data) per classify call"]
        out += _table(["threads", "runs", "windows/s", "CPU us/window", "wall s",
                       "speed-up vs 1 thread"],
                      [[str(r["threads"]), str(r["runs"]),
                        "-" if r["windows_per_s"] is None else f"{r['windows_per_s']:,.0f}",
                        _us(r["cpu_us_per_window"]),
                        "-" if r["wall_s"] is None else f"{r['wall_s']:.4f}",
                        _x(r["speedup_vs_1_thread"])] for r in tp["runs"]],
                      {0, 1, 2, 3, 4, 5})
    if doc["memory"]:
        out += ["", "memory (method: arena/plan/file = exact counts; tracemalloc = Python and "
                    "numpy heap; rss_delta = resident growth)"]
        out += _table(["pipeline", "bytes", "method", "what"],
                      [[r["pipeline"], _bytes(r["bytes"]), r["method"], r["what"]]
                       for r in doc["memory"]], {1})
    if doc["checks"]:
        out += ["", "checks (what is timed gives the right answers)"]
        out += [f"  {'ok  ' if c['ok'] else 'FAIL'} {c['what']}: {c['result']}"
                for c in doc["checks"]]
    if doc["unavailable"]:
        out += ["", "not measured"]
        out += [f"  {u['pipeline']}" + (f" ({u['stage']})" if u["stage"] else "")
                + f": {u['reason']}" for u in doc["unavailable"]]
    return "\n".join(out) + "\n"


__all__ = ["render"]

"""PNG plots of bench documents (needs matplotlib: ``pip install 'edgert[plot]'``).

- :func:`plot_bundle`: one bundle - median CPU time per window of every stage, edgert and each
  reference side by side (log scale, p99 as a whisker), the speed-ups in the labels.
- :func:`plot_configurations`: several bundles - edgert's per-window latency by stage, and
  the speed-up over the per-window Python pipeline, one bar group per configuration.
- :func:`plot_model_ratios`: several ``bench-model`` documents - interpreter / edgert ratios.

Every figure names its machine, date and load, and what the ratios divide.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, Union

from ..errors import EdgertError


def _plt() -> Any:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise EdgertError("plotting needs matplotlib: pip install 'edgert[plot]'") from exc
    return plt


def _log_ticks(ax: Any, suffix: str = "") -> None:
    """Readable log-scale ticks: 1-2-5 steps, no minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
    lo, hi = ax.get_xlim()
    ticks = [m * 10.0 ** e for e in range(-3, 7) for m in (1, 2, 5)
             if lo <= m * 10.0 ** e <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}{suffix}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _footer(doc: dict) -> str:
    m = doc["machine"]
    load = m.get("load_average_before")
    return (f"{m['hostname']}: {m['cpu']} ({m['logical_cpus']} CPUs), {doc['date']}, load "
            f"{load[0]:.1f}" if load else f"{m['hostname']}: {m['cpu']}, {doc['date']}")


def plot_bundle(doc: dict, path: Union[str, Path]) -> Path:
    """Median CPU microseconds per window of each stage and pipeline (whisker: p99)."""
    plt = _plt()
    stages = [s for s in doc["stages"] if s["cpu_us"]["median"] is not None]
    if not stages:
        raise EdgertError("nothing to plot: the result has no timed stage")
    order = ["dsp", "classification", "anomaly", "impulse", "stream", "inference"]
    stages.sort(key=lambda s: (order.index(s["stage"]) if s["stage"] in order else 99,
                               s["reference"]))
    labels, med, err, colors = [], [], [], []
    for s in stages:
        c = s["cpu_us"]
        rs = [r for r in doc["ratios"] if s["reference"] and r["stage"] == s["stage"]
              and r["reference"] == s["pipeline"] and r["cpu"]]
        extra = ("  (" + ", ".join(f"{r['cpu']:.1f}x {r['pipeline']}" for r in rs) + ")"
                 if rs else "")
        labels.append(f"{s['stage']}: {s['pipeline']}{extra}")
        med.append(c["median"])
        err.append(max(0.0, (c["p99"] or c["median"]) - c["median"]))
        colors.append("#999999" if s["reference"] else "#1f77b4")
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(stages) + 1.8))
    y = list(range(len(stages)))[::-1]
    ax.barh(y, med, xerr=[[0] * len(err), err], color=colors, capsize=2)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize="small")
    ax.set_xscale("log")
    ax.set_xlabel("CPU microseconds per window (median; whisker: p99), log scale")
    _log_ticks(ax)
    subj = doc["subject"]
    ax.set_title(f"{subj['path']} ({subj.get('variant') or ''}): edgert (blue) and reference "
                 "pipelines (grey);\nin brackets: reference / edgert, CPU medians, same run",
                 fontsize="medium")
    fig.text(0.01, 0.01, _footer(doc), fontsize="x-small", color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _stage(doc: dict, stage: str, pipeline: str) -> Any:
    return next((s for s in doc["stages"] if s["stage"] == stage and
                 s["pipeline"] == pipeline), None)


def plot_configurations(docs: Sequence[dict], names: Sequence[str],
                        path: Union[str, Path]) -> Path:
    """Left: edgert's median CPU us per window by stage (one window per call) and per window of
    a whole recording; right: speed-up over the per-window Python pipeline (same run)."""
    plt = _plt()
    import numpy as np
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 0.6 * len(docs) + 3.2),
                                 gridspec_kw={"width_ratios": [3, 2]})
    y = np.arange(len(docs))[::-1]
    h = 0.2
    series = [("dsp", "edgert", "DSP (one window per call)", "#1f77b4"),
              ("classification", "edgert", "network (one window per call)", "#ff7f0e"),
              ("anomaly", "edgert", "anomaly (one window per call)", "#2ca02c"),
              ("impulse", "edgert-whole-recording", "whole impulse, per window of a whole "
               "recording", "#9467bd")]
    for k, (stage, pipe, label, color) in enumerate(series):
        vals = []
        for d in docs:
            s = _stage(d, stage, pipe)
            vals.append(s["cpu_us"]["median"] if s else 0.0)
        ax.barh(y + (1.5 - k) * h, vals, height=h, color=color, label=label)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize="small")
    ax.set_xscale("log")
    ax.set_xlabel("edgert, CPU microseconds per window (median), log scale")
    _log_ticks(ax)
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    for k, (pipe, label, color) in enumerate(
            [("edgert", "one window per call", "#17becf"),
             ("edgert-whole-recording", "whole recording", "#9467bd")]):
        vals = []
        for d in docs:
            r = next((r for r in d["ratios"] if r["stage"] == "impulse" and
                      r["pipeline"] == pipe and r["reference"] == "python-reference"), None)
            vals.append(r["cpu"] if r and r["cpu"] else 0.0)
        bx.barh(y + (0.5 - k) * 0.35, vals, height=0.35, color=color, label=label)
        for yy, v in zip(y + (0.5 - k) * 0.35, vals):
            if v:
                bx.text(v, yy, f" {v:.0f}x", va="center", fontsize="x-small")
    bx.set_yticks(y)
    bx.set_yticklabels([])
    bx.set_xscale("log")
    bx.set_xlabel("speed-up over the per-window Python pipeline (numpy/scipy\nDSP + "
                  "tflite-micro + numpy K-means), CPU medians, same run")
    _log_ticks(bx, "x")
    bx.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    fig.suptitle("edgert per-window latency by stage across example configurations",
                 fontsize="medium")
    fig.text(0.01, 0.01, _footer(docs[0]), fontsize="x-small", color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_model_ratios(docs: Sequence[dict], names: Sequence[str],
                      path: Union[str, Path]) -> Path:
    """Per model: each interpreter's median CPU time per inference / edgert's (batched and
    single), measured in the same run; 1x marked."""
    plt = _plt()
    import numpy as np
    refs = ["litert-xnnpack", "litert-reference", "tflite-micro"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.7 * len(docs) + 3.0), sharey=True)
    y = np.arange(len(docs))[::-1]
    colors = {"litert-xnnpack": "#1f77b4", "litert-reference": "#ff7f0e",
              "tflite-micro": "#2ca02c"}
    for ax, how in zip(axes, ("batched", "single")):
        for k, ref in enumerate(refs):
            vals = []
            for d in docs:
                r = next((r for r in d["ratios"] if r["reference"] == ref and
                          r["pipeline"].endswith(how)), None)
                vals.append(r["cpu"] if r and r["cpu"] else 0.0)
            yy = y + (1 - k) * 0.25
            ax.barh(yy, vals, height=0.25, color=colors[ref], label=ref)
            for a, v in zip(yy, vals):
                if v:
                    ax.text(v, a, f" {v:.1f}x", va="center", fontsize="x-small")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        _log_ticks(ax, "x")
        ax.set_xlabel(f"interpreter / edgert {how}, CPU median per inference, same run")
        ax.set_yticks(y)
        ax.set_yticklabels(names, fontsize="small")
    axes[0].legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(1.0, -0.2), ncol=3)
    fig.suptitle("MLPerf Tiny reference int8 models: how many times faster edgert is "
                 "(> 1x: edgert faster)", fontsize="medium")
    fig.text(0.01, 0.01, _footer(docs[0]), fontsize="x-small", color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


__all__ = ["plot_bundle", "plot_configurations", "plot_model_ratios"]

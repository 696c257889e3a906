"""Per-window score plot of a classified recording, written as a PNG.

Needs matplotlib (the ``plot`` extra: ``pip install edgert[plot]``); imported only when a plot
is asked for. Top panel: every label's probability per window (at the window's start time) and
the ``min_score`` threshold; bottom panel (when the impulse has an anomaly block): the anomaly
score and its threshold, anomalous windows marked.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import EdgertError
from ..runtime.results import ClassificationResult


def plot_path(plot: Union[str, Path], recording_name: str) -> Path:
    """Where ``--plot PLOT`` writes: PLOT itself, or ``PLOT/<recording>.scores.png`` when PLOT
    is a folder. EdgertError (before any work) when its folder does not exist."""
    out = Path(plot)
    if out.is_dir():
        return out / (Path(recording_name).stem + ".scores.png")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise EdgertError(f"--plot {plot}: the folder {parent} does not exist; create it or "
                          "give another path")
    return out


def plot_scores(result: ClassificationResult, path: Union[str, Path],
                title: Optional[str] = None) -> Path:
    """Write the score plot of ``result`` to ``path`` (PNG); returns the path."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise EdgertError("plotting needs matplotlib: pip install 'edgert[plot]'") from exc
    t = result.start_ms / 1000.0
    has_an = result.anomaly is not None
    has_p = result.probabilities is not None
    rows = int(has_p) + int(has_an)
    if rows == 0:
        raise EdgertError("nothing to plot: the impulse has no learn block")
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3.2 * rows), sharex=True, squeeze=False)
    ax_i = 0
    if has_p:
        ax = axes[ax_i, 0]
        ax_i += 1
        for i, lab in enumerate(result.labels):
            ax.plot(t, result.probabilities[:, i], label=lab, linewidth=1.2)
        ax.axhline(result.min_score, color="grey", linestyle="--", linewidth=0.8,
                   label=f"min_score {result.min_score:g}")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("probability")
        ax.legend(loc="upper right", fontsize="small", ncol=min(5, len(result.labels) + 1))
    if has_an:
        ax = axes[ax_i, 0]
        ax.plot(t, result.anomaly, color="black", linewidth=1.0, label="anomaly score")
        ax.axhline(result.anomaly_threshold, color="red", linestyle="--", linewidth=0.8,
                   label=f"threshold {result.anomaly_threshold:g}")
        bad = np.asarray(result.anomalous, dtype=bool)
        if bad.any():
            ax.scatter(t[bad], result.anomaly[bad], color="red", s=8, zorder=3,
                       label="anomalous window")
        ax.set_ylabel("anomaly")
        ax.legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlabel("window start (s)")
    fig.suptitle(title or f"{len(result)} windows, variant {result.variant}")
    fig.tight_layout()
    out = Path(path)
    try:
        fig.savefig(out, format="png", dpi=100)
    except OSError as exc:
        raise EdgertError(f"--plot {out}: cannot write the plot ({exc.strerror or exc})") \
            from None
    finally:
        plt.close(fig)
    return out


__all__ = ["plot_path", "plot_scores"]

"""The per-pair scatter of an evaluation: cosine to target (x) against cosine to source (y).

A good swap sits above the diagonal (closer to its source than to its target); retrieval hits and misses
are drawn differently. matplotlib (Agg canvas, no pyplot state) is imported only when a plot is asked for.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from infoswap.errors import InfoswapError


def write_scatter(report: dict, path: Path) -> None:
    """Writes the scatter PNG of the scored pairs atomically (temp file beside `path`, then rename)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if not path.parent.is_dir():
        raise InfoswapError(f"--plot: folder {path.parent} does not exist")
    scored = [p for p in report["pairs"] if p["status"] == "ok"]
    figure = Figure(figsize=(5, 5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for hit, marker, label in ((True, "o", "retrieved"), (False, "x", "not retrieved")):
        chosen = [p for p in scored if p["retrieved"] is hit]
        if chosen:
            axes.scatter([p["cos_to_target"] for p in chosen], [p["cos_to_source"] for p in chosen],
                         marker=marker, label=f"{label} ({len(chosen)})")
    axes.plot([-1, 1], [-1, 1], color="grey", linewidth=0.8, linestyle="--")
    values = [v for p in scored for v in (p["cos_to_target"], p["cos_to_source"])] or [0.0, 1.0]
    low, high = min(values) - 0.05, max(values) + 0.05
    axes.set(xlim=(low, high), ylim=(low, high), aspect="equal",
             xlabel="cosine to target (faceres)", ylabel="cosine to source (faceres)",
             title=f"{len(scored)} swaps: identity pulled towards source or target")
    if scored:
        axes.legend(loc="lower right")
    figure.tight_layout()
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(handle)
    try:
        figure.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

"""Loss curves of a training run as one PNG (the scalars tensorboard shows, read from the run's stats.jsonl).

    python tools/plot_training.py RUN_DIR OUT.png [--smooth 10]

One panel per group: the generator's total, the identity terms (L_pos, L_neg, L_recog), the attribute
terms (L_per, L_cyc), the adversarial pair (L_adv, L_D), L_info, and the mean λ of the first, middle and
last tap. Curves are smoothed with a trailing moving average over `--smooth` records.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

PANELS = (
    ("generator total", ("loss/total",)),
    ("identity (ICL, recognition)", ("loss/pos", "loss/neg", "loss/recog")),
    ("attributes", ("loss/per", "loss/cyc")),
    ("adversarial", ("loss/adv", "loss/D")),
    ("information restriction", ("loss/info",)),
    ("mean λ per tap", ("lambda/0", "lambda/5", "lambda/9")),
)


def smoothed(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    head = np.cumsum(values[: window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


def main() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--smooth", type=int, default=10)
    args = parser.parse_args()

    records = [json.loads(line) for line in (args.run_dir / "stats.jsonl").read_text().splitlines() if line]
    steps = np.array([r["step"] for r in records])
    figure = Figure(figsize=(12, 6.5), dpi=100)
    FigureCanvasAgg(figure)
    for k, (title, keys) in enumerate(PANELS):
        axes = figure.add_subplot(2, 3, k + 1)
        for key in keys:
            values = np.array([r.get(key, np.nan) for r in records], dtype=float)
            axes.plot(steps, smoothed(values, args.smooth), label=key.split("/")[1], linewidth=1.2)
        axes.set(title=title, xlabel="step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    images = steps[-1] * json.loads((args.run_dir / "config.json").read_text())["batch"]
    figure.suptitle(f"{args.run_dir.name}: {steps[-1]} steps, {images} pairs seen")
    figure.tight_layout()
    figure.savefig(args.out, format="png")


if __name__ == "__main__":
    main()

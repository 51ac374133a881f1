"""What a run writes while it trains: log.txt, stats.jsonl, tensorboard scalars and images (rank 0 only).

On resume, stats.jsonl lines and tensorboard events past the resumed step are dropped, so both read as
one uninterrupted run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from infoswap.train.checkpoint import atomic_write_text

STATS = "stats.jsonl"
LOG = "log.txt"


def truncate_stats(run_dir: Path, step: int) -> None:
    """Keeps the stats.jsonl records of steps ≤ `step` (those a resume from `step` does not repeat)."""
    path = Path(run_dir) / STATS
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    atomic_write_text(path, "".join(line + "\n" for line in kept))


class RunLog:
    """Rank 0 writes; on other ranks every method is a no-op."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool, start_step: int = 0):
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self.writer = None
        self.notes: list[str] = []
        if not enabled:
            return
        self._log = open(self.run_dir / LOG, "a", encoding="utf-8")
        self._stats = open(self.run_dir / STATS, "a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self.notes.append("tensorboard is not installed (pip install tensorboard): scalars go to "
                                  f"{STATS} only")
            else:
                self.writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=start_step or None)

    def print(self, message: str) -> None:
        """To the console (stderr, so that stdout stays for machine-readable output) and log.txt."""
        if not self.enabled:
            return
        tqdm.write(message, file=sys.stderr)
        self._log.write(message + "\n")
        self._log.flush()

    def stats(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._stats.write(json.dumps({"step": step, **values}) + "\n")
        self._stats.flush()
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(name, value, step)

    def image(self, step: int, tag: str, pixels: np.ndarray) -> None:
        """An (H, W, 3) uint8 RGB image into tensorboard."""
        if self.enabled and self.writer is not None:
            self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        if not self.enabled:
            return
        if self.writer is not None:
            self.writer.close()
        self._log.close()
        self._stats.close()

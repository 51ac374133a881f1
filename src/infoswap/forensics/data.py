"""Training batches as a pure function of the step: what makes a detector's resume bit-exact.

Step k takes positions k·B … (k + 1)·B − 1 of an endless sequence of epochs, each a permutation of the
rows drawn from (seed, epoch); its horizontal flips are drawn from (seed, step). Nothing random is carried
from step to step, so a run resumed at step k sees the batches an uninterrupted run would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from infoswap.forensics.crops import read_crops


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) float in [−1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


class StepBatches:
    """`batches(step)` -> (faces (B, 3, S, S) in [−1, 1], labels (B,) float: 1 fake, 0 real)."""

    def __init__(self, files: list[Path], labels: list[int], size: int, batch: int, seed: int):
        self.files, self.labels = files, np.asarray(labels, np.float32)
        self.size, self.batch, self.seed = size, batch, seed
        self._epoch: tuple[int, np.ndarray] | None = None

    def _order(self, epoch: int) -> np.ndarray:
        if self._epoch is None or self._epoch[0] != epoch:
            self._epoch = (epoch, np.random.default_rng([self.seed, 0, epoch]).permutation(len(self.files)))
        return self._epoch[1]

    def indices(self, step: int) -> np.ndarray:
        n = len(self.files)
        positions = np.arange(step * self.batch, (step + 1) * self.batch)
        return np.array([self._order(int(p // n))[p % n] for p in positions])

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        picked = self.indices(step)
        pixels = read_crops([self.files[i] for i in picked], self.size)
        flip = np.random.default_rng([self.seed, 1, step]).random(len(picked)) < 0.5
        pixels[flip] = pixels[flip, :, ::-1]
        return to_tensor(pixels), torch.from_numpy(self.labels[picked])

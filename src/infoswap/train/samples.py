"""The fixed sample grid written every N steps: sources along the top, targets down the side, swaps inside.

The same faces and the same noise every time (a private generator), so grids of different steps compare
and drawing them never moves the training RNG.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from infoswap.model.infoswap import InfoSwap
from infoswap.train.checkpoint import atomic_write
from infoswap.train.data import FaceIndex, load_face


def grid_faces(index: FaceIndex, count: int, resolution: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` sources and `count` other targets (count, 3, R, R), a seeded choice (repeats if too few)."""
    order = torch.randperm(len(index), generator=torch.Generator().manual_seed(seed)).tolist()
    picks = [index.files[order[i % len(order)]] for i in range(2 * count)]
    faces = torch.stack([load_face(p, resolution) for p in picks])
    return faces[:count], faces[count:]


def _to_pixels(x: torch.Tensor) -> np.ndarray:
    """(N, 3, R, R) in [-1, 1] -> (N, R, R, 3) uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def sample_grid(model: InfoSwap, sources: torch.Tensor, targets: torch.Tensor, seed: int) -> np.ndarray:
    """((T + 1)·R, (S + 1)·R, 3) uint8: cell (t, s) is source s swapped into target t."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    sources, targets = sources.to(device), targets.to(device)
    z_src = model.source_identity(sources, g)
    rows = [torch.cat([torch.ones_like(sources[:1]), sources])]
    for target in targets:
        swaps = model.swap(None, target[None].expand_as(sources), z_src=z_src, generator=g)
        rows.append(torch.cat([target[None], swaps]))
    model.train(was_training)
    cells = _to_pixels(torch.stack(rows).flatten(0, 1))  # ((T + 1)(S + 1), R, R, 3)
    res, cols = cells.shape[1], len(sources) + 1
    return cells.reshape(-1, cols, res, res, 3).transpose(0, 2, 1, 3, 4).reshape(-1, cols * res, 3)


def save_png(path: Path, pixels: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    atomic_write(Path(path), buffer.getvalue())

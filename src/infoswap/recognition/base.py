"""The interface every recogniser f offers the InfoSwap model: identity, 10 taps, and continuations.

A recogniser is a stem, a sequence of blocks and a head. Tap i is the output of block `taps[i]`, so
"continue from tap i" means running blocks taps[i]+1 … and the head on a replacement map Z_i.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Recognizer(nn.Module):
    """Base class: subclasses fill `stem`, `blocks`, `head`, `taps`, `input_size` and `crop`.

    `crop` is the (x0, y0, x1, y1) box, as fractions of the aligned face, that the network sees; it is cut
    and resized differentiably so that gradients reach whatever produced the aligned face.
    """

    name: str = "base"
    embedding_dim: int
    input_size: int
    crop: tuple[float, float, float, float]
    taps: tuple[int, ...]
    stem: nn.Module
    blocks: nn.ModuleList
    head: nn.Module

    def to_network_input(self, faces: torch.Tensor) -> torch.Tensor:
        """Aligned faces (B, 3, H, W) in [-1, 1] -> the network's own input (B, 3, S, S)."""
        raise NotImplementedError

    def crop_and_resize(self, faces: torch.Tensor) -> torch.Tensor:
        """Differentiable central crop + bilinear resize to (B, 3, input_size, input_size)."""
        h, w = faces.shape[-2:]
        x0, y0, x1, y1 = self.crop
        region = faces[..., round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]
        if region.shape[-1] == self.input_size and region.shape[-2] == self.input_size:
            return region
        return F.interpolate(region, size=(self.input_size, self.input_size), mode="bilinear",
                             align_corners=False, antialias=region.shape[-1] > self.input_size)

    def _embed(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(h), dim=-1)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        """L2-normalised identity embedding (B, D)."""
        h = self.stem(self.to_network_input(faces))
        for block in self.blocks:
            h = block(h)
        return self._embed(h)

    def features(self, faces: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(z_id (B, D), [R_1 … R_m]) for aligned faces (B, 3, H, W) in [-1, 1]."""
        h = self.stem(self.to_network_input(faces))
        tapped = []
        for j, block in enumerate(self.blocks):
            h = block(h)
            if j in self.taps:
                tapped.append(h)
        return self._embed(h), tapped

    def continue_from(self, i: int, z_i: torch.Tensor) -> torch.Tensor:
        """Embedding from tap i onwards, with R_i replaced by z_i (the appendix's f_IBi)."""
        h = z_i
        for block in self.blocks[self.taps[i] + 1 :]:
            h = block(h)
        return self._embed(h)

    def continue_all(self, replacements: list[torch.Tensor]) -> list[torch.Tensor]:
        """All m continuations as a staircase: each block runs once on every continuation started so far.

        Equal to [continue_from(i, Z_i) for i], but the deep blocks run one big batch instead of m small ones.
        """
        if len(replacements) != len(self.taps):
            raise ValueError(f"expected {len(self.taps)} replacement maps, got {len(replacements)}")
        batch = replacements[0].shape[0]
        starts = {tap: i for i, tap in enumerate(self.taps)}
        h = None
        for j in range(self.taps[0] + 1, len(self.blocks)):
            if j - 1 in starts:
                joining = replacements[starts[j - 1]]
                h = joining if h is None else torch.cat([h, joining])
            h = self.blocks[j](h)
        if len(self.blocks) - 1 in starts:  # a tap on the last block continues straight into the head
            last = replacements[starts[len(self.blocks) - 1]]
            h = last if h is None else torch.cat([h, last])
        return list(self._embed(h).split(batch))

"""The face-forgery detector family: a small ResNet-style binary classifier, trained from scratch [ours].

The appendix uses the FaceForensics++ detector (App. 3); its weights cannot be obtained offline, so the
study trains its own. The family is a plain residual network on aligned face crops: a stride-2 stem, then
`depth` stages of `blocks` residual blocks (every stage after the first halves the resolution and doubles
the width), global average pooling and one linear unit, the logit of "fake". GroupNorm rather than BatchNorm, so a
tiny or unbalanced batch trains the same as a large one and evaluation needs no running statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DetectorConfig:
    """Everything that shapes a detector; `asdict(cfg)` goes into its checkpoints."""

    size: int = 128  # side of the aligned crop it reads (crops of another size are resized to this)
    width: int = 16  # channels of the first stage; doubles per stage
    depth: int = 4  # stages; the network reduces the crop by 2^depth
    blocks: int = 1  # residual blocks per stage

    def problem(self) -> str | None:
        """None when the config builds a network; else which field is wrong, worded for a flag."""
        if self.width < 1 or self.depth < 1 or self.blocks < 1:
            return f"width, depth and blocks must be ≥ 1, got {self.width}, {self.depth}, {self.blocks}"
        if self.size < 2 ** (self.depth + 1):
            return f"size {self.size} is too small for depth {self.depth} (needs ≥ {2 ** (self.depth + 1)} px)"
        return None


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


# [ours]: the basic residual block of He et al. (2016), GroupNorm in place of BatchNorm.
class ResidualBlock(nn.Module):
    """(B, cin, s, s) -> (B, cout, s / stride, s / stride)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = _norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = _norm(cout)
        self.skip = nn.Identity() if (cin, stride) == (cout, 1) else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(h)) + self.skip(x))


class ForgeryDetector(nn.Module):
    """Aligned faces (B, 3, size, size) in [−1, 1] -> logits of "fake" (B,)."""

    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        problem = cfg.problem()
        if problem:
            raise ValueError(problem)
        self.cfg = cfg
        self.stem = nn.Sequential(nn.Conv2d(3, cfg.width, 3, 2, 1, bias=False), _norm(cfg.width), nn.ReLU())
        widths = [cfg.width << i for i in range(cfg.depth)]
        blocks = []
        for i, cout in enumerate(widths):
            cin = widths[max(i - 1, 0)]
            blocks += [ResidualBlock(cin if b == 0 else cout, cout, 2 if (b == 0 and i > 0) else 1)
                       for b in range(cfg.blocks)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(widths[-1], 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(self.head.bias)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(faces))  # (B, width·2^(depth−1), size / 2^depth, …)
        return self.head(h.mean((2, 3))).flatten()

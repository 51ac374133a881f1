"""The image discriminator D and the relativistic adversarial losses (SPEC section 7, step 6).

The appendix does not specify D [ours]: a residual image discriminator in the StyleGAN2 manner, halving
the resolution per block from the full image down to 4 × 4, then a 4 × 4 conv to one logit per image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SLOPE = 0.2


# [ours] (SPEC section 7 step 6): residual down-sampling block of D.
class DownBlock(nn.Module):
    """(B, cin, s, s) -> (B, cout, s/2, s/2); main path two 3×3 convs, shortcut a 1×1 conv, both pooled."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, 3, padding=1)
        self.conv2 = nn.Conv2d(cin, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, SLOPE)), SLOPE))
        return (F.avg_pool2d(h, 2) + F.avg_pool2d(self.skip(x), 2)) / math.sqrt(2)


# [ours] (SPEC section 7 step 6): residual image discriminator D(x) -> logit.
class Discriminator(nn.Module):
    """Images (B, 3, res, res) in [−1, 1] -> logits (B,). `widths` per level, full resolution first."""

    def __init__(self, widths: tuple[int, ...]):
        super().__init__()
        self.from_rgb = nn.Conv2d(3, widths[0], 3, padding=1)
        self.blocks = nn.Sequential(*(DownBlock(a, b) for a, b in zip(widths, widths[1:])))
        self.out = nn.Conv2d(widths[-1], 1, 4)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=SLOPE, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.from_rgb(images))
        return self.out(F.leaky_relu(h, SLOPE)).flatten()


def generator_adversarial_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """L_G = −E log σ(D(Y) − D(x_s)) = E softplus(D(x_s) − D(Y)) (App. Alg. 1 line 42)."""
    return F.softplus(real_logits - fake_logits).mean()


def discriminator_adversarial_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = −E log σ(D(x_s) − D(Y)) = E softplus(D(Y) − D(x_s)) (App. Alg. 1 line 48)."""
    return F.softplus(fake_logits - real_logits).mean()

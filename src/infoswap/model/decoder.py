"""dec: a U-Net-style decoder from the recogniser's tap pyramid to the generator's levels (SPEC section 6).

Tap sizes to generator levels. Level j works at s_j = 4·2^j px (j = 0 … L−1, s_{L−1} = resolution). Tap i
(H_i × W_i) joins the level nearest in log scale, j(i) = clamp(round(log2(H_i / 4)), 0, L−1), through its
own 1×1 lateral conv, bilinearly resized to s_j; laterals landing on one level add up. With the dlib
taps (35, 17, 8, 4 px) that is 32, 16, 8 and 4 px at every preset; with IR-SE-50 at 128 input (128 … 16 px)
it is 128 … 16 px, and the levels coarser than the coarsest tap (4 and 8 px) come from strided 3×3 convs
continuing it downwards: the contracting end the recogniser does not have.

Expanding path, coarse to fine: x_j = conv3×3(upsample(h_{j−1})) + skip_j and
h_j = act(norm(conv3×3(act(x_j)))); the h_j are the decoded maps. `norm` scales each sample's level map to
zero mean and unit variance over (C, H, W) [ours]: without it nothing holds the decoder's output scale, and
L_per, a squared error between two decoded maps, grew from 0.14 to 4–50 within 40 steps under the ICL and
adversarial gradients (measured on a narrow 128 px model at lr 1e-3).

Target image: Conv4×4/2/1 of the image joins level L−2 (res/2: 256 px at 512, as in App. 1.2) and replaces
tap 1's map in the feature pass (App. 1.2: "we replace the first pre-trained feature"); the controller pass
keeps λ_1. Both passes run the same modules (shared weights), so f̃_j and λ̃_j have the same width.

`light` (ModelConfig.light_decoder; the 512 and 1024 presets) follows the official release where full
resolution makes the convs dear: the finest level is the bilinear ×2 of the level below (no convs at
res px), and λ̃ comes from the laterals alone, without the expanding path: levels finer than the finest
lateral get the map below projected (1×1). Those levels are handed over unenlarged, smaller than their
level (the finest f̃ is level L−2's map itself; λ̃ stays at the finest lateral's size): the AII enlarges
its 1×1 projections of them instead (aii.py), which at 512 px saves three 64 MiB maps. With IR-SE-50 at
512 px this takes the decoder from 112 to about 38 GMAC per face (bench/official_reference.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from infoswap.model.inplace import reusable

SLOPE = 0.2


def tap_levels(tap_shapes: list[tuple[int, int, int]], levels: int) -> list[int]:
    """The generator level each tap joins: nearest size in log scale, clamped to the levels."""
    return [min(max(round(math.log2(h / 4)), 0), levels - 1) for _, h, _ in tap_shapes]


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, padding: int | None = None) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2 if padding is None else padding)
    nn.init.kaiming_normal_(conv.weight, a=SLOPE, nonlinearity="leaky_relu")
    nn.init.zeros_(conv.bias)
    return conv


# SPEC section 6, App. Alg. 1 line 23 (f̃_j = dec(f_i), λ̃_j = dec(λ_i)) and App. 1.2 (Conv4×4/2/1 of x_t).
class Decoder(nn.Module):
    """(taps 2…10 maps + target image) or (10 controllers) -> one (B, d_j, s_j, s_j) map per level."""

    def __init__(self, tap_shapes: list[tuple[int, int, int]], level_channels: tuple[int, ...], light: bool = False):
        super().__init__()
        sizes = [h for _, h, _ in tap_shapes]
        if any(a < b for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"taps must go from fine to coarse, got sizes {sizes}")
        widths = list(level_channels)
        if light and widths[-1] != widths[-2]:
            raise ValueError(f"a light decoder enlarges level L−2 to L−1, so their widths must match, got {widths}")
        self.light = light
        self.levels = len(widths)
        self.tap_level = tap_levels(tap_shapes, self.levels)
        self.bottom = min(self.tap_level[1:])  # coarsest level reached by taps both passes see
        self.laterals = nn.ModuleList(_conv(c, widths[j], 1) for (c, _, _), j in zip(tap_shapes, self.tap_level))
        self.image = _conv(3, widths[-2], 4, stride=2, padding=1)
        self.down = nn.ModuleList(_conv(widths[j + 1], widths[j], 3, stride=2) for j in range(self.bottom))
        convolved = self.levels - 1 if light else self.levels  # levels with an up and a refine conv
        self.up = nn.ModuleList(_conv(widths[j - 1], widths[j], 3) for j in range(1, convolved))
        self.refine = nn.ModuleList(_conv(w, w, 3) for w in widths[:convolved])
        if light:  # λ̃ above the finest lateral: 1×1 projections of the level below
            top = max(self.tap_level)
            if top >= self.levels - 1 or not set(range(self.bottom, top + 1)) <= set(self.tap_level):
                raise ValueError(f"a light decoder needs taps on every level from {self.bottom} up to one below "
                                 f"the finest; they land on levels {sorted(set(self.tap_level))}")
            self.lambda_up = nn.ModuleList(_conv(widths[j - 1], widths[j], 1) for j in range(top + 1, self.levels))

    def attributes(self, feats: list[torch.Tensor], image: torch.Tensor) -> list[torch.Tensor]:
        """f̃_j from the attribute maps of taps 2 … 10 and the target image (B, 3, res, res)."""
        if len(feats) != len(self.laterals) - 1:
            raise ValueError(f"expected {len(self.laterals) - 1} maps (taps 2 … 10), got {len(feats)}")
        skips = self._skips(feats, first=1)
        skips[self.levels - 2] = _add(skips.get(self.levels - 2), self.image(image))
        return self._expand(skips)

    def controllers(self, lambdas: list[torch.Tensor]) -> list[torch.Tensor]:
        """λ̃_j from the 10 controllers λ_1 … λ_10, through the same modules."""
        if len(lambdas) != len(self.laterals):
            raise ValueError(f"expected {len(self.laterals)} controllers, got {len(lambdas)}")
        skips = self._skips(lambdas, first=0)
        if not self.light:
            return self._expand(skips)
        out = [_normalised(skips[j]) for j in sorted(skips)]
        for project in self.lambda_up:  # at the finest lateral's size; the AII enlarges what it makes of them
            out.append(project(out[-1]))
        return out

    def _skips(self, maps: list[torch.Tensor], first: int) -> dict[int, torch.Tensor]:
        skips: dict[int, torch.Tensor] = {}
        for i, x in enumerate(maps, start=first):
            j = self.tap_level[i]
            size = 4 << j
            y = self.laterals[i](x)
            if y.shape[-1] != size or y.shape[-2] != size:
                y = F.interpolate(y, size=(size, size), mode="bilinear", align_corners=False)
            skips[j] = _add(skips.get(j), y)
        for j in reversed(range(self.bottom)):  # the contracting end below the coarsest tap
            skips[j] = _add(skips.get(j), F.leaky_relu(self.down[j](skips[j + 1]), SLOPE))
        return skips

    def _expand(self, skips: dict[int, torch.Tensor]) -> list[torch.Tensor]:
        """Consumes `skips` (its maps are overwritten when no graph is recorded, model/inplace.py)."""
        inplace = not torch.is_grad_enabled()
        out: list[torch.Tensor] = []
        for j in range(len(self.refine)):
            x = skips.pop(j, None)
            if j > 0:
                up = F.interpolate(out[-1], scale_factor=2.0, mode="bilinear", align_corners=False)
                x = _add(x, self.up[j - 1](up))
            out.append(_normalised(self.refine[j](F.leaky_relu(x, SLOPE, inplace))))
        if self.light:  # the finest level: the one below, which the AII enlarges (official release)
            out.append(out[-1])
        return out


def _normalised(x: torch.Tensor) -> torch.Tensor:
    """A decoded map: each sample's map at zero mean and unit variance over (C, H, W) [ours], then LeakyReLU."""
    return F.leaky_relu(F.group_norm(x, 1), SLOPE, inplace=not torch.is_grad_enabled())


def _add(a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
    """a + b, written over a when no graph is recorded: every `a` here is a sum or conv output of the
    decoder's own."""
    return b if a is None else torch.add(a, b, out=reusable(a))

"""TensorFlow.js operations whose arithmetic PyTorch does not share, so the face-api ports match the original.

- `resize_bilinear`: tf.image.resizeBilinear with align_corners=False, half_pixel_centers=False (the legacy
  TF mode face-api uses): source = destination · in/out, no half-pixel shift; unlike F.interpolate.
- `pad_to_square`: face-api's padToSquare (zeros after the image, or split around it when centred).
- `SameConv2d`: a conv with TF 'same' padding, which puts an odd extra pixel after (bottom/right) where
  PyTorch's `padding=` is symmetric. It pads through the conv's own zero padding where TF's is symmetric
  (every stride-1 layer, every 1×1, and stride 2 on odd sizes), by an explicit F.pad copy only where TF
  puts the extra pixel after. Both add the same zeros, so the output is the same; skipping the copy took
  ≈ 9% off the SSD detector's forward on a 1280×720 photo (one CPU thread).
All take and return (B, C, H, W) tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros of TF 'same' padding along one axis; the odd extra one goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _source_taps(size_in: int, size_out: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Lower index, upper index and weight of the upper one, per output row/column (legacy TF mapping)."""
    position = torch.arange(size_out, device=device, dtype=torch.float64) * (size_in / size_out)
    lower = position.floor()
    upper = position.ceil().clamp(max=size_in - 1)
    return lower.long(), upper.long(), (position - lower).float()


def resize_bilinear(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, height, width) float, as tf.image.resizeBilinear(x, size, false, false)."""
    x = x.float()
    top, bottom, dy = _source_taps(x.shape[-2], height, x.device)
    left, right, dx = _source_taps(x.shape[-1], width, x.device)
    rows_top, rows_bottom = x[..., top, :], x[..., bottom, :]
    upper = rows_top[..., left] + (rows_top[..., right] - rows_top[..., left]) * dx
    lower = rows_bottom[..., left] + (rows_bottom[..., right] - rows_bottom[..., left]) * dx
    return upper + (lower - upper) * dy[:, None]


def pad_to_square(x: torch.Tensor, centre: bool) -> torch.Tensor:
    """Zero-pads the shorter side of (B, C, H, W) to the longer one, as face-api's padToSquare.

    Not centred: all padding after the image. Centred: round(diff / 2) (JS rounding, halves up) after
    and the rest before, so an odd difference puts the extra pixel after.
    """
    height, width = x.shape[-2:]
    diff = abs(height - width)
    after = (diff + 1) // 2 if centre else diff
    before = diff - after
    if height > width:
        return F.pad(x, (before, after, 0, 0))
    return F.pad(x, (0, 0, before, after))


class SameConv2d(torch.nn.Conv2d):
    """nn.Conv2d with TF 'same' padding (construct it with the default padding=0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = _same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = _same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        if top == bottom and left == right:
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), self.dilation, self.groups)
        return super().forward(F.pad(x, (left, right, top, bottom)))

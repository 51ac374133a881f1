"""The Inception-v3 that FID is defined with: the TF graph of 2015-12-05, as pytorch-fid ports it.

Layer names follow the PyTorch (torchvision-style) Inception3 naming that pytorch-fid's
`pt_inception-2015-12-05-6726825d.pth` uses, so that file becomes ours by a plain key copy (less its
1008-class `fc` head, unused for FID). Where this graph differs from torchvision's Inception-v3: the 3×3
average pools of the Mixed_5*, Mixed_6b-e and Mixed_7b pool branches leave the zero padding out of the mean
(as TF's pooling does), and Mixed_7c's pool branch takes a max, not a mean. Every convolution is bias-free
and followed by batch norm with eps 0.001 and a ReLU. The output is the 2048-D "pool3" vector FID uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 299
FEATURES = 2048


class ConvBN(nn.Module):
    """Convolution (no bias), batch norm with TF's eps, ReLU: the unit every Inception branch is made of."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _strip(c_in: int, c_out: int, length: int, wide: bool) -> ConvBN:
    """A 1×L (wide) or L×1 convolution, padded to keep the map size: the factorised kernels of Mixed_6/7."""
    kernel, padding = ((1, length), (0, length // 2)) if wide else ((length, 1), (length // 2, 0))
    return ConvBN(c_in, c_out, kernel, padding=padding)


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3×3 mean over the real pixels only (TF's SAME average pool), size kept."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class MixedA(nn.Module):
    """Mixed_5b/5c/5d, at 35×35: 1×1, 5×5, double 3×3 and pool branches -> 224 + pool_features channels."""

    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 64, 1)
        self.branch5x5_1 = ConvBN(c_in, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class ReductionB(nn.Module):
    """Mixed_6a: (B, 288, 35, 35) -> (B, 768, 17, 17) by strided 3×3, strided double 3×3 and a max pool."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class MixedC(nn.Module):
    """Mixed_6b-6e, at 17×17: 7×7 convolutions factorised into 1×7 and 7×1 with `mid` channels -> 768."""

    def __init__(self, c_in: int, mid: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 192, 1)
        self.branch7x7_1 = ConvBN(c_in, mid, 1)
        self.branch7x7_2 = _strip(mid, mid, 7, wide=True)
        self.branch7x7_3 = _strip(mid, 192, 7, wide=False)
        self.branch7x7dbl_1 = ConvBN(c_in, mid, 1)
        self.branch7x7dbl_2 = _strip(mid, mid, 7, wide=False)
        self.branch7x7dbl_3 = _strip(mid, mid, 7, wide=True)
        self.branch7x7dbl_4 = _strip(mid, mid, 7, wide=False)
        self.branch7x7dbl_5 = _strip(mid, 192, 7, wide=True)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            self.branch7x7dbl_5(self.branch7x7dbl_4(double)),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class ReductionD(nn.Module):
    """Mixed_7a: (B, 768, 17, 17) -> (B, 1280, 8, 8) by strided 3×3 after 1×1, after 1×7/7×1, and a max pool."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvBN(c_in, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(c_in, 192, 1)
        self.branch7x7x3_2 = _strip(192, 192, 7, wide=True)
        self.branch7x7x3_3 = _strip(192, 192, 7, wide=False)
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))
        return torch.cat([
            self.branch3x3_2(self.branch3x3_1(x)),
            self.branch7x7x3_4(seven),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class MixedE(nn.Module):
    """Mixed_7b/7c, at 8×8: 3×3 branches that end in parallel 1×3 and 3×1 halves -> 2048 channels.
    `max_pool`: the pool branch takes a max instead of a mean (Mixed_7c of the FID graph)."""

    def __init__(self, c_in: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(c_in, 320, 1)
        self.branch3x3_1 = ConvBN(c_in, 384, 1)
        self.branch3x3_2a = _strip(384, 384, 3, wide=True)
        self.branch3x3_2b = _strip(384, 384, 3, wide=False)
        self.branch3x3dbl_1 = ConvBN(c_in, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _strip(384, 384, 3, wide=True)
        self.branch3x3dbl_3b = _strip(384, 384, 3, wide=False)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], 1)


def resize_to_input(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, 299, 299), bilinear without antialiasing, as pytorch-fid resizes; a batch
    already at 299 (fidkid resizes each image before batching them) is returned as it is."""
    if x.shape[-2:] == (INPUT_SIZE, INPUT_SIZE):
        return x
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


class FIDInception(nn.Module):
    """RGB images (B, 3, H, W) in [0, 1] -> pool3 features (B, 2048)."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = MixedA(192, pool_features=32)
        self.Mixed_5c = MixedA(256, pool_features=64)
        self.Mixed_5d = MixedA(288, pool_features=64)
        self.Mixed_6a = ReductionB(288)
        self.Mixed_6b = MixedC(768, mid=128)
        self.Mixed_6c = MixedC(768, mid=160)
        self.Mixed_6d = MixedC(768, mid=160)
        self.Mixed_6e = MixedC(768, mid=192)
        self.Mixed_7a = ReductionD(768)
        self.Mixed_7b = MixedE(1280, max_pool=False)
        self.Mixed_7c = MixedE(2048, max_pool=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = 2 * resize_to_input(x) - 1  # the graph's input range is [-1, 1]
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (B, 64, 147, 147)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))  # (B, 192, 71, 71)
        x = F.max_pool2d(x, 3, stride=2)  # (B, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)  # ends at (B, 2048, 8, 8)
        return x.mean(dim=(2, 3))

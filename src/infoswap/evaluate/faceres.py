"""HSE `faceres`, the independent recogniser of evaluation (SPEC section 8), ported from its tfjs graph.

MobileNet v1 at 224 × 224 (Howard et al. 2017): a 3×3/2 conv, 13 depthwise-separable blocks, ReLU6
after every conv, batch norm folded (into the kernel and a bias for the full convs; kept as a per-channel
scale and shift after the depthwise convs, as the graph stores it), global mean pooling -> the 1024-D
descriptor. Age (100 one-year bins) and gender heads sit on a 256-D ReLU layer on top of the descriptor.
Input: RGB in 0..255, no mean subtraction (as the human library feeds it). TF 'same' padding throughout.
Never a training recogniser: the model that is judged must not have been trained through its judge.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infoswap.faces.tf_ops import SameConv2d

INPUT_SIZE = 224
STEM_CHANNELS = 32
DESCRIPTOR_SIZE = 1024
# (output channels, depthwise stride) of the 13 blocks, conv_dw_i / conv_pw_i for i = 1..13.
BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)


def relu6(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0.0, 6.0)


class SeparableBlock(nn.Module):
    """conv_dw_i (3×3 depthwise, then batch norm as scale + shift) + ReLU6; conv_pw_i (1×1, BN folded) + ReLU6."""

    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.depthwise = SameConv2d(channels_in, channels_in, 3, stride, groups=channels_in, bias=False)
        self.scale = nn.Parameter(torch.ones(channels_in))
        self.shift = nn.Parameter(torch.zeros(channels_in))
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) -> (B, Cout, H/s, W/s)
        x = relu6(self.depthwise(x) * self.scale[:, None, None] + self.shift[:, None, None])
        return relu6(self.pointwise(x))


class FaceRes(nn.Module):
    """(B, 3, 224, 224) RGB 0..255 -> (B, 1024) descriptor; `heads` gives age and gender from it."""

    def __init__(self):
        super().__init__()
        self.stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        blocks, channels = [], STEM_CHANNELS
        for channels_out, stride in BLOCKS:
            blocks.append(SeparableBlock(channels, channels_out, stride))
            channels = channels_out
        self.blocks = nn.ModuleList(blocks)
        self.feats = nn.Linear(DESCRIPTOR_SIZE, 256)
        self.age = nn.Linear(256, 100)
        self.gender = nn.Linear(256, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = relu6(self.stem(x))  # (B, 32, 112, 112)
        for block in self.blocks:
            x = block(x)  # ... -> (B, 1024, 7, 7)
        return x.mean(dim=(2, 3))

    def heads(self, descriptor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1024) -> age probabilities over 0..99 years (B, 100) and P(male) (B,)."""
        hidden = F.relu(self.feats(descriptor))
        return self.age(hidden).softmax(dim=1), torch.sigmoid(self.gender(hidden)).squeeze(1)

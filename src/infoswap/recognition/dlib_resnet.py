"""dlib's ResNet-29 face recogniser as face-api ships it (`face_recognition_model`): the embedded default f.

150 × 150 RGB in 0..255 -> 128-D descriptor (SPEC section 3). Layer for layer as face-api's
faceRecognitionNet: a 7×7/2 'valid' conv and 3×3/2 max pool, 14 residual blocks (four of them
downsampling: 3×3/2 'valid' conv, 2×2 average-pooled shortcut zero-padded in channels), global mean
pooling and a bias-free fully connected layer. Every conv is followed by a per-channel scale layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infoswap.recognition.base import Recognizer

# face-api's per-channel input means (RGB, 0..255 scale); the input is (pixels − mean) / 255.
MEAN_RGB = (122.782, 117.001, 104.298)

# (in channels, out channels, downsampling) per residual block, face-api's conv32_1 … conv256_down_out.
BLOCKS = (
    (32, 32, False), (32, 32, False), (32, 32, False),
    (32, 64, True), (64, 64, False), (64, 64, False), (64, 64, False),
    (64, 128, True), (128, 128, False), (128, 128, False),
    (128, 256, True), (256, 256, False), (256, 256, False), (256, 256, True),
)

# The 10 tapped block outputs (indices into BLOCKS), as SPEC section 3 suggests: the last 32-block
# (32×35×35), the four 64-blocks (64×17×17), the three 128-blocks (128×8×8) and the first two 256-blocks
# (256×4×4). Like the official IR-SE-50 taps, the deepest blocks stay below every tap so that each
# continuation still runs part of the network.
TAPS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11)

# Box of the aligned (FFHQ-template) face the network sees, as fractions (x0, y0, x1, y1): a centred
# square of side 0.64 around y = 0.60, where face-api's own landmark box falls on the template. Measured
# with tools/reference/choose_dlib_crop.py on the 53 bundled faces: mean cosine to face-api's descriptor
# 0.993 (sides 0.60-0.68 and centres 0.58-0.62 all give 0.987-0.993; same/different AUC 1.0 throughout).
CROP = (0.18, 0.28, 0.82, 0.92)


class ConvScale(nn.Module):
    """A tfjs conv layer: conv (weight, bias), then a per-channel scale layer (scale, shift)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.empty(cout))
        self.scale = nn.Parameter(torch.empty(cout))
        self.shift = nn.Parameter(torch.empty(cout))
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (conv(x) + bias) · scale + shift, with the scale folded into the conv: one pass fewer over x.
        weight = self.weight * self.scale[:, None, None, None]
        return F.conv2d(x, weight, self.bias * self.scale + self.shift, self.stride, self.padding)


class Stem(nn.Module):
    """7×7/2 'valid' conv + ReLU, 3×3/2 max pool: (B, 3, 150, 150) -> (B, 32, 35, 35)."""

    def __init__(self):
        super().__init__()
        self.conv = ConvScale(3, 32, 7, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.conv(x)), 3, 2)


class Residual(nn.Module):
    """face-api's residual / residualDown layer.

    Down: conv1 is 3×3/2 'valid' (TF), the shortcut a 2×2/2 average pool zero-padded to cout channels;
    where the conv path comes out one row/column short (8 -> 3 vs 4), it is zero-padded bottom/right.
    """

    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = ConvScale(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = ConvScale(cout, cout, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.down:
            return F.relu(out + x)
        short = F.avg_pool2d(x, 2, 2)
        out = F.pad(out, (0, short.shape[-1] - out.shape[-1], 0, short.shape[-2] - out.shape[-2]))
        short = F.pad(short, (0, 0, 0, 0, 0, out.shape[1] - short.shape[1]))
        return F.relu(out + short)


class Head(nn.Module):
    """Global mean pool + bias-free fully connected: (B, 256, 2, 2) -> (B, 128)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(h.mean((2, 3)))


class DlibResNet(Recognizer):
    """dlib ResNet-29 (face-api port) with 10 taps; see the module docstring."""

    name = "dlib"
    embedding_dim = 128
    input_size = 150
    crop = CROP
    taps = TAPS

    def __init__(self):
        super().__init__()
        self.stem = Stem()
        self.blocks = nn.ModuleList(Residual(*spec) for spec in BLOCKS)
        self.head = Head()

    @staticmethod
    def normalise(pixels: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, S, S) in 0..255 -> face-api's network input (pixels − mean) / 255.

        Channels-last from here on: oneDNN's CPU convolutions run about a quarter faster that way.
        """
        out = (pixels - pixels.new_tensor(MEAN_RGB)[:, None, None]) / 255
        return out.contiguous(memory_format=torch.channels_last)

    def to_network_input(self, faces: torch.Tensor) -> torch.Tensor:
        """Aligned faces (B, 3, H, W) in [-1, 1] -> (B, 3, 150, 150), differentiably."""
        return self.normalise((self.crop_and_resize(faces) + 1) * 127.5)

    def describe_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """face-api's own entry point: (B, 3, 150, 150) RGB in 0..255 -> L2-normalised (B, 128)."""
        h = self.stem(self.normalise(pixels))
        for block in self.blocks:
            h = block(h)
        return self._embed(h)


def build(checkpoint: str | None = None) -> DlibResNet:
    """The shipped face-api weights (sha256-checked), or a strict load of a converted safetensors file."""
    from pathlib import Path

    from infoswap.weights.store import load_into, load_shipped, load_state

    if checkpoint is None:
        return load_shipped(DlibResNet(), "recognition.safetensors")
    model = DlibResNet()
    load_into(model, load_state(Path(checkpoint)), checkpoint)
    return model.eval().requires_grad_(False)

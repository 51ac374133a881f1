"""68 face landmarks: a port of face-api's FaceLandmark68Net, and the crop arithmetic around it.

`LandmarkPredictor.predict` reproduces face-api's `detectAllFaces(tensor).withFaceLandmarks()` given the
detector's boxes: the box is clipped to the image and floored (Box.clipAtImageBorders), the crop is
zero-padded to a centred square (padToSquare), resized to 112 with TF's legacy bilinear mapping, and the
net's output, in units of that square, is mapped back as face-api's postProcess does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from infoswap.errors import InfoswapError
from infoswap.faces.tf_ops import SameConv2d, pad_to_square, resize_bilinear
from infoswap.weights.store import load_shipped

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
WEIGHTS = "landmarks.safetensors"


class SeparableConv(nn.Module):
    """TF separableConv2d + bias: a 3×3 depthwise conv (which carries the stride), then a 1×1 conv."""

    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.depthwise = SameConv2d(channels_in, channels_in, 3, stride, groups=channels_in, bias=False)
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class DenseBlock(nn.Module):
    """face-api denseBlock4: a stride-2 conv, then three separable convs each fed the ReLU of all sums so far."""

    def __init__(self, channels_in: int, channels_out: int, first: bool):
        super().__init__()
        self.conv0 = (
            SameConv2d(channels_in, channels_out, 3, 2) if first else SeparableConv(channels_in, channels_out, 2)
        )
        self.conv1 = SeparableConv(channels_out, channels_out, 1)
        self.conv2 = SeparableConv(channels_out, channels_out, 1)
        self.conv3 = SeparableConv(channels_out, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) -> (B, Cout, H/2, W/2)
        total = F.relu(self.conv0(x))
        for conv in (self.conv1, self.conv2, self.conv3):
            total = total + conv(F.relu(total))
        return F.relu(total)


class Landmark68Net(nn.Module):
    """face-api FaceLandmark68Net: four dense blocks (112 -> 7), a 7×7 average pool and a linear head."""

    def __init__(self):
        super().__init__()
        self.dense0 = DenseBlock(3, 32, first=True)
        self.dense1 = DenseBlock(32, 64, first=False)
        self.dense2 = DenseBlock(64, 128, first=False)
        self.dense3 = DenseBlock(128, 256, first=False)
        self.fc = nn.Linear(256, 136)
        self.register_buffer("mean_rgb", torch.tensor(MEAN_RGB).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 112, 112) RGB in 0..255 -> (B, 68, 2) x, y as fractions of the input square."""
        x = (x - self.mean_rgb) / 255
        x = self.dense3(self.dense2(self.dense1(self.dense0(x))))  # (B, 256, 7, 7)
        x = F.avg_pool2d(x, 7, 2)  # (B, 256, 1, 1)
        return self.fc(x.flatten(1)).view(-1, 68, 2)


def crop_regions(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 -> (N, 4) integer x, y, w, h of face-api's crop (clipped to the image, floored)."""
    x = np.maximum(boxes[:, 0], 0.0)
    y = np.maximum(boxes[:, 1], 0.0)
    w = np.minimum(boxes[:, 2] - x, width - x)
    h = np.minimum(boxes[:, 3] - y, height - y)
    return np.floor(np.stack([x, y, w, h], axis=1)).astype(np.int64)


class LandmarkPredictor:
    """68 landmarks in image pixels for given face boxes; the weights load on first use."""

    def __init__(self, net: Landmark68Net | None = None, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self._net = net.to(self.device) if net is not None else None

    @property
    def net(self) -> Landmark68Net:
        if self._net is None:
            self._net = load_shipped(Landmark68Net(), WEIGHTS).to(self.device)
        return self._net

    def _net_input(self, image: np.ndarray, regions: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 and (N, 4) crops -> (N, 3, 112, 112) float: each crop centred in a square, resized."""
        pixels = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1)[None]
        squares = [
            resize_bilinear(pad_to_square(pixels[..., y : y + h, x : x + w], centre=True), INPUT_SIZE, INPUT_SIZE)
            for x, y, w, h in regions
        ]
        return torch.cat(squares)

    @torch.no_grad()
    def predict(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(H, W, 3) RGB uint8 and (N, 4) x1, y1, x2, y2 boxes -> (N, 68, 2) x, y in image pixels (float32)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InfoswapError(f"landmarks need an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        regions = crop_regions(boxes, image.shape[0], image.shape[1])
        empty = np.flatnonzero((regions[:, 2] <= 0) | (regions[:, 3] <= 0))
        if empty.size:
            raise InfoswapError(f"face box {boxes[empty[0]].round(1).tolist()} lies outside the image")
        if len(boxes) == 0:
            return np.zeros((0, 68, 2), np.float32)
        relative = self.net(self._net_input(image, regions)).cpu().numpy().astype(np.float64)  # (N, 68, 2)
        # face-api's postProcess scales by the square's side and removes half the padding on each side
        # (half of an odd padding, although padToSquare put the extra pixel after the crop).
        size = regions[:, 2:4].astype(np.float64)  # (N, 2) w, h
        side = size.max(axis=1, keepdims=True)
        in_square = relative * side[:, None] - ((side - size) / 2)[:, None]
        # face-api adds the detection box's own (unfloored) corner; clipping it to the image is ours, and
        # only matters for boxes that start outside the image, which face-api's detector never returns.
        corner = np.maximum(boxes[:, None, :2], 0.0)
        return (in_square + corner).astype(np.float32)

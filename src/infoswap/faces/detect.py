"""Face detection: a port of face-api's SSD MobileNet v1 and the arithmetic around it.

`SsdFaceDetector.detect` reproduces face-api's `detectAllFaces(tensor, SsdMobilenetv1Options)`: the photo is
zero-padded at the bottom or right to a square (padToSquare, not centred), resized to 512 with TF's legacy
bilinear mapping, scaled to [-1, 1]; the net scores 5118 anchors; boxes above `min_score` go through
face-api's greedy NMS (IoU > 0.5 suppresses) up to `max_results`; kept boxes are clipped and mapped back
to image pixels exactly as SsdMobilenetv1.locateFaces does.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from infoswap.errors import InfoswapError
from infoswap.faces.tf_ops import SameConv2d
from infoswap.weights.store import load_shipped

INPUT_SIZE = 512
IOU_THRESHOLD = 0.5
# face-api keeps boxes above 0.5; on the bundled group photos that misses a frontal studio portrait (0.446)
# and a face under sunglasses (0.281) while no non-face scores above 0.1, so infoswap defaults lower.
DEFAULT_MIN_SCORE = 0.25
WEIGHTS = "detector.safetensors"
_BN_EPSILON = 0.0010000000474974513  # face-api's float32 0.001
_BOX_SCALES = (10.0, 10.0, 5.0, 5.0)  # TF object-detection box coder: y, x, h, w
# (out channels, depthwise stride) of MobilenetV1 Conv2d_1 … Conv2d_13.
_BACKBONE = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
             (512, 1), (512, 1), (1024, 2), (1024, 1))
# (in, out, kernel, stride) of Prediction Conv2d_0 … Conv2d_7.
_EXTRA = ((1024, 256, 1, 1), (256, 512, 3, 2), (512, 128, 1, 1), (128, 256, 3, 2), (256, 128, 1, 1),
          (128, 256, 3, 2), (256, 64, 1, 1), (64, 128, 3, 2))
# Channels and anchors per cell of the six maps the box predictors read (32, 16, 8, 4, 2, 1 cells a side).
_PREDICTED = ((512, 3), (1024, 6), (512, 6), (256, 6), (256, 6), (128, 6))


class ConvReLU6(SameConv2d):
    """face-api pointwiseConvLayer: conv with TF 'same' padding, + offset (the bias), clipped to [0, 6]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(super().forward(x), inplace=True)


class DepthwiseBN(SameConv2d):
    """face-api depthwiseConvLayer: 3×3 depthwise conv, inference BatchNorm, clipped to [0, 6]."""

    def __init__(self, channels: int, stride: int):
        super().__init__(channels, channels, 3, stride, groups=channels, bias=False)
        self.bn_scale = nn.Parameter(torch.ones(channels))
        self.bn_offset = nn.Parameter(torch.zeros(channels))
        self.register_buffer("bn_mean", torch.zeros(channels))
        self.register_buffer("bn_variance", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.batch_norm(super().forward(x), self.bn_mean, self.bn_variance, self.bn_scale, self.bn_offset,
                         False, 0.0, _BN_EPSILON)
        return F.relu6(x, inplace=True)


class SeparableBlock(nn.Module):
    """One MobileNet v1 layer: depthwise (carries the stride) then pointwise."""

    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.depthwise = DepthwiseBN(channels_in, stride)
        self.pointwise = ConvReLU6(channels_in, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class MobileNetV1(nn.Module):
    """The backbone: (B, 3, 512, 512) -> the 11th layer's (B, 512, 32, 32) and the last (B, 1024, 16, 16)."""

    def __init__(self):
        super().__init__()
        self.conv0 = ConvReLU6(3, 32, 3, 2)
        channels = [32] + [c for c, _ in _BACKBONE]
        self.blocks = nn.ModuleList(
            SeparableBlock(channels[i], c, stride) for i, (c, stride) in enumerate(_BACKBONE)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv0(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 10:
                conv11 = x
        return conv11, x


class PredictionHead(nn.Module):
    """Four more stride-2 stages (8, 4, 2, 1 cells), then per-anchor box encodings and class logits on six maps."""

    def __init__(self):
        super().__init__()
        self.extra = nn.ModuleList(ConvReLU6(cin, cout, k, s) for cin, cout, k, s in _EXTRA)
        self.box = nn.ModuleList(nn.Conv2d(c, 4 * a, 1) for c, a in _PREDICTED)
        self.cls = nn.ModuleList(nn.Conv2d(c, 3 * a, 1) for c, a in _PREDICTED)

    def forward(self, conv11: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (B, 5118, 4) box encodings and (B, 5118, 3) class logits, anchors in TF's (row, col, anchor) order."""
        maps = [conv11, x]
        for i, conv in enumerate(self.extra):
            x = conv(x)
            if i % 2 == 1:
                maps.append(x)
        batch = x.shape[0]
        encodings = [b(m).permute(0, 2, 3, 1).reshape(batch, -1, 4) for b, m in zip(self.box, maps)]
        logits = [c(m).permute(0, 2, 3, 1).reshape(batch, -1, 3) for c, m in zip(self.cls, maps)]
        return torch.cat(encodings, 1), torch.cat(logits, 1)


class SsdMobilenetV1(nn.Module):
    """face-api's SsdMobilenetv1 net: (B, 3, 512, 512) in [-1, 1] -> decoded boxes and face scores per anchor."""

    def __init__(self):
        super().__init__()
        self.backbone = MobileNetV1()
        self.head = PredictionHead()
        self.register_buffer("anchors", torch.zeros(5118, 4))  # y1, x1, y2, x2 in fractions of the input

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> boxes (B, 5118, 4) y1, x1, y2, x2 in fractions of the input square, scores (B, 5118) in (0, 1)."""
        encodings, logits = self.head(*self.backbone(x))
        encodings = encodings / encodings.new_tensor(_BOX_SCALES)
        sizes = self.anchors[:, 2:] - self.anchors[:, :2]
        centres = self.anchors[:, :2] + sizes / 2
        centre = encodings[..., :2] * sizes + centres
        half = torch.exp(encodings[..., 2:]) * sizes / 2
        return torch.cat([centre - half, centre + half], -1), torch.sigmoid(logits[..., 1])


def greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_results: int) -> torch.Tensor:
    """Indices of the boxes (N, 4) kept by greedy NMS, best score first (ties keep input order).

    Greedy NMS keeps box i iff no kept box before it overlaps it by more than the threshold; that rule is
    triangular, so iterating it from "keep all" settles on the greedy answer, usually in two or three
    vectorised rounds instead of a Python loop over the boxes.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order].double()
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    low = torch.maximum(b[:, None, :2], b[None, :, :2])
    high = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = (high - low).clamp(min=0).prod(-1)
    iou = inter / (area[:, None] + area[None, :] - inter)
    valid = (area[:, None] > 0) & (area[None, :] > 0)
    beats = ((iou > iou_threshold) & valid).triu(diagonal=1)  # beats[j, i]: j ranks before i and suppresses it
    keep = torch.ones(len(b), dtype=torch.bool, device=b.device)
    while True:
        new = ~(beats & keep[:, None]).any(0)
        if torch.equal(new, keep):
            break
        keep = new
    return order[keep][:max_results]


@lru_cache(maxsize=8)
def _square_resize_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """grid_sample grid (1, 512, 512, 2) that equals face-api's padToSquare + legacy resizeBilinear.

    Output pixel i reads source position i · side / 512 (TF's mapping without half-pixel centres), held
    at side - 1 as TF clamps when enlarging; grid_sample's zero padding stands in for the zero rows or
    columns padToSquare appends. One fused sample of the unpadded photo costs a fraction of padding and
    gathering (a 1280×720 photo: a few ms against ~70 ms); values differ from tf_ops.resize_bilinear by
    < 0.02 of a grey level.
    """
    side = max(height, width)
    position = (torch.arange(INPUT_SIZE, dtype=torch.float64) * (side / INPUT_SIZE)).clamp(max=side - 1)
    gx = ((2 * position + 1) / width - 1).float()  # align_corners=False: pixel centre p sits at (2p + 1) / size - 1
    gy = ((2 * position + 1) / height - 1).float()
    grid = torch.stack(torch.broadcast_tensors(gx[None, :], gy[:, None]), dim=-1)
    return grid[None].to(device)


def _js_round(value: float) -> int:
    return math.floor(value + 0.5)


class SsdFaceDetector:
    """Face boxes and scores in image pixels, as face-api's SSD MobileNet v1; the weights load on first use."""

    def __init__(self, min_score: float = 0.5, max_results: int = 100, net: SsdMobilenetV1 | None = None,
                 device: str | torch.device = "cpu"):
        if not 0 < min_score < 1:
            raise InfoswapError(f"min score must lie strictly between 0 and 1, got {min_score}")
        if max_results < 1:
            raise InfoswapError(f"max results must be at least 1, got {max_results}")
        self.min_score = min_score
        self.max_results = max_results
        self.device = torch.device(device)
        self._net = net.to(self.device) if net is not None else None

    @property
    def net(self) -> SsdMobilenetV1:
        if self._net is None:
            self._net = load_shipped(SsdMobilenetV1(), WEIGHTS).to(self.device)
        return self._net

    def net_input(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 -> (1, 3, 512, 512) in [-1, 1]: padded at bottom/right to a square, then resized."""
        pixels = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].contiguous().float()
        grid = _square_resize_grid(image.shape[0], image.shape[1], self.device)
        square = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return square / 127.5 - 1

    @torch.no_grad()
    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) RGB uint8 -> boxes (N, 4) x1, y1, x2, y2 in pixels (float64) and scores (N,), best first."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InfoswapError(f"detection needs an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
        boxes, scores = (t[0] for t in self.net(self.net_input(image)))
        candidates = torch.nonzero(scores > self.min_score).squeeze(1)
        kept = candidates[greedy_nms(boxes[candidates], scores[candidates], IOU_THRESHOLD, self.max_results)]
        pixel_boxes = self._to_pixels(boxes[kept].cpu().double().numpy(), image.shape[0], image.shape[1])
        return pixel_boxes, scores[kept].cpu().double().numpy()

    @staticmethod
    def _to_pixels(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
        """(N, 4) y1, x1, y2, x2 in fractions of the padded square -> (N, 4) x1, y1, x2, y2 image pixels.

        As locateFaces: clip the top-left at 0 and the bottom-right at 1, undo the padding with the
        rounded resized size (JS Math.round), then scale by the image size.
        """
        scale = INPUT_SIZE / max(height, width)
        pad_x = INPUT_SIZE / _js_round(width * scale)
        pad_y = INPUT_SIZE / _js_round(height * scale)
        top, left = np.maximum(boxes[:, 0], 0) * pad_y, np.maximum(boxes[:, 1], 0) * pad_x
        bottom, right = np.minimum(boxes[:, 2], 1) * pad_y, np.minimum(boxes[:, 3], 1) * pad_x
        x1, y1 = left * width, top * height
        return np.stack([x1, y1, x1 + (right - left) * width, y1 + (bottom - top) * height], axis=1)

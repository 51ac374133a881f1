"""What the model tests run on: a tiny recogniser and config, and real bundled faces as tensors.

TinyRecognizer is a real ResNet with 10 taps (random init, frozen): tap sizes 20, 10, 10, 10, 5, 5, 5, 3, 3, 3
(odd sizes on purpose), 32-D embedding, 40 px input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aligned_faces import identity_photos
from infoswap.config import ModelConfig
from infoswap.faces.align import alignment_matrix, warp_to_aligned
from infoswap.faces.face import landmarks5_from_68
from infoswap.io.images import read_image
from infoswap.recognition.base import Recognizer

REPO = Path(__file__).resolve().parents[1]

# (cin, cout, stride) per block; taps on blocks 1 … 10, block 11 runs after the deepest tap.
BLOCKS = ((8, 8, 1), (8, 8, 1), (8, 16, 2), (16, 16, 1), (16, 16, 1), (16, 32, 2),
          (32, 32, 1), (32, 32, 1), (32, 48, 2), (48, 48, 1), (48, 48, 1), (48, 48, 1))


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.short = nn.Conv2d(cin, cout, 1, stride) if (cin, stride) != (cout, 1) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.short(x))


class TinyRecognizer(Recognizer):
    name = "tiny"
    embedding_dim = 32
    input_size = 40
    crop = (0.1, 0.1, 0.9, 0.9)
    taps = tuple(range(1, 11))

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())
        self.blocks = nn.ModuleList(Block(*spec) for spec in BLOCKS)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 32))
        self.eval().requires_grad_(False)

    def to_network_input(self, faces: torch.Tensor) -> torch.Tensor:
        return self.crop_and_resize(faces)


def tiny_config(**changes) -> ModelConfig:
    """32 px, 4 levels (4, 8, 16, 32 px), narrow everywhere."""
    base = dict(resolution=32, channels=(16, 16, 8, 3), decoder_channels=(16, 16, 8, 8),
                disc_channels=(8, 16, 16, 16), iib_hidden=16)
    return ModelConfig(**{**base, **changes})


def real_faces(names: tuple[str, ...], size: int) -> torch.Tensor:
    """Bundled photos (e.g. "london_006/neutral") aligned with the face-api reference landmarks:
    (N, 3, size, size) in [−1, 1]."""
    landmarks = {path: points for path, points in identity_photos()}
    faces = []
    for name in names:
        path = f"assets/faces/identities/{name}.jpg"
        pixels = read_image(REPO / path).pixels
        face = warp_to_aligned(pixels, alignment_matrix(landmarks5_from_68(landmarks[path]), size), size)
        faces.append(torch.from_numpy(np.ascontiguousarray(face)).permute(2, 0, 1).float() / 127.5 - 1)
    return torch.stack(faces)

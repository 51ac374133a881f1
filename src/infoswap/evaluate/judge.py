"""The independent judge of identity: faceres descriptors of the faces in a photo (SPEC section 8).

The crop follows the human library, which feeds faceres a square 1.4 × the detector's face box, about the
box centre (`enlargeBox` then `squarifyBox`, corners rounded to whole pixels), zeros outside the photo, as
RGB 0..255. Two deviations: our boxes come from face-api's SSD detector rather than BlazeFace, and the
square is resized once (area averaging when shrinking) instead of human's two bilinear resizes (to the
256 mesh input, then to 224), which alias on large faces. Descriptors are returned L2-normalised, so a dot
product is the cosine.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from infoswap.evaluate.faceres import DESCRIPTOR_SIZE, INPUT_SIZE, FaceRes
from infoswap.faces.face import Face
from infoswap.weights.store import load_shipped

WEIGHTS = "faceres.safetensors"
CROP_SCALE = 1.4


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)  # JavaScript's Math.round, which human uses


def square_around(box: np.ndarray, scale: float = CROP_SCALE) -> tuple[int, int, int]:
    """(x1, y1, x2, y2) -> (x0, y0, side) of the square `scale` × the box's longer side, same centre."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = scale * max(x2 - x1, y2 - y1) / 2
    x0 = _round_half_up((x1 + x2) / 2 - half)
    y0 = _round_half_up((y1 + y2) / 2 - half)
    return x0, y0, max(_round_half_up(2 * half), 1)


def crop_square(image: np.ndarray, square: tuple[int, int, int], size: int = INPUT_SIZE) -> np.ndarray:
    """The square (x0, y0, side) of an (H, W, 3) uint8 image, zeros outside it, resized to (size, size, 3)."""
    x0, y0, side = square
    height, width = image.shape[:2]
    canvas = np.zeros((side, side, 3), np.uint8)
    top, left = max(y0, 0), max(x0, 0)
    bottom, right = min(y0 + side, height), min(x0 + side, width)
    if bottom > top and right > left:
        canvas[top - y0 : bottom - y0, left - x0 : right - x0] = image[top:bottom, left:right]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interpolation)


def load_faceres() -> FaceRes:
    """The shipped, checksum-verified faceres port in eval mode."""
    return load_shipped(FaceRes(), WEIGHTS)


class IndependentJudge:
    """Embeds faces with faceres; faces come from given boxes or from a `FaceFinder` (made on first use)."""

    def __init__(self, model: FaceRes | None = None, finder=None, batch_size: int = 16):
        self.model = model if model is not None else load_faceres()
        self._finder = finder
        self.batch_size = batch_size

    @property
    def finder(self):
        if self._finder is None:
            from infoswap.faces.finder import FaceFinder

            self._finder = FaceFinder()
        return self._finder

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """(N, 224, 224, 3) uint8 crops -> (N, 1024) float32 unit descriptors."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                x = torch.from_numpy(crops[start : start + self.batch_size]).permute(0, 3, 1, 2).float()
                out.append(torch.nn.functional.normalize(self.model(x), dim=1))
        return torch.cat(out).numpy() if out else np.zeros((0, DESCRIPTOR_SIZE), np.float32)

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Descriptors (N, 1024) of the faces with boxes (N, 4) x1, y1, x2, y2 in an (H, W, 3) RGB image."""
        crops = [crop_square(image, square_around(box)) for box in boxes]
        return self.embed_crops(np.stack(crops) if crops else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8))

    def embed_faces(self, image: np.ndarray) -> tuple[list[Face], np.ndarray]:
        """Every face the finder sees in the image and its descriptor (N, 1024), left to right."""
        faces = self.finder(image)
        return faces, self.embed(image, np.array([f.box for f in faces]).reshape(-1, 4))

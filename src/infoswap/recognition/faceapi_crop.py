"""face-api's own recogniser input, reproduced exactly, to verify the dlib port against face-api descriptors.

`withFaceDescriptors()` does not warp the face: it cuts an axis-aligned box from the landmarks
(`FaceLandmarks.alignDlib`: side = mean eye-to-mouth distance / 0.45, the centre of the eye and mouth
centres at (0.5, 0.43) of the box), clips it to the image, zero-pads it to a square (centred) and resizes it
to 150 with TF's legacy bilinear resize. Training and swapping use the aligned path instead
(`DlibResNet.to_network_input`); this module exists so tests can tell a port error from a crop difference.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from infoswap.faces.tf_ops import pad_to_square, resize_bilinear
from infoswap.recognition.dlib_resnet import DlibResNet, build

_REL_X, _REL_Y, _REL_SCALE = 0.5, 0.43, 0.45


def _clip(x: float, y: float, width: float, height: float, image_w: int, image_h: int) -> tuple[int, ...]:
    """face-api's Box.clipAtImageBorders: (x, y, w, h) inside the image, floored."""
    x0, y0 = max(x, 0), max(y, 0)
    w = min(x + width - x0, image_w - x0)
    h = min(y + height - y0, image_h - y0)
    return tuple(math.floor(v) for v in (x0, y0, w, h))


def faceapi_box(
    landmarks68: np.ndarray, image_size: tuple[int, int], detection_box: np.ndarray | None = None
) -> tuple[int, int, int, int]:
    """The (x, y, w, h) pixel box face-api feeds its recogniser, from 68 landmarks (image pixels).

    image_size is (width, height). face-api caps the box side at (detection width + x) — its landmarks
    remember the size of the detection crop, not of the image; pass the detection box (x1, y1, x2, y2) to
    reproduce that, otherwise the cap is left out (it binds only for faces at the image's left/top edge).
    """
    pts = np.asarray(landmarks68, dtype=np.float64)
    left_eye, right_eye, mouth = pts[36:42].mean(0), pts[42:48].mean(0), pts[48:68].mean(0)
    eye_to_mouth = (np.linalg.norm(mouth - left_eye) + np.linalg.norm(mouth - right_eye)) / 2
    size = math.floor(eye_to_mouth / _REL_SCALE)
    ref = np.stack([left_eye, right_eye, mouth]).mean(0)
    x = math.floor(max(0.0, ref[0] - _REL_X * size))
    y = math.floor(max(0.0, ref[1] - _REL_Y * size))
    width, height = size, size
    if detection_box is not None:
        x1, y1, x2, y2 = detection_box
        _, _, crop_w, crop_h = _clip(x1, y1, x2 - x1, y2 - y1, *image_size)
        width, height = min(size, crop_w + x), min(size, crop_h + y)
    return _clip(x, y, width, height, *image_size)


def faceapi_input(
    image: np.ndarray, landmarks68: np.ndarray, detection_box: np.ndarray | None = None
) -> torch.Tensor:
    """RGB uint8 image (H, W, 3) -> face-api's recogniser input (1, 3, 150, 150), float RGB in 0..255."""
    x, y, w, h = faceapi_box(landmarks68, (image.shape[1], image.shape[0]), detection_box)
    face = torch.from_numpy(np.ascontiguousarray(image[y : y + h, x : x + w])).permute(2, 0, 1)[None].float()
    face = pad_to_square(face, centre=True)
    if face.shape[-1] != DlibResNet.input_size:
        face = resize_bilinear(face, DlibResNet.input_size, DlibResNet.input_size)
    return face


def describe_like_faceapi(
    image: np.ndarray,
    landmarks68: np.ndarray,
    recognizer: DlibResNet | None = None,
    detection_box: np.ndarray | None = None,
) -> np.ndarray:
    """face-api's descriptor of one face, L2-normalised, shape (128,) (default: the shipped weights)."""
    if recognizer is None:
        recognizer = build()
    with torch.inference_mode():
        return recognizer.describe_pixels(faceapi_input(image, landmarks68, detection_box))[0].numpy()

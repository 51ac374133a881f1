"""Similarity alignment of a face to the 5-point template, and the warp that maps the result back.

The 2×3 matrix M maps image pixels to aligned pixels; `cv2.invertAffineTransform(M)` maps back. Points and
matrices use continuous pixel coordinates (pixel i covers [i, i + 1)), as detectors report landmarks and as
template fractions scale; OpenCV puts pixel centres on integers, so the warps shift by half a pixel on
each side. That keeps every working size (128/256/512/1024) on one geometry: a 1024 crop shrunk to 128 is
the 128 crop. Both directions go through `warp_affine`, which area-shrinks its input first when the warp
would shrink by more than 2×, so a 1024 crop pasted into a small face, or a large face cut to 128, does
not alias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from infoswap.faces.face import Face
from infoswap.faces.template import template_points

_MAX_SHRINK = 0.5  # bilinear sampling is alias-free down to about 2× shrink


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking src (N, 2) onto dst (N, 2).

    Umeyama (1991), closed form; returns the 2×3 matrix.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_c.var(0).sum()
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_matrix(landmarks5: np.ndarray, size: int) -> np.ndarray:
    """The 2×3 matrix taking a face's 5 points (image pixels) onto the template of a `size` square."""
    return similarity_transform(landmarks5, template_points(size))


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Applies a 2×3 matrix to points (…, 2)."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_affine(src: np.ndarray, matrix: np.ndarray, out_size: tuple[int, int],
                border: int = cv2.BORDER_REFLECT_101, border_value: float = 0.0) -> np.ndarray:
    """`cv2.warpAffine` (bilinear) of src (H, W[, C]) into out_size (w, h), anti-aliased for strong shrinks.

    When the map shrinks by more than 2×, the part of src the output needs is cut out (with a margin, so
    borders only reflect where src really ends) and area-resized first; the matrix is composed to match.
    """
    linear = matrix[:, :2]
    scale = math.sqrt(abs(np.linalg.det(linear)))
    if scale < _MAX_SHRINK:
        src, matrix = _preshrink(src, matrix, out_size, scale / _MAX_SHRINK)
    return cv2.warpAffine(src, matrix, out_size, flags=cv2.INTER_LINEAR, borderMode=border,
                          borderValue=border_value)


def _preshrink(src: np.ndarray, matrix: np.ndarray, out_size: tuple[int, int],
               factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The area-resized region of src that the warp reads, and the matrix from it to the output."""
    w, h = out_size
    corners = np.array([[-1, -1], [w, -1], [-1, h], [w, h]], dtype=np.float64)
    needed = transform_points(cv2.invertAffineTransform(matrix), corners)
    margin = 2.0 / factor
    x0, y0 = np.floor(needed.min(0) - margin).astype(int)
    x1, y1 = np.ceil(needed.max(0) + margin).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, src.shape[1]), min(y1, src.shape[0])
    if x1 <= x0 or y1 <= y0:  # the output lies wholly off src: nothing to shrink
        return src, matrix
    region = src[y0:y1, x0:x1]
    new_w, new_h = max(round(region.shape[1] * factor), 1), max(round(region.shape[0] * factor), 1)
    small = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fx, fy = new_w / region.shape[1], new_h / region.shape[0]
    # cv2.resize puts small pixel q at region position (q + 0.5) / f - 0.5 (pixel centres on integers).
    small_to_src = np.array([[1 / fx, 0, 0.5 / fx - 0.5 + x0], [0, 1 / fy, 0.5 / fy - 0.5 + y0]])
    return small, _compose(matrix, small_to_src)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2×3 matrix of outer ∘ inner."""
    return np.hstack([outer[:, :2] @ inner[:, :2], outer[:, :2] @ inner[:, 2:] + outer[:, 2:]])


def _centred(matrix: np.ndarray) -> np.ndarray:
    """A matrix in continuous coordinates -> the same map with pixel centres on integers (OpenCV's)."""
    return np.hstack([matrix[:, :2], matrix[:, 2:] + matrix[:, :2] @ np.full((2, 1), 0.5) - 0.5])


def warp_to_aligned(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Cuts the aligned `size` × `size` face out of `image` (H, W, 3) uint8; outside pixels reflect."""
    return warp_affine(image, _centred(matrix), (size, size))


@dataclass(frozen=True)
class AlignedFace:
    """An aligned crop and how it sits in its image: everything paste-back needs."""

    crop: np.ndarray  # (S, S, 3) uint8 RGB
    matrix: np.ndarray  # (2, 3) image pixels -> aligned pixels
    size: int  # S
    face: Face  # the detected face, in image pixels

    @property
    def inverse(self) -> np.ndarray:
        """(2, 3) aligned pixels -> image pixels."""
        return cv2.invertAffineTransform(self.matrix)

    @property
    def landmarks68(self) -> np.ndarray:
        """The face's 68 landmarks in aligned pixels, (68, 2)."""
        return transform_points(self.matrix, self.face.landmarks68)


def align_face(image: np.ndarray, face: Face, size: int) -> AlignedFace:
    """Aligns `face` of `image` (H, W, 3) uint8 into a `size` × `size` crop (FFHQ-style template)."""
    if size < 16:
        raise ValueError(f"aligned size must be at least 16, got {size}")
    matrix = alignment_matrix(face.landmarks5, size)
    return AlignedFace(warp_to_aligned(image, matrix, size), matrix, size, face)


def image_region(aligned: AlignedFace, image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The pixel box (x0, y0, x1, y1), clipped to the image, that the aligned square covers (may be empty)."""
    s = aligned.size
    corners = transform_points(aligned.inverse, np.array([[0, 0], [s, 0], [0, s], [s, s]], dtype=np.float64))
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    h, w = image_shape[:2]
    return max(x0, 0), max(y0, 0), max(min(x1, w), 0), max(min(y1, h), 0)


def warp_to_image(aligned_pixels: np.ndarray, aligned: AlignedFace,
                  region: tuple[int, int, int, int], border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """The inverse warp: aligned pixels (S, S[, C]) of `aligned` into the image box `region` (h, w[, C]).

    Same bilinear sampling (and anti-aliasing) as the forward warp; pixels off the crop follow `border`
    (zero for BORDER_CONSTANT, which is what a mask wants).
    """
    x0, y0, x1, y1 = region
    to_region = _centred(aligned.inverse)
    to_region[:, 2] -= (x0, y0)
    return warp_affine(aligned_pixels, to_region, (x1 - x0, y1 - y0), border=border)

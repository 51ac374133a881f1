"""Similarity alignment of a face to the 5-point template, and the matrix that maps it back.

The 2×3 matrix M maps image pixels to aligned pixels; `cv2.invertAffineTransform(M)` maps back.
"""

from __future__ import annotations

import cv2
import numpy as np

from infoswap.faces.template import template_points


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


def warp_to_aligned(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Cuts the aligned `size` × `size` face out of `image` (H, W, 3) uint8; outside pixels reflect."""
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)

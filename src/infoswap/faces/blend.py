"""Paste-back: a generated aligned face into its image, through a soft landmark mask (SPEC section 2).

The mask is built in the aligned frame: there the face has the same size at every working size, so its
erosion and feathering are plain fractions of the face, and the mask goes through exactly the same inverse
warp as the face it gates. Colour matching also happens in the aligned frame, against the target's own
aligned crop. Only image pixels where the warped mask is > 0 are written; every other pixel is returned
bit-identical.
"""

from __future__ import annotations

import cv2
import numpy as np

from infoswap.faces.align import AlignedFace, image_region, warp_to_image

_JAW = slice(0, 17)
_BROWS = slice(17, 27)
# Fractions of the face size (square root of the jaw + brows hull area). Erosion is at least the blur
# radius, so the feathered mask never reaches past the hull: hair, ears and neck stay the target's own.
ERODE = 0.06
FEATHER = 0.06
MASK_GRID = 256  # the mask is drawn at most this large and resized: it is smooth, so nothing is lost
_STD_RATIO = (0.5, 2.0)  # limits of the colour-matching contrast change, against flat generated faces
_SUBPIXEL = 4  # bits of fixed-point precision for polygon filling


def face_mask(aligned: AlignedFace) -> np.ndarray:
    """Soft face mask (S, S) float32 in [0, 1] in the aligned frame: hull of jaw + brows, eroded, feathered."""
    size = aligned.size
    grid = min(size, MASK_GRID)
    scale = grid / size
    points = aligned.landmarks68 * scale - 0.5  # continuous coordinates -> OpenCV's pixel centres
    hull = cv2.convexHull(np.concatenate([points[_JAW], points[_BROWS]]).astype(np.float32))
    hull_mask = np.zeros((grid, grid), np.uint8)
    cv2.fillConvexPoly(hull_mask, np.round(hull * (1 << _SUBPIXEL)).astype(np.int32), 255,
                       lineType=cv2.LINE_AA, shift=_SUBPIXEL)
    face_size = float(np.sqrt(cv2.contourArea(hull)))
    erode = max(round(ERODE * face_size), 1)
    radius = max(round(FEATHER * face_size), 1)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))
    core = cv2.erode(hull_mask, disk, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    soft = cv2.GaussianBlur(core.astype(np.float32) / 255.0, (2 * radius + 1, 2 * radius + 1), radius / 3.0,
                            borderType=cv2.BORDER_CONSTANT)
    soft *= hull_mask.astype(np.float32) / 255.0  # the square kernel's corners reach a little past the hull
    if grid < size:
        soft = cv2.resize(soft, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(soft, 0.0, 1.0)


def region_mask(aligned: AlignedFace, image_shape: tuple[int, ...],
                mask: np.ndarray | None = None) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The image box the aligned square covers and the face mask warped into it, (h, w) float32."""
    region = image_region(aligned, image_shape)
    x0, y0, x1, y1 = region
    if x1 <= x0 or y1 <= y0:
        return region, np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.float32)
    mask = face_mask(aligned) if mask is None else mask
    return region, warp_to_image(mask, aligned, region, border=cv2.BORDER_CONSTANT)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """RGB (…, 3) in [0, 255] -> float32 CIE Lab (L 0..100, a and b about ±127)."""
    return cv2.cvtColor(np.asarray(rgb, np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _weighted_stats(lab: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted per-channel mean and std of lab (H, W, 3) under weights (H, W)."""
    w = weights.reshape(-1).astype(np.float64)
    values = lab.reshape(-1, 3).astype(np.float64)
    mean = w @ values / w.sum()
    return mean, np.sqrt(w @ (values - mean) ** 2 / w.sum())


def match_colors(generated: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shifts generated (S, S, 3) uint8 so its Lab mean and std under `weights` equal the target's.

    Reinhard et al. (2001) colour transfer, per channel in CIE Lab; returns float32 RGB in [0, 255]. The
    statistics are taken on a grid of at most MASK_GRID pixels, and only pixels with weight > 0 are
    converted: float Lab conversion is the slow part of paste-back at 1024.
    """
    if not (weights > 0).any():
        return generated.astype(np.float32)
    grid = min(weights.shape[0], MASK_GRID)
    small = [cv2.resize(x, (grid, grid), interpolation=cv2.INTER_AREA) for x in (generated, target, weights)]
    gen_mean, gen_std = _weighted_stats(_lab(small[0]), small[2])
    tgt_mean, tgt_std = _weighted_stats(_lab(small[1]), small[2])
    ratio = np.clip(tgt_std / np.maximum(gen_std, 1e-6), *_STD_RATIO)
    inside = weights > 0
    lab = _lab(generated[inside][:, None])  # (N, 1, 3)
    matched = ((lab - gen_mean) * ratio + tgt_mean).astype(np.float32)
    out = generated.astype(np.float32)
    out[inside] = cv2.cvtColor(matched, cv2.COLOR_LAB2RGB)[:, 0] * 255.0
    return np.clip(out, 0.0, 255.0)


def paste_back(image: np.ndarray, aligned_face: AlignedFace, generated: np.ndarray, *,
               color_match: bool = True) -> np.ndarray:
    """A new image: `generated` (S, S, 3) uint8, aligned like `aligned_face`, blended into `image` (H, W, 3).

    Pixels where the warped mask is 0 are copied unchanged; the rest are
    round(image + mask · (face − image)), the face colour-matched to the target region first.
    """
    size = aligned_face.size
    if generated.shape != (size, size, 3) or generated.dtype != np.uint8:
        raise ValueError(f"generated face must be ({size}, {size}, 3) uint8, got {generated.shape} {generated.dtype}")
    mask = face_mask(aligned_face)
    face = match_colors(generated, aligned_face.crop, mask) if color_match else generated.astype(np.float32)
    (x0, y0, x1, y1), alpha = region_mask(aligned_face, image.shape, mask)
    out = image.copy()
    support = alpha > 0
    if not support.any():
        return out
    warped = warp_to_image(face, aligned_face, (x0, y0, x1, y1))
    patch = out[y0:y1, x0:x1]
    original = patch.astype(np.float32)
    blended = original + alpha[..., None] * (warped - original)
    patch[support] = np.clip(np.rint(blended[support]), 0, 255).astype(np.uint8)
    return out

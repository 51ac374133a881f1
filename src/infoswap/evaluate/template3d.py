"""Rigid 3D face template for head pose from 68 landmarks (iBUG/dlib order), constructed here [ours].

Where the numbers come from:
- x, y: MEAN_FRONTAL_68, the mean of our own landmark detections on the 10 neutral, frontal London-set
  photos in assets/faces (CC BY 4.0; held-out identities excluded), aligned by similarity, made left-right
  symmetric and scaled so the eye centres sit at (∓0.5, 0). Regenerate with tools/make_pose_template.py.
  Units: the interocular distance (about 63 mm on adults); x right, y down as in images.
- z (depth, positive away from the camera): a generic head model, not a measurement. The face lies on
  an elliptic cylinder around the vertical axis (half width HEAD_HALF_WIDTH, the cheek line is
  HEAD_DEPTH behind the midline) plus per-feature offsets from common anthropometry: the nose bridge
  rising to a tip about 35 mm in front, brows ahead of the eyes, lips slightly forward.
Because pose and expression errors compare two estimates made with this same template, a bias of the
template mostly cancels; the absolute angles are approximate.
"""

from __future__ import annotations

import numpy as np

MIRROR_68 = (
    *range(16, -1, -1),                       # jaw 0..16
    *range(26, 16, -1),                       # brows 17..26
    27, 28, 29, 30, 35, 34, 33, 32, 31,       # nose bridge, nostrils
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,  # eyes
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,  # outer lips
    64, 63, 62, 61, 60, 67, 66, 65,           # inner lips
)

# 10 faces: london_006, 021, 024, 025, 036, 038, 061, 092, 127, 136 (tools/make_pose_template.py).
MEAN_FRONTAL_68 = (
    (-1.144, 0.056), (-1.118, 0.361), (-1.066, 0.647), (-1.014, 0.898),
    (-0.916, 1.163), (-0.766, 1.362), (-0.586, 1.476), (-0.352, 1.582),
    (0.000, 1.655), (0.352, 1.582), (0.586, 1.476), (0.766, 1.362),
    (0.916, 1.163), (1.014, 0.898), (1.066, 0.647), (1.118, 0.361),
    (1.144, 0.056), (-0.903, -0.250), (-0.771, -0.351), (-0.596, -0.379),
    (-0.439, -0.360), (-0.298, -0.311), (0.298, -0.311), (0.439, -0.360),
    (0.596, -0.379), (0.771, -0.351), (0.903, -0.250), (0.000, 0.022),
    (0.000, 0.214), (0.000, 0.396), (0.000, 0.562), (-0.176, 0.688),
    (-0.099, 0.709), (0.000, 0.731), (0.099, 0.709), (0.176, 0.688),
    (-0.682, -0.009), (-0.582, -0.057), (-0.437, -0.057), (-0.306, 0.014),
    (-0.420, 0.054), (-0.573, 0.055), (0.306, 0.014), (0.437, -0.057),
    (0.582, -0.057), (0.682, -0.009), (0.573, 0.055), (0.420, 0.054),
    (-0.385, 1.064), (-0.246, 0.994), (-0.082, 0.931), (0.000, 0.951),
    (0.082, 0.931), (0.246, 0.994), (0.385, 1.064), (0.247, 1.143),
    (0.124, 1.187), (0.000, 1.199), (-0.124, 1.187), (-0.247, 1.143),
    (-0.360, 1.061), (-0.119, 1.032), (0.000, 1.029), (0.119, 1.032),
    (0.360, 1.061), (0.114, 1.064), (0.000, 1.071), (-0.114, 1.064),
)

HEAD_HALF_WIDTH = 1.2  # just beyond the jaw's widest point (1.144), so every point lies on the cylinder
HEAD_DEPTH = 1.3  # ≈ 80 mm from the facial midline back to where the cylinder's sides would meet the ears
# Depth offsets of features relative to the cylinder (negative = towards the camera), interocular units.
_FEATURE_DEPTH = {
    **{i: -0.10 for i in range(17, 27)},  # brow ridge ahead of the eyes
    **{i: 0.10 for i in range(36, 48)},  # eyes sit in their sockets
    27: -0.10, 28: -0.25, 29: -0.40, 30: -0.55,  # nose bridge down to the tip (≈ 35 mm)
    31: -0.20, 35: -0.20, 32: -0.30, 34: -0.30, 33: -0.35,  # nostrils and columella
    49: -0.10, 53: -0.10, 50: -0.15, 52: -0.15, 51: -0.20,  # upper lip
    55: -0.10, 59: -0.10, 56: -0.15, 58: -0.15, 57: -0.20,  # lower lip
    61: -0.10, 63: -0.10, 65: -0.10, 67: -0.10, 62: -0.12, 66: -0.12,  # inner lip line
}


def _template() -> np.ndarray:
    xy = np.array(MEAN_FRONTAL_68, dtype=np.float64)
    cylinder = HEAD_DEPTH * (1 - np.sqrt(1 - (xy[:, 0] / HEAD_HALF_WIDTH) ** 2))
    offsets = np.array([_FEATURE_DEPTH.get(i, 0.0) for i in range(68)])
    return np.column_stack([xy, cylinder + offsets])


TEMPLATE_68 = _template()  # (68, 3) x right, y down, z away from the camera; interocular distance 1

"""Pose and expression of a face from its 68 landmarks, and the errors between swap and target (SPEC section 8).

Pose: `cv2.solvePnP` of the rigid template (`template3d.TEMPLATE_68`) against the landmarks, for a pinhole
camera with focal length max(H, W) px and the principal point at the image centre; EPnP starts, the
Levenberg-Marquardt refinement finishes. The rotation is read as intrinsic Y-X-Z Euler angles: yaw (about
the vertical axis), pitch (about the horizontal), roll (in the image plane), in degrees.

Expression: the landmarks are frontalised first. Each landmark's residual (observed minus projected
template point) is scaled to template units (interocular distance 1) at that point's depth, turned into
the face's own axes (R^T: exact for roll, first order for yaw and pitch) and added to its template point.
From the frontal points come 7 measures of the movable parts, after FACS action units: mouth opening
(inner lips, AU25/26), mouth width and mouth-corner lift (lip corner puller, AU12), left and right eye
opening (AU43/45) and left and right brow height above the eye (AU1/2/4), all in interocular units. Raw
landmark residuals were tried first and rejected: on the bundled London photos, two people with the same
expression differed more than one person from neutral to smiling (the residuals mostly carry face shape).
The measures still hold some identity (mouth width, eye size), so two different people with the same
expression do not score 0.
Pose error = L2 of the (yaw, pitch, roll) difference in degrees; expression error = L2 of the difference
of the 7 measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from infoswap.evaluate.template3d import TEMPLATE_68

# "left" and "right" as seen in the image (iBUG points 36-41 and 17-21 are on the image's left).
EXPRESSION_MEASURES = ("mouth opening", "mouth width", "mouth-corner lift", "left eye opening",
                       "right eye opening", "left brow height", "right brow height")


@dataclass(frozen=True)
class FaceGeometry:
    """Head pose (yaw, pitch, roll) in degrees and the 7 expression measures (EXPRESSION_MEASURES)."""

    angles: np.ndarray
    expression: np.ndarray


def camera_matrix(height: int, width: int) -> np.ndarray:
    focal = float(max(height, width))
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def expression_measures(frontal: np.ndarray) -> np.ndarray:
    """Frontal landmarks (68, 2), interocular units, y down -> the 7 EXPRESSION_MEASURES."""
    p = frontal
    eye_opening = [(_distance(p[top], p[bottom]) + _distance(p[top2], p[bottom2])) / 2
                   for top, bottom, top2, bottom2 in ((37, 41, 38, 40), (43, 47, 44, 46))]
    brow_height = [p[eye, 1].mean() - p[brow, 1].mean() for eye, brow in ((np.s_[36:42], np.s_[17:22]),
                                                                           (np.s_[42:48], np.s_[22:27]))]
    return np.array([
        _distance(p[62], p[66]),
        _distance(p[48], p[54]),
        (p[51, 1] + p[57, 1]) / 2 - (p[48, 1] + p[54, 1]) / 2,  # corners above the lips' midline: > 0
        *eye_opening,
        *brow_height,
    ])


def face_geometry(landmarks68: np.ndarray, height: int, width: int) -> FaceGeometry:
    """Pose and expression of one face: landmarks (68, 2) in pixels of an image of `height` × `width`."""
    points = np.ascontiguousarray(landmarks68, dtype=np.float64).reshape(68, 2)
    camera = camera_matrix(height, width)
    _, rvec, tvec = cv2.solvePnP(TEMPLATE_68, points, camera, None, flags=cv2.SOLVEPNP_EPNP)
    rvec, tvec = cv2.solvePnPRefineLM(TEMPLATE_68, points, camera, None, rvec, tvec)
    rotation = cv2.Rodrigues(rvec)[0]
    angles = Rotation.from_matrix(rotation).as_euler("YXZ", degrees=True)

    projected = cv2.projectPoints(TEMPLATE_68, rvec, tvec, camera, None)[0].reshape(68, 2)
    depth = (TEMPLATE_68 @ rotation.T + tvec.reshape(1, 3))[:, 2]
    residual = (points - projected) * (depth / camera[0, 0])[:, None]  # template units, image axes
    in_face_axes = np.column_stack([residual, np.zeros(68)]) @ rotation  # rows: R^T · r
    frontal = TEMPLATE_68[:, :2] + in_face_axes[:, :2]
    return FaceGeometry(angles=angles, expression=expression_measures(frontal))


def pose_error(swap: FaceGeometry, target: FaceGeometry) -> float:
    """L2 of the (yaw, pitch, roll) difference in degrees, each difference wrapped to [-180, 180)."""
    difference = (swap.angles - target.angles + 180.0) % 360.0 - 180.0
    return float(np.linalg.norm(difference))


def expression_error(swap: FaceGeometry, target: FaceGeometry) -> float:
    """L2 of the difference of the 7 expression measures (interocular units)."""
    return float(np.linalg.norm(swap.expression - target.expression))

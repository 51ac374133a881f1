"""Every face in a photo: detection, then 68 landmarks, ranked left to right so an index means a place."""

from __future__ import annotations

import numpy as np

from infoswap.faces.detect import DEFAULT_MIN_SCORE, SsdFaceDetector
from infoswap.faces.face import Face
from infoswap.faces.landmarks import LandmarkPredictor


def left_to_right(boxes: np.ndarray) -> np.ndarray:
    """Order of (N, 4) x1, y1, x2, y2 boxes by centre x; a stable sort, so ties keep their given order."""
    return np.argsort((boxes[:, 0] + boxes[:, 2]) / 2, kind="stable")


class FaceFinder:
    """`finder(image)` -> the faces of an (H, W, 3) RGB uint8 image; both networks load on first use."""

    def __init__(self, min_score: float = DEFAULT_MIN_SCORE, detector: SsdFaceDetector | None = None,
                 landmarks: LandmarkPredictor | None = None):
        self.detector = detector if detector is not None else SsdFaceDetector(min_score=min_score)
        self.landmarks = landmarks if landmarks is not None else LandmarkPredictor()

    def __call__(self, image: np.ndarray) -> list[Face]:
        """Faces sorted by box centre x (ties: higher score first); `index` is the rank in that order."""
        boxes, scores = self.detector.detect(image)
        if len(boxes) == 0:
            return []
        points = self.landmarks.predict(image, boxes).astype(np.float64)  # (N, 68, 2)
        order = left_to_right(boxes)  # detector output is best score first: ties keep the better face first
        return [
            Face(index=rank, box=boxes[i], score=float(scores[i]), landmarks68=points[i])
            for rank, i in enumerate(order)
        ]

"""One detected face: what detection and landmarks produce and everything downstream consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# 68-point (iBUG/dlib) index ranges used to derive the 5 alignment points.
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_MOUTH_LEFT, _MOUTH_RIGHT = 48, 54


def landmarks5_from_68(landmarks68: np.ndarray) -> np.ndarray:
    """(…, 68, 2) -> (…, 5, 2): eye centres, nose tip, mouth corners (template order)."""
    return np.stack(
        [
            landmarks68[..., _LEFT_EYE, :].mean(-2),
            landmarks68[..., _RIGHT_EYE, :].mean(-2),
            landmarks68[..., _NOSE_TIP, :],
            landmarks68[..., _MOUTH_LEFT, :],
            landmarks68[..., _MOUTH_RIGHT, :],
        ],
        axis=-2,
    )


@dataclass(frozen=True)
class Face:
    """A face in image pixel coordinates; `index` is its rank left to right (by box centre) in the image."""

    index: int
    box: np.ndarray  # (4,) x1, y1, x2, y2
    score: float
    landmarks68: np.ndarray  # (68, 2) x, y

    @property
    def landmarks5(self) -> np.ndarray:
        return landmarks5_from_68(self.landmarks68)

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return float(max(x2 - x1, 0) * max(y2 - y1, 0))

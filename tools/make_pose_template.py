"""Prints the mean frontal 68-point face that `infoswap.evaluate.template3d` stores as MEAN_FRONTAL_68.

    python tools/make_pose_template.py

The faces are the neutral, frontal London-set photos under assets/faces/identities (CC BY 4.0), without
the held-out identities. The tool detects 68 landmarks with our FaceFinder, aligns all shapes to their mean
by similarity (generalised Procrustes), makes the mean left-right symmetric (average with its mirror
image), and scales it so that the eye centres lie at (∓0.5, 0) (interocular distance 1, y down).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infoswap.evaluate.template3d import MIRROR_68
from infoswap.faces.align import similarity_transform, transform_points
from infoswap.faces.finder import FaceFinder
from infoswap.io.images import read_image

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = {"london_008", "london_062"}  # assets/README.md, "Held-out identities"


def normalise(shape: np.ndarray) -> np.ndarray:
    """Eye centres to (-0.5, 0) and (0.5, 0): the template's frame."""
    eyes = np.array([shape[36:42].mean(0), shape[42:48].mean(0)])
    return transform_points(similarity_transform(eyes, np.array([[-0.5, 0.0], [0.5, 0.0]])), shape)


def main() -> None:
    photos = sorted(p for p in (ROOT / "assets/faces/identities").glob("london_*/neutral.jpg")
                    if p.parent.name not in HELD_OUT)
    finder = FaceFinder()
    shapes = [max(finder(read_image(p).pixels), key=lambda f: f.area).landmarks68 for p in photos]
    mean = normalise(shapes[0])
    for _ in range(5):
        mean = normalise(np.mean([transform_points(similarity_transform(s, mean), s) for s in shapes], axis=0))
    mirrored = mean[list(MIRROR_68)] * np.array([-1.0, 1.0])
    mean = normalise((mean + mirrored) / 2)
    print(f"# {len(photos)} faces: {', '.join(p.parent.name for p in photos)}")
    print("MEAN_FRONTAL_68 = (")
    for i in range(0, 68, 4):
        print("    " + " ".join(f"({round(x, 3) + 0.0:.3f}, {round(y, 3) + 0.0:.3f})," for x, y in mean[i : i + 4]))
    print(")")


if __name__ == "__main__":
    main()

"""An annotated copy of a photo: each face's box, index, 68 landmarks and the 5 alignment points."""

from __future__ import annotations

from collections.abc import Collection

import cv2
import numpy as np

from infoswap.faces.face import Face

_BOX = (40, 220, 60)  # RGB
_SAME_PERSON_BOX = (230, 40, 230)  # magenta: stands out from the green boxes and the red/yellow points
_POINTS68 = (255, 70, 70)
_POINTS5 = (255, 220, 0)


def draw_faces(image: np.ndarray, faces: list[Face], same_person: Collection[int] = ()) -> np.ndarray:
    """(H, W, 3) RGB uint8 -> a new (H, W, 3) RGB uint8 with the faces drawn; line width follows image size.

    Faces whose index is in `same_person` (those matching a reference photo) get a magenta box and the
    label "<index> = ref", so they stand out from the others.
    """
    canvas = np.ascontiguousarray(image).copy()
    width = max(1, round(max(image.shape[:2]) / 500))
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        matched = face.index in same_person
        colour = _SAME_PERSON_BOX if matched else _BOX
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2 * width if matched else width, cv2.LINE_AA)
        label = f"{face.index} = ref" if matched else str(face.index)
        scale = 0.5 * width
        (text_w, text_h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, width)
        top = max(y1 - text_h - base - 2 * width, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + text_w + 2 * width, top + text_h + base + 2 * width), colour, -1)
        cv2.putText(canvas, label, (x1 + width, top + text_h + width), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), width, cv2.LINE_AA)
        for x, y in face.landmarks68:
            cv2.circle(canvas, (int(round(x)), int(round(y))), width, _POINTS68, -1, cv2.LINE_AA)
        for x, y in face.landmarks5:
            cv2.circle(canvas, (int(round(x)), int(round(y))), 2 * width, _POINTS5, -1, cv2.LINE_AA)
    return canvas

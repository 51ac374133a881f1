"""The 5-point alignment template (FFHQ-style crop), as fractions of the aligned square's side.

Order everywhere: left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner
("left" = smaller x in the image). Scaled by the working size (128/256/512/1024), so one template serves
every preset.
"""

import numpy as np

TEMPLATE_5 = np.array(
    [
        [0.37692, 0.46865],
        [0.62286, 0.46913],
        [0.50124, 0.61332],
        [0.39309, 0.72541],
        [0.61150, 0.72490],
    ],
    dtype=np.float64,
)


def template_points(size: int) -> np.ndarray:
    """The template in pixel coordinates of a `size` × `size` aligned face, shape (5, 2)."""
    return TEMPLATE_5 * size

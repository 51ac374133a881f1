"""Find the photo tiles in a figure that shows a grid of photos with captions between them.

Why: the SFHQ repositories ship their synthetic faces only inside README figures: a regular
grid of square photos on a plain dark background, with caption text in the gutters.  The
gutters are what we detect: a background-coloured column or row strip is a gutter, captions
only make a small share of a gutter's pixels non-background, and a photo row or column is
mostly non-background.  Both datasets are 1024 x 1024 images and every tile in one figure has
the same size, so any box that is not square (within SQUARE_SLACK) or differs from the figure's
typical tile is rejected instead of guessed at: a caption line merged into a box, or a legend
beside the grid, never comes out as a "tile".
"""
from __future__ import annotations

import numpy as np

BACKGROUND_TOLERANCE = 12  # max |pixel - background| per channel that still counts as background
COLUMN_SHARE = 0.2         # a photo column has more non-background pixels than this, over the figure
ROW_SHARE = 0.45           # a photo row has more than this, over the photo columns
MIN_SIDE = 120             # tiles smaller than this (px) are labels or legends, not photos
SIZE_SLACK = 4             # px a tile may differ from the figure's median tile
SQUARE_SLACK = 2           # px a tile may differ from square: no more than INSET, so a merged caption row is trimmed
INSET = 2                  # px trimmed from each side against anti-aliased gutter edges


def _runs(flags: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """[start, stop) of each run of True at least min_len long."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def background(rgb: np.ndarray) -> np.ndarray:
    """Median colour of the two outermost pixel rings: the figure's background."""
    ring = np.concatenate([rgb[:2].reshape(-1, 3), rgb[-2:].reshape(-1, 3),
                           rgb[:, :2].reshape(-1, 3), rgb[:, -2:].reshape(-1, 3)])
    return np.median(ring, axis=0)


def find_tiles(rgb: np.ndarray) -> tuple[list[tuple[int, int, int, int]], int]:
    """Boxes (x0, y0, x1, y1) of the photo tiles of an (H, W, 3) uint8 figure, row by row.

    Returns the accepted boxes and how many candidate boxes were rejected as irregular.
    """
    content = np.abs(rgb.astype(np.int16) - background(rgb)).max(axis=2) > BACKGROUND_TOLERANCE
    columns = _runs(content.mean(axis=0) > COLUMN_SHARE, MIN_SIDE)
    if not columns:
        return [], 0
    photo_cols = np.zeros(content.shape[1], dtype=bool)
    for c0, c1 in columns:
        photo_cols[c0:c1] = True
    rows = _runs(content[:, photo_cols].mean(axis=1) > ROW_SHARE, MIN_SIDE)
    boxes = [(c0, r0, c1, r1) for r0, r1 in rows for c0, c1 in columns]
    if not boxes:
        return [], 0
    med_w = float(np.median([b[2] - b[0] for b in boxes]))
    med_h = float(np.median([b[3] - b[1] for b in boxes]))
    good = [b for b in boxes
            if abs(b[2] - b[0] - med_w) <= SIZE_SLACK and abs(b[3] - b[1] - med_h) <= SIZE_SLACK
            and abs((b[2] - b[0]) - (b[3] - b[1])) <= SQUARE_SLACK]
    inset = [(x0 + INSET, y0 + INSET, x1 - INSET, y1 - INSET) for x0, y0, x1, y1 in good]
    return inset, len(boxes) - len(good)


def looks_captioned(rgb: np.ndarray, bg: np.ndarray, strip: int = 8) -> bool:
    """True if an edge strip of a tile looks like text on background (mostly background, some bright ink).

    A last guard after find_tiles: a real photo edge is rarely that empty and that bright at once.
    """
    near_bg = np.abs(rgb.astype(np.int16) - bg).max(axis=2) <= BACKGROUND_TOLERANCE
    bright = rgb.min(axis=2) > 180
    for sl in (np.s_[:strip], np.s_[-strip:], np.s_[:, :strip], np.s_[:, -strip:]):
        if near_bg[sl].mean() > 0.5 and bright[sl].mean() > 0.01:
            return True
    return False

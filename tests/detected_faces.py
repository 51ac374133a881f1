"""The bundled photos and their faces, found once per test session by the shipped FaceFinder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from infoswap.faces.face import Face
from infoswap.io.images import read_image

FACES = Path(__file__).resolve().parents[1] / "assets" / "faces"


@cache
def finder():
    from infoswap.faces.finder import FaceFinder

    return FaceFinder()


@cache
def photo(relative: str) -> tuple[np.ndarray, tuple[Face, ...]]:
    """(pixels (H, W, 3) uint8, faces) of assets/faces/<relative>."""
    pixels = read_image(FACES / relative).pixels  # shared between tests: never change it in place
    return pixels, tuple(finder()(pixels))

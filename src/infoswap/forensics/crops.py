"""Face-crop files of a set: lossless PNG in, (B, 3, S, S) tensors out.

PNG, so that no compression step differs between real and fake crops. Fake crops carry the PNG text
that `infoswap inspect` reads as AI-generated (tool and IPTC notice) but not the pixel watermark (see
`infoswap.forensics.forgery`); the detector sees pixels only.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from infoswap.errors import InfoswapError


def write_crop(path: Path, pixels: np.ndarray, fake: bool) -> None:
    """Writes an (S, S, 3) uint8 RGB crop as PNG, creating its folder; fakes get the AI-generated text."""
    from infoswap.swap.labels import NOTICE, TOOL

    path.parent.mkdir(parents=True, exist_ok=True)
    info = None
    if fake:
        info = PngInfo()
        info.add_text("Software", TOOL)
        info.add_itxt("Description", NOTICE)
    try:
        Image.fromarray(pixels, "RGB").save(path, "PNG", pnginfo=info)
    except OSError as e:
        raise InfoswapError(f"{path}: could not write the face crop ({e})") from None


def read_crops(paths: list[Path], size: int) -> np.ndarray:
    """(N, size, size, 3) uint8 RGB: each crop read and, if it has another size, area/linear-resized."""
    out = np.empty((len(paths), size, size, 3), np.uint8)
    for i, path in enumerate(paths):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InfoswapError(f"{path}: not a readable face crop")
        if bgr.shape[:2] != (size, size):
            shrink = bgr.shape[0] > size
            bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        out[i] = bgr[..., ::-1]
    return out

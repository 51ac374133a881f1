"""Reads any photo a user may give into RGB uint8, or says clearly why it cannot.

EXIF orientation is applied; grayscale, RGBA, palette, 16-bit and CMYK inputs are converted (the
conversion is reported through `notes`); a pixel-count limit stops decompression bombs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from infoswap.errors import InfoswapError

MAX_PIXELS = 64_000_000  # 8000 × 8000: far above any photo, far below a bomb
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class LoadedImage:
    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    path: Path
    notes: list[str] = field(default_factory=list)


def _to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        notes.append(f"converted {mode} (16/32-bit grayscale) to 8-bit RGB")
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max() > 255 else 255.0
        gray = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        notes.append(f"composited {mode} transparency onto white")
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    notes.append(f"converted {mode} to RGB")
    return image.convert("RGB")


def read_image(path: str | Path) -> LoadedImage:
    """Decodes `path` fully (so truncation is caught here, not later) into RGB uint8."""
    path = Path(path)
    if not path.exists():
        raise InfoswapError(f"{path}: no such file")
    if path.is_dir():
        raise InfoswapError(f"{path}: is a folder, expected an image file")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise InfoswapError(
                        f"{path}: {image.width}×{image.height} pixels exceeds the limit of {MAX_PIXELS:,}"
                    )
                image.load()
                orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
                oriented = ImageOps.exif_transpose(image)  # a copy even when nothing turns
                if orientation != 1:
                    notes.append(f"applied EXIF orientation {orientation}")
                rgb = _to_rgb(oriented, notes)
                pixels = np.asarray(rgb, dtype=np.uint8).copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InfoswapError(f"{path}: not a readable image ({type(e).__name__})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InfoswapError(f"{path}: damaged or truncated image ({e})") from None
    if pixels.ndim != 3 or pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise InfoswapError(f"{path}: image has no pixels")
    return LoadedImage(pixels, path, notes)

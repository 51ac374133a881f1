"""What the web app accepts: upload size, image pixels and video length, checked before any decoding.

A browser can send anything, so every upload is measured from what is cheap to read (the file size, an
image header, a video's stream header) before a model or decoder touches it. Messages name the upload by
its own file name, never by the server's temp path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from infoswap.errors import InfoswapError

MIB = 1 << 20
MAX_IMAGE_BYTES = 25 * MIB  # a 50 MP JPEG is about 20 MB
MAX_IMAGE_PIXELS = 50_000_000  # 8660 × 5773: every phone photo, far below a decompression bomb
MAX_VIDEO_BYTES = 500 * MIB
MAX_VIDEO_SECONDS = 120.0  # CPU swapping runs at a few frames per second: minutes already
MAX_SOURCES = 10  # source photos averaged into one identity


@dataclass(frozen=True)
class Limits:
    image_bytes: int = MAX_IMAGE_BYTES
    image_pixels: int = MAX_IMAGE_PIXELS
    video_bytes: int = MAX_VIDEO_BYTES
    video_seconds: float = MAX_VIDEO_SECONDS
    sources: int = MAX_SOURCES

    @property
    def upload_bytes(self) -> int:
        """The largest upload of any kind: the web server refuses bigger ones before they are stored."""
        return max(self.image_bytes, self.video_bytes)

    def describe(self) -> str:
        return (f"Limits: images up to {_size(self.image_bytes)} and {self.image_pixels / 1e6:g} megapixels, "
                f"videos up to {_size(self.video_bytes)} and {self.video_seconds:g} s, "
                f"up to {self.sources} source photos.")


def _size(n: int) -> str:
    return f"{n / MIB:g} MB" if n >= MIB else f"{n / 1024:g} KB"


def upload_name(path: str | Path) -> str:
    """The name the user knows the upload by (the upload's base name, kept by the web server)."""
    return Path(path).name


def _check_bytes(path: Path, limit: int, kind: str) -> None:
    size = path.stat().st_size
    if size == 0:
        raise InfoswapError(f"{upload_name(path)}: the file is empty")
    if size > limit:
        raise InfoswapError(f"{upload_name(path)}: the file is {_size(size)}; {kind} uploads are limited to "
                            f"{_size(limit)}")


def _too_many_pixels(path: Path, size: str, pixels: float, limits: Limits) -> InfoswapError:
    return InfoswapError(f"{upload_name(path)}: {size}{pixels / 1e6:.1f} megapixels; images are limited to "
                         f"{limits.image_pixels / 1e6:g} megapixels")


def _image_size(path: Path, limits: Limits) -> tuple[int, int] | None:
    """(width, height) from the header, or None when the file is no image Pillow knows.

    Pillow refuses to open an image of more than 2 × Image.MAX_IMAGE_PIXELS (179 MP) at all; that is
    the same over-limit upload, named with the pixel count from Pillow's message.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except Image.DecompressionBombError as e:
        found = re.search(r"\((\d+) pixels\)", str(e))
        pixels = int(found.group(1)) if found else 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise _too_many_pixels(path, "" if found else "more than ", pixels, limits) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def check_image(path: str | Path, limits: Limits) -> None:
    """Size and pixel count from the header; a file that is no image is named as such."""
    path = Path(path)
    _check_bytes(path, limits.image_bytes, "image")
    size = _image_size(path, limits)
    if size is None:
        raise InfoswapError(f"{upload_name(path)}: is not an image this app can read "
                            "(use JPEG, PNG, WebP, BMP or TIFF)")
    width, height = size
    if width * height > limits.image_pixels:
        raise _too_many_pixels(path, f"{width}×{height} is ", width * height, limits)


def check_video(path: str | Path, limits: Limits) -> float:
    """Size and length (seconds, from the stream header) of a video upload; returns the length."""
    from infoswap.swap.video import probe_video

    path = Path(path)
    _check_bytes(path, limits.video_bytes, "video")
    info = probe_video(path)
    seconds = info.frames / info.fps if info.fps else float("inf")
    if seconds > limits.video_seconds:
        raise InfoswapError(f"{upload_name(path)}: the video is {seconds:.1f} s long; videos are limited to "
                            f"{limits.video_seconds:g} s")
    return seconds


def check_media(path: str | Path, limits: Limits) -> str:
    """"image" or "video" for an upload within the limits; an error for anything else."""
    from infoswap.swap.video import VIDEO_SUFFIXES

    path = Path(path)
    if _image_size(path, limits) is not None:
        check_image(path, limits)
        return "image"
    if path.suffix.lower() in VIDEO_SUFFIXES:
        check_video(path, limits)
        return "video"
    raise InfoswapError(f"{upload_name(path)}: is neither an image nor a video this app can read")

"""read_image: every photo a user may give becomes RGB uint8, or a one-line error that says why."""

import numpy as np
import pytest
from PIL import Image

import infoswap.io.images as images
from infoswap.errors import InfoswapError
from infoswap.io.images import read_image


@pytest.fixture
def picture() -> np.ndarray:
    """(40, 60, 3): red top-left block on black, so orientation and colour are both visible."""
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:10, :20] = (255, 0, 0)
    return pixels


def test_plain_rgb_is_read_as_is_without_notes(tmp_path, picture):
    Image.fromarray(picture).save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert np.array_equal(loaded.pixels, picture) and loaded.notes == []


def test_exif_orientation_is_applied_and_said(tmp_path, picture):
    image = Image.fromarray(picture)
    exif = image.getexif()
    exif[0x0112] = 6  # the camera was turned: show rotated 90° clockwise
    image.save(tmp_path / "turned.jpg", exif=exif, quality=95)
    loaded = read_image(tmp_path / "turned.jpg")
    assert loaded.pixels.shape == (60, 40, 3)
    assert loaded.pixels[:20, -10:, 0].mean() > 200  # the red block moved to the top right
    assert loaded.notes == ["applied EXIF orientation 6"]


@pytest.mark.parametrize("mode, suffix, note", [
    ("L", ".png", "converted L to RGB"),
    ("LA", ".png", "composited LA transparency onto white"),
    ("RGBA", ".png", "composited RGBA transparency onto white"),
    ("P", ".png", "converted P to RGB"),
    ("CMYK", ".jpg", "converted CMYK to RGB"),
    ("I;16", ".png", "converted I;16 (16/32-bit grayscale) to 8-bit RGB"),
])
def test_other_modes_become_rgb_and_say_so(tmp_path, picture, mode, suffix, note):
    if mode == "I;16":
        image = Image.fromarray(picture[..., 0].astype(np.uint16) * 257)  # 16-bit grayscale
    else:
        image = Image.fromarray(picture).convert(mode)
    image.save(tmp_path / f"x{suffix}")
    loaded = read_image(tmp_path / f"x{suffix}")
    assert loaded.pixels.shape == (40, 60, 3) and loaded.pixels.dtype == np.uint8
    assert loaded.notes == [note]
    assert loaded.pixels[:10, :20].mean() > loaded.pixels[20:, 30:].mean() + 50  # the block survives


def test_decompression_bomb_is_refused(tmp_path, picture, monkeypatch):
    Image.fromarray(picture).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(InfoswapError, match=r"big.png: 60×40 pixels exceeds the limit of 1,000$"):
        read_image(tmp_path / "big.png")


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not a picture"), "not a readable image"),
    (lambda p: Image.new("RGB", (300, 200)).save(p) or p.write_bytes(p.read_bytes()[:300]), "damaged or truncated"),
    (lambda p: p.mkdir(), "is a folder, expected an image file"),
    (lambda p: None, "no such file"),
])
def test_bad_files_give_one_clear_line(tmp_path, make, message):
    path = tmp_path / "x.jpg"
    make(path)
    with pytest.raises(InfoswapError, match=message) as caught:
        read_image(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)

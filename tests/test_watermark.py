"""The invisible watermark on real photos: read back as written, after JPEG q75 and after a 0.5× resize at
512 px, never read from unmarked photos, and the payload check rejects frames it did not write."""

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from infoswap import __version__
from infoswap.swap import watermark

FACES = Path(__file__).resolve().parents[1] / "assets" / "faces"

PHOTOS = sorted((FACES / "identities").glob("*/*.jpg"))


def _at_512(path) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    scale = 512 / max(image.size)
    return np.asarray(image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS))


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _half(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def marked() -> list[tuple[np.ndarray, np.ndarray]]:
    assert len(PHOTOS) >= 24, "bundled identity photos missing"
    pairs = []
    for path in PHOTOS:
        original = _at_512(path)
        pairs.append((original, watermark.embed(original)))
    return pairs


def test_payload_is_tool_and_version():
    assert watermark.PAYLOAD == f"infoswap {__version__}"


def test_mark_is_invisible(marked):
    for original, stamped in marked:
        diff = original.astype(np.float64) - stamped
        psnr = 10 * np.log10(255**2 / np.mean(diff**2))
        assert psnr > 40 and np.abs(diff).max() <= 8


@pytest.mark.parametrize(
    "attack",
    [lambda x: x, lambda x: _jpeg(x, 75), _half],
    ids=["as_written", "jpeg_q75", "half_size"],
)
def test_read_back_from_every_marked_photo(marked, attack):
    readings = [watermark.read(attack(stamped)) for _, stamped in marked]
    assert [r.payload for r in readings] == [watermark.PAYLOAD] * len(marked)


def test_half_size_is_read_by_enlarging(marked):
    reading = watermark.read(_half(marked[0][1]))
    assert reading.found and reading.factor == 2.0
    assert not watermark.read(_half(marked[0][1]), factors=(1.0,)).found


def test_no_false_positive_on_bundled_photos():
    photos = PHOTOS + sorted((FACES / "groups").glob("*.jpg"))
    found = [p.name for p in photos if watermark.read(np.asarray(Image.open(p).convert("RGB"))).found]
    assert found == []


def test_no_false_positive_on_flat_or_noisy_pictures():
    # Flat areas make every block agree, so their bits are not coin flips; the CRC + prefix still refuse them.
    pictures = [np.full((256, 256, 3), level, np.uint8) for level in (0, 1, 127, 128, 254, 255)]
    pictures.append(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8))
    assert not any(watermark.read(p).found for p in pictures)


def test_frame_check_rejects_foreign_payloads(marked):
    original = marked[0][0]
    assert watermark.read(watermark.embed(original, "infoswap 9.9.9")).payload == "infoswap 9.9.9"
    assert not watermark.read(watermark.embed(original, "not ours")).found  # CRC fine, magic prefix missing
    with pytest.raises(ValueError):
        watermark.embed(original, "infoswap " + "x" * 30)


def test_odd_sizes_and_limits(marked):
    original = np.ascontiguousarray(marked[3][0][:451, :333])
    assert watermark.read(watermark.embed(original)).found
    assert not watermark.fits(original[:120, :120].shape)
    with pytest.raises(ValueError, match="too small"):
        watermark.embed(original[:120, :120])
    assert not watermark.read(original[:120, :120]).found

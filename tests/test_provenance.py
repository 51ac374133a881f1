"""Image provenance: PNG/JPEG/WebP files carry the watermark and AI-generated metadata that reads back,
unmarked photos read as unmarked, and a failed write leaves nothing behind."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infoswap.errors import InfoswapError
from infoswap.swap import provenance, watermark
from infoswap.swap.labels import DIGITAL_SOURCE_TYPE, TOOL

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "faces" / "identities" / "london_024" / "smiling.jpg"


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.asarray(Image.open(PHOTO).convert("RGB"))


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_metadata_and_watermark_round_trip(tmp_path, pixels, suffix):
    path = provenance.save_marked_image(tmp_path / f"out{suffix}", pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out{suffix}"]  # no temp file left
    report = provenance.read_provenance(path)
    assert report["watermark"] == {"found": True, "payload": watermark.PAYLOAD}
    meta = report["metadata"]
    assert meta["ai_generated"] is True
    assert meta["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert meta["creator_tool"] == TOOL and meta["software"] == TOOL
    with Image.open(path) as image:
        assert image.size == (pixels.shape[1], pixels.shape[0])
        if suffix == ".png":  # XMP in its iTXt chunk, plus plain text chunks any viewer shows
            assert "trainedAlgorithmicMedia" in image.text["XML:com.adobe.xmp"]
            assert image.text["Software"] == TOOL
        else:
            assert b"Iptc4xmpExt:DigitalSourceType" in image.info["xmp"]
            assert image.getexif()[0x0131] == TOOL


def test_unmarked_photo_reads_as_unmarked():
    report = provenance.read_provenance(PHOTO)
    assert report["watermark"] == {"found": False, "payload": None}
    assert report["metadata"]["ai_generated"] is False
    assert report["metadata"]["digital_source_type"] is None


def test_xmp_written_as_elements_by_other_tools_is_read():
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        "<Iptc4xmpExt:DigitalSourceType> http://cv.iptc.org/newscodes/digitalsourcetype/"
        "compositeWithTrainedAlgorithmicMedia"
        "</Iptc4xmpExt:DigitalSourceType></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    found = provenance._parse_xmp(xmp)
    assert found["digital_source_type"].endswith("/compositeWithTrainedAlgorithmicMedia")
    assert provenance._parse_xmp(b"<not xml")["digital_source_type"] is None


def test_failed_write_leaves_no_file(tmp_path, pixels, monkeypatch):
    def save_half_then_fail(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_half_then_fail)
    with pytest.raises(InfoswapError, match="could not write"):
        provenance.save_marked_image(tmp_path / "out.png", pixels)
    assert list(tmp_path.iterdir()) == []


def test_bad_output_paths(tmp_path, pixels):
    with pytest.raises(InfoswapError, match="use .png, .jpg or .webp"):
        provenance.save_marked_image(tmp_path / "out.bmp", pixels)
    with pytest.raises(InfoswapError, match="does not exist"):
        provenance.save_marked_image(tmp_path / "missing" / "out.png", pixels)
    with pytest.raises(InfoswapError, match="no such file"):
        provenance.read_provenance(tmp_path / "nothing.png")


def test_small_image_gets_metadata_without_watermark(tmp_path, pixels):
    path = provenance.save_marked_image(tmp_path / "small.png", np.ascontiguousarray(pixels[:100, :100]))
    report = provenance.read_provenance(path)
    assert report["watermark"]["found"] is False and report["metadata"]["ai_generated"] is True

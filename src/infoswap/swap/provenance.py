"""Provenance on every output, and the reader behind `infoswap inspect`.

An output carries two independent marks: the invisible watermark in its pixels (survives re-encoding and
resizing, lost to heavy edits) and file metadata (survives nothing but a byte copy, but any tool can read
it). Images get XMP with the IPTC digital source type `trainedAlgorithmicMedia` and the tool
(`xmp:CreatorTool`), plus EXIF Software/ImageDescription (JPEG, WebP) or PNG text chunks; videos get a
container comment (see `infoswap.swap.video`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from infoswap.errors import InfoswapError
from infoswap.io.images import IMAGE_SUFFIXES, read_image
from infoswap.swap import watermark
from infoswap.swap.atomic import atomic_output
from infoswap.swap.labels import DIGITAL_SOURCE_TYPE, NOTICE, TOOL, names_ai_source
from infoswap.swap.video import VIDEO_SUFFIXES, probe_video, sample_frames

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
_EXIF_SOFTWARE, _EXIF_DESCRIPTION = 0x0131, 0x010E
_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_XMP = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="{_NS['x']}">
 <rdf:RDF xmlns:rdf="{_NS['rdf']}">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="{_NS['Iptc4xmpExt']}"
    xmlns:xmp="{_NS['xmp']}"
    xmlns:dc="{_NS['dc']}"
    Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}"
    xmp:CreatorTool="{TOOL}">
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{NOTICE}</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def mark_image(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> the same picture with the invisible watermark.

    An image below about 176 × 176 px has too few blocks to carry it and comes back unchanged: only the
    file metadata marks it (check with `watermark.fits`).
    """
    return watermark.embed(pixels) if watermark.fits(pixels.shape) else pixels


def save_marked_image(path: str | Path, pixels: np.ndarray, *, quality: int = 95) -> Path:
    """Watermarks `pixels` and writes them as PNG, JPEG or WebP (by suffix) with AI-generated metadata.

    Marking pixels that already carry the watermark changes them by rounding only, so callers may pass
    either. `quality` applies to JPEG and WebP. The file appears atomically.
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InfoswapError(f"{path}: cannot write {path.suffix or 'files without a suffix'}; use .png, .jpg or .webp")
    if not 1 <= quality <= 100:
        raise InfoswapError(f"quality must be between 1 and 100, got {quality}")
    image = Image.fromarray(mark_image(pixels), "RGB")
    with atomic_output(path) as temp:
        try:
            if fmt == "PNG":
                info = PngInfo()
                info.add_itxt("XML:com.adobe.xmp", _XMP)
                info.add_text("Software", TOOL)
                info.add_itxt("Description", NOTICE)
                image.save(temp, fmt, pnginfo=info)
            else:
                exif = Image.Exif()
                exif[_EXIF_SOFTWARE] = TOOL
                exif[_EXIF_DESCRIPTION] = NOTICE
                image.save(temp, fmt, quality=quality, xmp=_XMP.encode("utf-8"), exif=exif)
        except OSError as e:
            raise InfoswapError(f"{path}: could not write the image ({e})") from None
    return path


def _parse_xmp(xmp: str | bytes | None) -> dict[str, str | None]:
    """DigitalSourceType, CreatorTool and description from an XMP packet, as attributes or elements."""
    found: dict[str, str | None] = {"digital_source_type": None, "creator_tool": None, "description": None}
    if not xmp:
        return found
    try:
        root = ET.fromstring(xmp.encode("utf-8") if isinstance(xmp, str) else xmp)
    except ET.ParseError:
        return found
    keys = {
        f"{{{_NS['Iptc4xmpExt']}}}DigitalSourceType": "digital_source_type",
        f"{{{_NS['xmp']}}}CreatorTool": "creator_tool",
    }
    for element in root.iter():
        for name, key in keys.items():
            value = element.get(name) or (element.text.strip() if element.tag == name and element.text else None)
            found[key] = found[key] or value
        if element.tag == f"{{{_NS['dc']}}}description":
            item = element.find(".//rdf:li", _NS)
            found["description"] = found["description"] or (item.text if item is not None else None)
    return found


def image_metadata(path: Path) -> dict[str, Any]:
    """The provenance-related metadata of an image file (XMP, EXIF, PNG text)."""
    try:
        with Image.open(path) as image:
            fmt = image.format
            xmp = _parse_xmp(image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"))
            exif = image.getexif()
            text = getattr(image, "text", {}) if fmt == "PNG" else {}
    except (UnidentifiedImageError, OSError) as e:
        raise InfoswapError(f"{path}: not a readable image ({e})") from None
    software = exif.get(_EXIF_SOFTWARE) or text.get("Software")
    description = xmp["description"] or exif.get(_EXIF_DESCRIPTION) or text.get("Description")
    source = xmp["digital_source_type"] or names_ai_source(description)
    return {
        "format": fmt,
        "ai_generated": names_ai_source(source) is not None,
        "digital_source_type": source,
        "creator_tool": xmp["creator_tool"],
        "software": software,
        "description": description,
    }


def _image_provenance(path: Path) -> dict[str, Any]:
    reading = watermark.read(read_image(path).pixels)
    return {
        "watermark": {"found": reading.found, "payload": reading.payload},
        "metadata": image_metadata(path),
    }


def _video_provenance(path: Path, frames: int) -> dict[str, Any]:
    info = probe_video(path)
    readings = [watermark.read(frame) for frame in sample_frames(path, frames)]
    payloads = Counter(r.payload for r in readings if r.found)
    found = sum(payloads.values())
    comment = " ".join(info.tags.values())
    source = names_ai_source(comment)
    return {
        "watermark": {
            "found": found > 0,
            "payload": payloads.most_common(1)[0][0] if payloads else None,
            "frames_checked": len(readings),
            "frames_found": found,
            "share": found / len(readings) if readings else 0.0,
        },
        "metadata": {
            "format": info.container,
            "ai_generated": source is not None,
            "digital_source_type": source,
            "software": info.tags.get("encoder"),
            "description": info.tags.get("comment"),
            "tags": info.tags,
            "video": {k: v for k, v in asdict(info).items() if k not in ("container", "tags")},
        },
    }


def read_provenance(path: str | Path, *, frames: int = 10) -> dict[str, Any]:
    """{"watermark": {"found", "payload", ...}, "metadata": {...}} for an image or a video.

    For a video, `frames` evenly spaced frames are read and the watermark entry also gives how many of
    them carried it ("frames_checked", "frames_found", "share").
    """
    path = Path(path)
    if not path.is_file():
        raise InfoswapError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return _video_provenance(path, frames)
    if suffix in IMAGE_SUFFIXES:
        return _image_provenance(path)
    try:  # unknown suffix: Pillow recognises images by content, cheaply
        with Image.open(path):
            pass
    except (UnidentifiedImageError, OSError):
        return _video_provenance(path, frames)
    return _image_provenance(path)

#!/usr/bin/env python3
"""Build the composite "group" pictures in ``assets/faces/groups/`` from shipped identity photos.

Each composite tiles 3-4 real Face Research Lab London Set photographs (from
``assets/faces/identities/london_*/``) side by side on a plain grey canvas.  The faces are the
unaltered photographs, only cropped to head and shoulders and scaled; nothing is blended or
synthesised.  The result is a multi-face test image whose licence is clean (CC BY 4.0, like its
inputs) and whose identities are known.  Held-out identities are never used.

The output is deterministic: the layout is fixed in ``COMPOSITES`` below and the only inputs are
the shipped JPEGs.  ``tools/prepare_sample_faces.py`` calls :func:`build`; running this file on
its own rebuilds only the composites (the manifest is written by prepare_sample_faces.py).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
JPEG_QUALITY = 92
BACKGROUND = (212, 212, 208)  # close to the London set's studio grey
GAP = 24                       # px between tiles and around the border
# Head-and-shoulders crop (left, top, right, bottom) of a 600x600 London identity photo; 3:4.
CROP = (105, 40, 495, 560)

# dest -> list of (identity photo relative to identities/, tile height in px).
# Tiles are bottom-aligned; different heights mimic people standing at different distances.
COMPOSITES: dict[str, list[tuple[str, int]]] = {
    "groups/composite_london_4.jpg": [
        ("london_021/neutral.jpg", 384),
        ("london_025/neutral.jpg", 384),
        ("london_024/neutral.jpg", 384),
        ("london_038/neutral.jpg", 384),
    ],
    "groups/composite_london_3.jpg": [
        ("london_061/smiling.jpg", 420),
        ("london_136/smiling.jpg", 380),
        ("london_092/smiling.jpg", 440),
    ],
}


@dataclass(frozen=True)
class Composite:
    dest: str
    inputs: list[str]
    identities: list[str]
    size: tuple[int, int]


def _tile(path: Path, height: int) -> Image.Image:
    im = Image.open(path).convert("RGB")
    if im.size != (600, 600):
        raise ValueError(f"{path}: expected a 600x600 London identity photo, got {im.size}")
    im = im.crop(CROP)
    width = round(im.width * height / im.height)
    return im.resize((width, height), Image.Resampling.LANCZOS)


def build(faces_dir: Path, exclude: list[str] = ()) -> list[Composite]:
    """Write every composite under ``faces_dir`` (reading ``faces_dir/identities``)."""
    identities_dir = faces_dir / "identities"
    out = []
    for dest, spec in COMPOSITES.items():
        ids = [p.split("/")[0] for p, _ in spec]
        bad = sorted(set(ids) & set(exclude))
        if bad:
            raise ValueError(f"{dest}: uses held-out identities {bad}")
        tiles = [_tile(identities_dir / p, h) for p, h in spec]
        W = sum(t.width for t in tiles) + GAP * (len(tiles) + 1)
        H = max(t.height for t in tiles) + 2 * GAP
        canvas = Image.new("RGB", (W, H), BACKGROUND)
        x = GAP
        for t in tiles:
            canvas.paste(t, (x, H - GAP - t.height))
            x += t.width + GAP
        path = faces_dir / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=False)
        out.append(Composite(dest, [p for p, _ in spec], ids, canvas.size))
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from prepare_sample_faces import HELD_OUT

    for c in build(ROOT / "assets" / "faces", exclude=HELD_OUT):
        print(c.dest, c.size, ",".join(c.identities))

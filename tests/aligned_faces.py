"""Test data for the training tests: bundled identity photos aligned with the face-api reference landmarks.

Stands in for `infoswap align` output (PNG crops + manifest.csv) without running the detector, so the
training tests stay fast. Held-out identities (assets/README.md) are never used.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np

from infoswap.faces.align import alignment_matrix, warp_to_aligned
from infoswap.faces.face import landmarks5_from_68
from infoswap.io.images import read_image

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "fixtures" / "faceapi_reference.json"
HELD_OUT = ("london_008", "london_062")


def identity_photos() -> list[tuple[str, np.ndarray]]:
    """(repo-relative path, 68 landmarks) of every bundled identity photo that may be trained on."""
    images = json.loads(REFERENCE.read_text())["images"]
    return [(path, np.asarray(faces[0]["landmarks68"])) for path, faces in sorted(images.items())
            if "/identities/" in path and not any(h in path for h in HELD_OUT) and faces]


def write_aligned_faces(out: Path, size: int, count: int | None = None) -> list[Path]:
    """Aligns `count` photos (all if None) into out/<identity>_<name>.png and writes out/manifest.csv."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    photos = identity_photos()[:count]
    for path, landmarks68 in photos:
        pixels = read_image(REPO / path).pixels
        face = warp_to_aligned(pixels, alignment_matrix(landmarks5_from_68(landmarks68), size), size)
        target = out / f"{Path(path).parts[-2]}_{Path(path).stem}.png"
        cv2.imwrite(str(target), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
        written.append(target)
    with open(out / "manifest.csv", "w", newline="") as f:  # the columns `infoswap align` writes
        writer = csv.writer(f)
        writer.writerow(["crop", "source", "face_index", "box", "landmarks", "source_sha256"])
        for target, (path, landmarks68) in zip(written, photos):
            writer.writerow([target.name, path, 0, "[]", json.dumps(landmarks68.tolist()), ""])
    return written

"""The targets of a set: the images or videos under a folder, each with the identity it shows.

A file's identity is the folder directly under the root that holds it (`identities/<id>/photo.jpg`, the
layout of assets/faces), or its own stem when it lies in the root itself (`videos/<id>.mp4`). A video
gives `count` evenly spaced frames; an image is a single frame 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoswap.errors import InfoswapError


@dataclass(frozen=True)
class Target:
    path: Path
    relative: str  # path under the root, POSIX style: how the manifest names it
    identity: str
    kind: str  # "image" | "video"


def find_targets(root: Path, kind: str) -> list[Target]:
    """Every image (kind "images") or video (kind "videos") under `root`, sorted by path."""
    from infoswap.io.images import IMAGE_SUFFIXES
    from infoswap.swap.video import VIDEO_SUFFIXES

    root = Path(root)
    flag = f"--{kind}"
    if not root.is_dir():
        raise InfoswapError(f"{flag} {root}: no such folder")
    suffixes = IMAGE_SUFFIXES if kind == "images" else VIDEO_SUFFIXES
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise InfoswapError(f"{flag} {root}: holds no {kind[:-1]} files ({', '.join(suffixes)})")
    targets = []
    for path in files:
        parts = path.relative_to(root).parts
        identity = parts[0] if len(parts) > 1 else path.stem
        targets.append(Target(path, "/".join(parts), identity, kind[:-1]))
    return targets


def read_frames(target: Target, count: int) -> list[tuple[int, np.ndarray]]:
    """(frame position, RGB uint8 (H, W, 3)) pairs: `count` evenly spaced frames of a video, turned upright
    as a player shows them (the detector expects upright faces), or the image."""
    if target.kind == "image":
        from infoswap.io.images import read_image

        return [(0, read_image(target.path).pixels)]
    from infoswap.swap.video import probe_video, sample_frames

    turns = round(probe_video(target.path).rotation / 90)
    return [(i, np.ascontiguousarray(np.rot90(frame, k=turns))) for i, frame in enumerate(sample_frames(target.path, count))]

"""Builds assets/video/sample.mp4: a short real video with audio, made from a bundled photo.

A 3 s, 25 fps, 512 × 512 H.264 + AAC clip: a slow zoom and pan over `london_021/neutral.jpg` (Face
Research Lab London Set, CC BY 4.0; the clip inherits that licence and its attribution, see
assets/README.md). The sound is a synthesised
two-tone chime (no outside tool needed). Deterministic: the same PyAV/FFmpeg build gives the same bytes.

    .venv/bin/python tools/make_sample_video.py [--output assets/video/sample.mp4]
"""

from __future__ import annotations

import argparse
import hashlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "assets" / "faces" / "identities" / "london_021" / "neutral.jpg"
SIZE, FPS, SECONDS, SAMPLE_RATE = 512, 25, 3, 48_000


def _frame(photo: np.ndarray, t: float) -> np.ndarray:
    """The view at time fraction t ∈ [0, 1]: a crop that shrinks 560 → 420 px and drifts right and up."""
    side = 560 - 140 * t
    cx, cy = 300 + 24 * t, 300 - 16 * t
    x0, y0 = cx - side / 2, cy - side / 2
    # Affine crop + resize in one step (sub-pixel, so the motion is smooth).
    m = np.array([[SIZE / side, 0, -x0 * SIZE / side], [0, SIZE / side, -y0 * SIZE / side]])
    return cv2.warpAffine(photo, m, (SIZE, SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def _chime() -> np.ndarray:
    """(1, N) float32 mono: A4 then E5 with soft attacks and decays."""
    t = np.arange(SECONDS * SAMPLE_RATE) / SAMPLE_RATE
    sound = np.zeros_like(t)
    for start, freq in ((0.2, 440.0), (1.4, 659.25)):
        local = np.clip(t - start, 0, None)
        envelope = (local > 0) * (1 - np.exp(-local * 60)) * np.exp(-local * 2.5)
        sound += 0.25 * envelope * (np.sin(2 * np.pi * freq * local) + 0.3 * np.sin(4 * np.pi * freq * local))
    return sound.astype(np.float32)[None]


def make_sample_video(output: Path) -> str:
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    output.parent.mkdir(parents=True, exist_ok=True)
    n = FPS * SECONDS
    with av.open(str(output), "w", format="mp4", options={"movflags": "+faststart"}) as sink:
        video = sink.add_stream("libx264", rate=FPS, options={"crf": "20", "preset": "slow", "threads": "1"})
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        audio = sink.add_stream("aac", rate=SAMPLE_RATE, options={"b": "64k"})
        audio.layout = "mono"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(_frame(photo, i / (n - 1)), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            sink.mux(video.encode(frame))
        sink.mux(video.encode(None))
        sound = av.AudioFrame.from_ndarray(_chime(), format="fltp", layout="mono")
        sound.sample_rate, sound.pts, sound.time_base = SAMPLE_RATE, 0, Fraction(1, SAMPLE_RATE)
        sink.mux(audio.encode(sound))
        sink.mux(audio.encode(None))
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "assets" / "video" / "sample.mp4")
    args = parser.parse_args()
    digest = make_sample_video(args.output)
    print(f"{args.output}: {args.output.stat().st_size / 1024:.0f} KiB, sha256 {digest}")


if __name__ == "__main__":
    main()

"""The work the swap benchmarks share: a 720p test clip, an untrained checkpoint, and timed swaps.

The clip is made from a bundled photo: 1280×720 at 25 fps, a slow zoom and pan over
`london_021/neutral.jpg` (one face in every frame) on a blurred copy, with a 440 Hz AAC tone. The
checkpoint is a freshly initialised model of a preset written with the training code's snapshot writer
(speed and memory do not depend on the weights). Scripts in bench/ import this as `from swap_workload import ...`.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "assets" / "faces" / "identities" / "london_021" / "neutral.jpg"
SOURCE = ROOT / "assets" / "faces" / "identities" / "london_006" / "neutral.jpg"
WIDTH, HEIGHT, FPS = 1280, 720, 25


def make_video(path: Path, seconds: float) -> Path:
    """A 720p H.264 + AAC clip of `seconds`: the photo, zooming in slowly and drifting, on a blurred copy."""
    from infoswap.io.images import read_image

    photo = read_image(PHOTO).pixels
    backdrop = cv2.GaussianBlur(cv2.resize(photo, (WIDTH, WIDTH))[280:1000], (0, 0), 25)
    n = max(round(seconds * FPS), 1)
    with av.open(str(path), "w") as sink:
        video = sink.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "18"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = sink.add_stream("aac", rate=48_000)
        sound.layout = "mono"
        for i in range(n):
            t = i / max(n - 1, 1)
            scale = 1.0 + 0.15 * t
            m = np.array([[scale, 0, WIDTH / 2 - 300 * scale + 60 * np.sin(2 * np.pi * t)],
                          [0, scale, HEIGHT / 2 - 300 * scale]])
            frame = cv2.warpAffine(photo, m, (WIDTH, HEIGHT), dst=backdrop.copy(), borderMode=cv2.BORDER_TRANSPARENT)
            out = av.VideoFrame.from_ndarray(frame, format="rgb24")
            out.pts, out.time_base = i, Fraction(1, FPS)
            sink.mux(video.encode(out))
        sink.mux(video.encode(None))
        samples = np.arange(n * 48_000 // FPS) / 48_000
        for start in range(0, len(samples), 48_000):
            chunk = (0.2 * np.sin(2 * np.pi * 440 * samples[start : start + 48_000])).astype(np.float32)[None]
            tone = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            tone.sample_rate, tone.pts, tone.time_base = 48_000, start, Fraction(1, 48_000)
            sink.mux(sound.encode(tone))
        sink.mux(sound.encode(None))
    return path


def fresh_checkpoint(folder: Path, resolution: int) -> Path:
    """An untrained network snapshot of the `resolution` preset (dlib recogniser), seeded."""
    import torch

    from infoswap.config import preset
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.checkpoint import write_network_snapshot

    torch.manual_seed(0)
    cfg = preset(resolution)
    path = folder / f"untrained-{resolution}.safetensors"
    write_network_snapshot(path, {"model": InfoSwap(cfg, load_recognizer("dlib")).state_dict()}, asdict(cfg))
    return path


def clocks() -> np.ndarray:
    """(wall, CPU) seconds now; CPU time counts all of this process's threads."""
    return np.array([time.perf_counter(), time.process_time()])


def clocked(fn) -> np.ndarray:
    """(wall, CPU) seconds of one call of `fn`."""
    start = clocks()
    fn()
    return clocks() - start


def video_swap(swapper, identity, video: Path, out: Path, *, per_frame_identity: bool = False,
               redetect_every: int | None = None) -> tuple[np.ndarray, int]:
    """((wall, CPU) seconds, frames) of the whole swap of `video` as `infoswap swap` runs it (default
    smoothing and face tracking); optionally recomputing the identity every frame, as a naive loop over
    frames would, or with detection every `redetect_every` frames instead of the default."""
    from infoswap.swap.frames import FrameSwapper
    from infoswap.swap.video import probe_video, transcode

    tracking = {} if redetect_every is None else {"redetect_every": redetect_every}
    frames = FrameSwapper(swapper, identity, swapper.face_selector("all"), fps=probe_video(video).fps, **tracking)

    def process(batch):
        if per_frame_identity:
            for _ in batch:
                frames.identity = swapper.source_identity(SOURCE)
        return frames(batch)

    start = clocks()
    written = transcode(video, out, process, batch_size=swapper.batch_size, progress=False)
    return clocks() - start, written


def aligned_crops(swapper, video: Path, count: int) -> list[np.ndarray]:
    """`count` aligned faces (S, S, 3) from frames spread over `video`, one face per frame."""
    from infoswap.faces.align import align_face
    from infoswap.swap.video import sample_frames

    crops = []
    for frame in sample_frames(video, count):
        face = swapper.finder(frame)[0]
        crops.append(align_face(frame, face, swapper.resolution).crop)
    return crops

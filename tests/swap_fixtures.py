"""What the swap tests share, made once per test session: a small real checkpoint and a loaded Swapper.

The checkpoint is a freshly initialised 128 px InfoSwap (dlib recogniser) saved with the training code's
network-snapshot writer, so every test goes through the real loading path. Its faces are noise-like
(untrained), which is all these tests need: they check where pixels change, not how good they look.
The shared Swapper's face finder remembers the faces of each distinct image, because detection on the
CPU is the slow part and is deterministic.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from dataclasses import asdict
from functools import cache
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "assets" / "faces"
SOURCE = FACES / "identities" / "london_006" / "neutral.jpg"
TARGET = FACES / "identities" / "london_008" / "neutral.jpg"
GROUP = FACES / "groups" / "composite_london_3.jpg"  # three faces side by side


@cache
def session_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="infoswap-swap-tests-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@cache
def checkpoint() -> Path:
    """A network snapshot of an untrained 128 px model, as `infoswap train` writes them."""
    import torch

    from infoswap.config import preset
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.checkpoint import network_name, write_network_snapshot

    torch.manual_seed(0)
    cfg = preset(128)
    model = InfoSwap(cfg, load_recognizer("dlib"))
    path = session_dir() / network_name(2)
    write_network_snapshot(path, {"model": model.state_dict()}, asdict(cfg), {"step": "2"})
    return path


class CachingFinder:
    """A FaceFinder that answers again from memory for an image it has seen (keyed by its bytes)."""

    def __init__(self):
        from infoswap.faces.finder import FaceFinder

        self.finder = FaceFinder()
        self.landmarks = self.finder.landmarks  # what video tracking re-fits with, between detections
        self.memory: dict[str, list] = {}
        self.calls = 0

    def __call__(self, image: np.ndarray) -> list:
        key = hashlib.sha1(np.ascontiguousarray(image).tobytes() + str(image.shape).encode()).hexdigest()
        if key not in self.memory:
            self.calls += 1
            self.memory[key] = self.finder(image)
        return list(self.memory[key])


@cache
def swapper():
    """The session's Swapper on the test checkpoint (batch 4, CPU)."""
    from infoswap.swap.swapper import Swapper

    return Swapper.from_pretrained(checkpoint(), device="cpu", batch_size=4, finder=CachingFinder())


@cache
def source_identity():
    return swapper().source_identity(SOURCE)


@pytest.fixture
def loads(monkeypatch):
    """Serves the session's Swapper instead of loading the checkpoint again (for tests about something
    else); records the path of each load."""
    from infoswap.swap.swapper import Swapper

    shared, calls = swapper(), []

    def load(cls, path_or_name=None, **kwargs):
        calls.append(path_or_name)
        return shared

    monkeypatch.setattr(Swapper, "from_pretrained", classmethod(load))
    return calls


SAMPLE_VIDEO = REPO / "assets" / "video" / "sample.mp4"


def wall(size: tuple[int, int] = (320, 160)) -> np.ndarray:
    """A face-free picture: the grey studio wall of a bundled portrait, resized to (w, h)."""
    import cv2

    from infoswap.io.images import read_image

    return cv2.resize(np.ascontiguousarray(read_image(TARGET).pixels[:160, :320]), size, interpolation=cv2.INTER_AREA)


def sample_frames(count: int, size: int = 256) -> list[np.ndarray]:
    """The first `count` frames of the bundled sample video (a real face), resized to size × size."""
    import av
    import cv2

    with av.open(str(SAMPLE_VIDEO)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(cv2.resize(frame.to_ndarray(format="rgb24"), (size, size), interpolation=cv2.INTER_AREA))
            if len(frames) == count:
                return frames
    raise ValueError(f"{SAMPLE_VIDEO} has fewer than {count} frames")


def make_clip(path: Path, frames: list[np.ndarray], *, fps: int = 25, audio: bool = True) -> Path:
    """An H.264 clip of `frames`, with a 440 Hz AAC tone over its whole length when `audio`."""
    from fractions import Fraction

    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as sink:
        video = sink.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "12"})
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        if audio:
            sound = sink.add_stream("aac", rate=48_000)
            sound.layout = "mono"
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            sink.mux(video.encode(frame))
        sink.mux(video.encode(None))
        if audio:
            t = np.arange(len(frames) * 48_000 // fps) / 48_000
            tone = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None],
                                              format="fltp", layout="mono")
            tone.sample_rate, tone.pts, tone.time_base = 48_000, 0, Fraction(1, 48_000)
            sink.mux(sound.encode(tone))
            sink.mux(sound.encode(None))
    return path


def run_cli(*args: str) -> tuple[int, str, str]:
    """`infoswap ARGS` in this process: (exit code, stdout, stderr), as a user would see them."""
    import contextlib
    import io
    import sys

    from infoswap.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["infoswap", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()

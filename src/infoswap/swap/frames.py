"""The per-batch work of a video swap: find (track) -> smooth landmarks -> select -> swap -> paste, frame by frame.

A `FrameSwapper` is the `process_batch` callable that `infoswap.swap.video.transcode` streams decoded
frames through. It holds the one source identity of the run, the face tracker (detection every few
frames, landmark re-fits between: `infoswap.faces.tracker`) and the smoothing tracks, all carried over
from batch to batch; frames with no selected face are returned as the very same arrays, untouched.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from infoswap.faces.tracker import DEFAULT_REDETECT_EVERY, FaceTracker
from infoswap.swap.smoothing import LandmarkSmoother
from infoswap.swap.swapper import FaceSelector, SourceIdentity, Swapper


@dataclass
class FrameCounts:
    frames: int = 0
    swapped_frames: int = 0
    faces: int = 0
    seconds: float = 0.0  # time spent in the swap itself (detection to paste-back), not decode/encode


class FrameSwapper:
    """`frame_swapper(frames)` -> the frames with the source identity swapped into their selected faces.

    `redetect_every`: run the face detector on every n-th frame and track faces in between (1: detect
    every frame).
    """

    def __init__(self, swapper: Swapper, identity: SourceIdentity, selector: FaceSelector,
                 smoothing: float = 0.5, fps: float = 30.0, redetect_every: int = DEFAULT_REDETECT_EVERY):
        self.swapper = swapper
        self.identity = identity
        self.selector = selector
        self.tracker = FaceTracker(swapper.finder, redetect_every)
        self.smoother = LandmarkSmoother(smoothing, fps)
        self.counts = FrameCounts()

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        start = time.perf_counter()
        chosen = []
        for frame in frames:
            faces = self.smoother(self.tracker(frame))
            chosen.append(self.swapper.select(frame, faces, self.selector))
        busy = [i for i, faces in enumerate(chosen) if faces]
        # transcode watermarks every frame it encodes, so render leaves that to it.
        results = self.swapper.render(self.identity, [frames[i] for i in busy], [chosen[i] for i in busy],
                                      mark=False) if busy else []
        out = list(frames)
        for i, result in zip(busy, results):
            out[i] = result.image
        self.counts.frames += len(frames)
        self.counts.swapped_frames += len(busy)
        self.counts.faces += sum(len(faces) for faces in chosen)
        self.counts.seconds += time.perf_counter() - start
        return out

"""Face tracking through video frames: detection now and then, landmark re-fits between, and what it
must notice: a face that disappears, comes back, or jumps to another place."""

from __future__ import annotations

from functools import cache

import av
import cv2
import numpy as np
import pytest

from infoswap.faces.finder import FaceFinder
from infoswap.faces.tracker import FaceTracker
from swap_fixtures import SAMPLE_VIDEO, wall


@cache
def finder() -> FaceFinder:
    return FaceFinder()


@cache
def video_frames(count: int) -> list[np.ndarray]:
    """The first `count` frames of the bundled sample (512 × 512, one face moving slowly)."""
    with av.open(str(SAMPLE_VIDEO)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(count), container.decode(video=0))]
    assert len(frames) == count
    return frames


def shifted(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return cv2.warpAffine(frame, np.array([[1.0, 0, dx], [0, 1.0, dy]]), frame.shape[1::-1],
                          borderMode=cv2.BORDER_REFLECT_101)


def jitter(points: list[np.ndarray]) -> float:
    """Mean second difference of landmarks (T, 68, 2) over time, px."""
    p = np.array(points)
    return float(np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=-1).mean())


def test_tracks_between_detections_and_steadies_the_landmarks():
    frames = video_frames(16)
    tracker = FaceTracker(finder(), redetect_every=8)
    tracked = [tracker(frame) for frame in frames]
    detected = [finder()(frame) for frame in frames]
    assert tracker.detections == 2 and tracker.frames == 16  # frames 0 and 8
    assert all(len(faces) == 1 and faces[0].index == 0 for faces in tracked)
    ours = [faces[0].landmarks68 for faces in tracked]
    theirs = [faces[0].landmarks68 for faces in detected]
    assert np.linalg.norm(np.array(ours) - np.array(theirs), axis=-1).mean() < 2.0  # px, on a 200 px face
    assert jitter(ours) < jitter(theirs)  # re-fits in a steady box jitter less than per-frame detection


def test_a_face_that_vanishes_returns_and_jumps_is_found_again():
    face = video_frames(4)
    empty = wall((512, 512))
    jumped = [shifted(f, -120, 50) for f in face]
    clip = face + [empty] * 3 + face[:2] + jumped[2:]
    tracker = FaceTracker(finder(), redetect_every=100)
    found = []
    for frame in clip:
        before = tracker.detections
        found.append((len(tracker(frame)), tracker.detections - before))
    counts, detections = zip(*found)
    assert counts == (1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1)  # faceless frames have no face
    # Detected: the first frame, the face gone, each empty frame, its return, the jump; tracked otherwise.
    assert detections == (1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0)
    after_jump = tracker(jumped[3])[0]
    expected = finder()(jumped[3])[0]
    assert np.abs(after_jump.landmarks68 - expected.landmarks68).mean() < 2.0


def test_detecting_every_frame_equals_the_finder():
    frames = video_frames(3)
    tracker = FaceTracker(finder(), redetect_every=1)
    for frame in frames:
        (ours,), (theirs,) = tracker(frame), finder()(frame)
        assert np.array_equal(ours.landmarks68, theirs.landmarks68) and np.array_equal(ours.box, theirs.box)
    assert tracker.detections == 3
    with pytest.raises(ValueError, match="at least 1"):
        FaceTracker(finder(), redetect_every=0)

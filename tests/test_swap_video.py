"""Video swaps: landmark smoothing on its own, then `infoswap swap` on short real clips (frames, rate and
audio kept, faceless frames untouched, the identity computed once) and on broken or silent videos."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from infoswap.faces.face import Face
from infoswap.swap.provenance import read_provenance
from infoswap.swap.smoothing import LandmarkSmoother
from swap_fixtures import (SAMPLE_VIDEO, SOURCE, checkpoint, make_clip, run_cli, sample_frames, source_identity,
                           swapper, wall)
from swap_fixtures import loads  # noqa: F401  (a fixture)

FPS = 25


# --- smoothing ------------------------------------------------------------------------------------

def _face(centre: np.ndarray, shape: np.ndarray, size: float = 150.0) -> Face:
    half = size / 2
    box = np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])
    return Face(index=0, box=box, score=0.9, landmarks68=centre + shape)


@pytest.fixture(scope="module")
def face_shape() -> np.ndarray:
    """68 points spread over a 150 px face, centred on 0."""
    return np.random.default_rng(1).uniform(-60, 60, (68, 2))


def test_smoothing_steadies_a_still_face(face_shape):
    rng = np.random.default_rng(0)
    centre = np.array([300.0, 200.0])
    smoother = LandmarkSmoother(0.5, FPS)
    raw, smooth = [], []
    for _ in range(100):
        face = _face(centre, face_shape + rng.normal(0, 1.5, face_shape.shape))
        raw.append(face.landmarks68)
        smooth.append(smoother([face])[0].landmarks68)
    truth = centre + face_shape
    raw_error = np.abs(np.array(raw[20:]) - truth).std()
    smooth_error = np.abs(np.array(smooth[20:]) - truth).std()
    assert smooth_error < 0.5 * raw_error


def test_smoothing_follows_a_moving_face_within_a_frame(face_shape):
    smoother = LandmarkSmoother(0.5, FPS)
    velocity = np.array([4.0, 0.0])  # px per frame, 100 px/s
    for t in range(60):
        centre = np.array([100.0, 200.0]) + t * velocity
        smoothed = smoother([_face(centre, face_shape)])[0]
    lag = np.linalg.norm((smoothed.landmarks68 - (centre + face_shape)).mean(0))
    assert 0 < lag < np.linalg.norm(velocity) / 2


def test_smoothing_keeps_faces_apart_and_restarts_new_ones(face_shape):
    smoother = LandmarkSmoother(1.0, FPS)
    left, right = np.array([100.0, 200.0]), np.array([500.0, 200.0])
    for _ in range(10):
        a, b = smoother([_face(left, face_shape), _face(right, face_shape)])
    assert np.allclose(a.landmarks68, left + face_shape) and np.allclose(b.landmarks68, right + face_shape)
    jumped = np.array([300.0, 400.0])  # no overlap with either track: a new face, taken as detected
    (c,) = smoother([_face(jumped, face_shape)])
    assert np.allclose(c.landmarks68, jumped + face_shape)


def test_smoothing_off_returns_the_faces_untouched(face_shape):
    faces = [_face(np.array([100.0, 100.0]), face_shape)]
    smoother = LandmarkSmoother(0.0, FPS)
    assert smoother(faces) is faces and smoother(faces)[0] is faces[0]


# --- tracking inside the frame swapper --------------------------------------------------------------

def test_frames_without_a_face_stay_untouched_and_the_face_is_found_again():
    """A face, then a cut to an empty wall, then the face back elsewhere: tracking must neither paste a
    face onto the wall nor lose the face when it returns."""
    from infoswap.swap.frames import FrameSwapper

    face = sample_frames(2)
    back = [np.roll(f, (40, -60), axis=(0, 1)) for f in sample_frames(2)]  # the face, moved
    clip = face + [wall((256, 256))] * 2 + back
    frames = FrameSwapper(swapper(), source_identity(), swapper().face_selector("all"), fps=FPS, redetect_every=50)
    out = frames(clip[:3]) + frames(clip[3:])  # two batches: tracks carry over between them
    assert out[2] is clip[2] and out[3] is clip[3]
    for before, after in zip(face + back, out[:2] + out[4:]):
        (detected,) = swapper().finder(before)
        x1, y1, x2, y2 = detected.box.astype(int)
        h, w = y2 - y1, x2 - x1
        centre = np.abs(after.astype(int) - before.astype(int))[y1 + h // 3 : y2 - h // 3, x1 + w // 3 : x2 - w // 3]
        assert centre.mean() > 15  # the face replaced
    assert frames.tracker.detections == 4  # the first frame, the cut, the empty frame, the return; the rest tracked
    assert frames.counts.swapped_frames == 4


# --- the CLI on clips -------------------------------------------------------------------------------


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _rate(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        return container.streams.video[0].average_rate


def _audio(path: Path) -> tuple[list[bytes], np.ndarray]:
    """(packet payloads, decoded samples) of the first audio stream."""
    with av.open(str(path)) as container:
        packets = [bytes(p) for p in container.demux(audio=0) if p.size]
    with av.open(str(path)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return packets, samples


def _one_line_error(code: int, err: str, match: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.search(match, lines[0]), err


def test_video_swap_keeps_frames_rate_and_audio_and_passes_faceless_frames(tmp_path, loads, monkeypatch):
    faces, blank = sample_frames(3), [wall((256, 256))] * 2  # batches of 4: [face ×3, wall], [wall]
    clip = make_clip(tmp_path / "clip.mp4", faces + blank)
    out = tmp_path / "out.mp4"
    model = swapper().model
    identities = []
    original = model.source_identity
    monkeypatch.setattr(model, "source_identity", lambda *a, **k: identities.append(1) or original(*a, **k))
    rendered, render = [], swapper().render
    monkeypatch.setattr(swapper(), "render", lambda identity, images, *a, **k: rendered.append(len(images))
                        or render(identity, images, *a, **k))

    code, stdout, err = run_cli("swap", "-s", SOURCE, "-t", clip, "-o", out, "--no-progress", "--crf", "12")
    assert code == 0, err
    assert re.search(r"swapped 3 faces in .* s/face at 128 px\); 3 of 5 frames had a face", stdout), stdout
    assert len(identities) == 1 and len(loads) == 1
    before, after = _frames(clip), _frames(out)
    assert len(after) == len(before) == 5 and after[0].shape == before[0].shape
    assert _rate(out) == _rate(clip) == FPS
    assert _audio(out)[0] == _audio(clip)[0]  # the same packets, copied
    assert np.array_equal(_audio(out)[1], _audio(clip)[1])
    change = [np.abs(a.astype(int) - b.astype(int)) for a, b in zip(after, before)]
    for diff, frame in zip(change[:3], before):
        x1, y1, x2, y2 = swapper().finder(frame)[0].box.astype(int)
        w, h = x2 - x1, y2 - y1
        assert diff[y1 + h // 3 : y2 - h // 3, x1 + w // 3 : x2 - w // 3].mean() > 15  # the face replaced
    # Faceless frames never reach the generator; they change by re-encoding and the watermark only
    # (≈ 2.4 grey levels on this wall, as for any frame through `transcode`).
    assert rendered == [3]  # the second batch, a wall alone, never reaches render
    assert all(diff.mean() < 3 for diff in change[3:])
    report = read_provenance(out, frames=3)
    assert report["watermark"]["share"] == 1.0 and report["metadata"]["ai_generated"]


# Detections: the source photo, then every frame (1), or the first face frame and both walls (8).
@pytest.mark.parametrize("every, detections", [("1", 6), ("8", 4)])
def test_redetect_every_sets_how_often_the_detector_runs(tmp_path, loads, monkeypatch, every, detections):
    clip = make_clip(tmp_path / "clip.mp4", sample_frames(3) + [wall((256, 256))] * 2, audio=False)
    finder, calls = swapper().finder, []

    class CountingFinder:
        landmarks = finder.landmarks

        def __call__(self, image):
            calls.append(1)
            return finder(image)

    monkeypatch.setattr(swapper(), "finder", CountingFinder())
    code, _, err = run_cli("swap", "-s", SOURCE, "-t", clip, "-o", tmp_path / "out.mp4", "--no-progress",
                           "--redetect-every", every)
    assert code == 0, err
    assert len(calls) == detections


def test_video_without_audio_and_without_faces(tmp_path, loads):
    clip = make_clip(tmp_path / "silent.mp4", [wall((256, 256))] * 2, audio=False)
    out = tmp_path / "out.mkv"
    code, _, err = run_cli("swap", "-s", SOURCE, "-t", clip, "-o", out, "--no-progress")
    assert code == 0, err
    assert "no face selected in any of its 2 frames" in err
    with av.open(str(out)) as container:
        assert not container.streams.audio
    assert len(_frames(out)) == 2


def test_truncated_or_unreadable_video_is_one_line_and_writes_nothing(tmp_path, loads):
    clip = make_clip(tmp_path / "clip.mp4", [wall((256, 256))] * 3)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    for broken in (cut, noise):
        out = tmp_path / f"out-{broken.stem}.mp4"
        code, _, err = run_cli("swap", "-s", SOURCE, "-t", broken, "-o", out, "--no-progress")
        _one_line_error(code, err, rf"{broken.name}: (not a readable video|damaged or truncated|truncated video)")
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "cut.mp4", "noise.mp4"]


def test_bad_video_flags_are_refused(tmp_path, loads):
    out = tmp_path / "out.mp4"
    code, _, err = run_cli("swap", "-s", SOURCE, "-t", SAMPLE_VIDEO, "-o", tmp_path / "out.avi")
    _one_line_error(code, err, r"video output must end in \.mp4")
    code, _, err = run_cli("swap", "-s", SOURCE, "-t", SAMPLE_VIDEO, "-o", out, "--codec", "mpeg1")
    _one_line_error(code, err, r"--codec 'mpeg1': choose one of libx264, libx265")
    assert loads == [] and not out.exists()


@pytest.mark.slow
def test_the_bundled_sample_video_end_to_end(tmp_path):
    """The whole 3 s sample through the real checkpoint loading path (75 frames: minutes on a CPU)."""
    out = tmp_path / "sample-swapped.mp4"
    code, stdout, err = run_cli("swap", "-s", SOURCE, "-t", SAMPLE_VIDEO, "-o", out, "--checkpoint", checkpoint(),
                                "--no-progress")
    assert code == 0, err
    assert "75 of 75 frames had a face" in stdout
    assert len(_frames(out)) == len(_frames(SAMPLE_VIDEO)) == 75 and _rate(out) == _rate(SAMPLE_VIDEO)
    assert np.array_equal(_audio(out)[1], _audio(SAMPLE_VIDEO)[1])
    assert read_provenance(out)["watermark"]["share"] == 1.0

"""Streamed video on the bundled real clip: frames, rate, timestamps, rotation and audio survive, every
frame is watermarked, and bad input or a failure half-way leaves no output behind."""

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from infoswap.errors import InfoswapError
from infoswap.swap import watermark
from infoswap.swap.labels import DIGITAL_SOURCE_TYPE
from infoswap.swap.provenance import read_provenance
from infoswap.swap.video import probe_video, transcode

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "video" / "sample.mp4"
FAST = {"preset": "ultrafast", "progress": False}


def _packets(path: Path, kind: str) -> list[tuple[bytes, Fraction]]:
    """(payload, presentation time in seconds) of every packet of the first stream of `kind`."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(bytes(p), p.pts * p.time_base) for p in container.demux(stream) if p.size]


def _decoded_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def _frames(path: Path, count: int | None = None) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
        return frames


def _make_clip(path: Path, pts_ms: list[int], *, rotation: int = 0) -> None:
    """A silent 320 × 240 H.264 clip of the sample's real frames with the given timestamps (ms)."""
    frames = [cv2.resize(f[64:448], (320, 240), interpolation=cv2.INTER_AREA) for f in _frames(SAMPLE, len(pts_ms))]
    with av.open(str(path), "w") as sink:
        stream = sink.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for pixels, pts in zip(frames, pts_ms):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            sink.mux(stream.encode(frame))
        sink.mux(stream.encode(None))


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """The sample through an identity process_batch, with every batch recorded."""
    out = tmp_path_factory.mktemp("video") / "out.mp4"
    batches = []

    def identity(frames):
        batches.append([(f.shape, f.dtype) for f in frames])
        return frames

    written = transcode(SAMPLE, out, identity, **FAST)
    return out, written, batches


def test_sample_video_asset():
    info = probe_video(SAMPLE)
    assert (info.frames, info.fps, info.width, info.height, info.rotation, info.has_audio) == (75, 25.0, 512, 512, 0,
                                                                                             True)
    assert SAMPLE.stat().st_size <= 500_000
    with av.open(str(SAMPLE)) as container:
        assert [s.codec_context.name for s in container.streams] == ["h264", "aac"]


def test_round_trip_keeps_frames_rate_and_timestamps(round_trip):
    out, written, batches = round_trip
    info = probe_video(out)
    assert written == info.frames == 75 and info.fps == 25.0 and (info.width, info.height) == (512, 512)
    assert all(1 <= len(b) <= 8 for b in batches) and sum(len(b) for b in batches) == 75
    assert all(shape == (512, 512, 3) and dtype == np.uint8 for b in batches for shape, dtype in b)
    assert sorted(t for _, t in _packets(out, "video")) == sorted(t for _, t in _packets(SAMPLE, "video"))
    before, after = _frames(SAMPLE), _frames(out)
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(before, after)) < 3  # the same pictures


def test_round_trip_copies_audio_unchanged(round_trip):
    out = round_trip[0]
    assert _packets(out, "audio") == _packets(SAMPLE, "audio")
    assert np.array_equal(_decoded_audio(out), _decoded_audio(SAMPLE))


def test_round_trip_marks_every_frame_and_the_container(round_trip):
    out = round_trip[0]
    assert all(watermark.read(f, factors=(1.0,)).payload == watermark.PAYLOAD for f in _frames(out))
    report = read_provenance(out)
    assert report["watermark"]["share"] == 1.0 and report["watermark"]["frames_checked"] == 10
    assert report["metadata"]["ai_generated"] and report["metadata"]["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert read_provenance(SAMPLE)["watermark"]["frames_found"] == 0


def test_variable_frame_rate_without_audio(tmp_path):
    pts = [0, 40, 80, 200, 240, 400, 440, 480, 520, 700, 740, 780]
    clip, out = tmp_path / "vfr.mp4", tmp_path / "out.mp4"
    _make_clip(clip, pts)
    assert transcode(clip, out, lambda frames: frames, batch_size=5, **FAST) == len(pts)
    assert [t for _, t in _packets(out, "video")] == [t for _, t in _packets(clip, "video")]
    assert [float(t) for _, t in _packets(out, "video")][:4] == [0.0, 0.04, 0.08, 0.2]
    assert probe_video(out).has_audio is False


def test_rotation_is_kept_and_process_batch_sees_upright_frames(tmp_path):
    clip, out = tmp_path / "rotated.mp4", tmp_path / "out.mp4"
    _make_clip(clip, [0, 40, 80, 120], rotation=90)
    seen = []
    transcode(clip, out, lambda frames: seen.extend(frames) or frames, **FAST)
    stored = _frames(clip)
    assert seen[0].shape == (320, 240, 3)  # stored 320 × 240, turned a quarter counter-clockwise
    assert np.array_equal(seen[0], np.rot90(stored[0]))
    info = probe_video(out)
    assert (info.width, info.height, info.rotation) == (320, 240, 90)
    assert np.abs(_frames(out)[0].astype(int) - stored[0]).mean() < 3


def test_truncated_video_is_a_clear_error_and_writes_nothing(tmp_path):
    clip = tmp_path / "cut.mp4"
    clip.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size * 6 // 10])  # index first, so it still opens
    with pytest.raises(InfoswapError, match="truncated video"):
        transcode(clip, tmp_path / "out.mp4", lambda frames: frames, **FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]


def test_unreadable_input(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(InfoswapError, match="not a readable video"):
        transcode(junk, tmp_path / "out.mp4", lambda frames: frames, **FAST)
    audio_only = tmp_path / "audio.m4a"
    with av.open(str(SAMPLE)) as source, av.open(str(audio_only), "w", format="mp4") as sink:
        stream = sink.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = stream
                sink.mux(packet)
    with pytest.raises(InfoswapError, match="has no video stream"):
        transcode(audio_only, tmp_path / "out.mp4", lambda frames: frames, **FAST)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_half_way_leaves_no_partial_file(tmp_path, error):
    calls = []

    def fails_on_third_batch(frames):
        calls.append(len(frames))
        if len(calls) == 3:
            raise error("stop")
        return frames

    with pytest.raises(error):
        transcode(SAMPLE, tmp_path / "out.mp4", fails_on_third_batch, **FAST)
    assert calls == [8, 8, 8] and list(tmp_path.iterdir()) == []


def test_bad_outputs(tmp_path):
    identity = lambda frames: frames  # noqa: E731
    with pytest.raises(InfoswapError, match="output folder does not exist"):
        transcode(SAMPLE, tmp_path / "missing" / "out.mp4", identity, **FAST)
    with pytest.raises(InfoswapError, match="use .mp4, .mov or .mkv"):
        transcode(SAMPLE, tmp_path / "out.avi", identity, **FAST)
    with pytest.raises(InfoswapError, match="unsupported video codec"):
        transcode(SAMPLE, tmp_path / "out.mp4", identity, codec="mjpeg", **FAST)
    with pytest.raises(InfoswapError, match="no such file"):
        transcode(tmp_path / "none.mp4", tmp_path / "out.mp4", identity, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)  # chmod cannot stop root, so refuse where the file is made
    with pytest.raises(InfoswapError, match="cannot write to the output folder"):
        transcode(SAMPLE, tmp_path / "out.mp4", lambda frames: frames, **FAST)

"""Video swap speed against the bare generator, the worth of caching the source identity, and peak memory
against video length.

    python bench/swap.py [--quick] [--checkpoint C] [--device auto] [--batch-size 8] [--threads N]

Videos are made here, in a temporary folder, from a bundled photo: 1280×720 at 25 fps, a slow zoom and
pan over `london_021/neutral.jpg` (one face in every frame) with a 440 Hz AAC tone. Without
--checkpoint the model is a freshly initialised 128 px one written with the training code's snapshot
writer (speed and memory do not depend on the weights).

- `video_fps`: frames/s of the whole video swap (decode, detect, smooth, select, align, generate, paste,
  watermark, encode, audio copy) over a clip; `generator_fps`: frames/s of the bare generator forward
  (Swapper.generate: encode, attribute maps, decoder, AII) on batches of aligned 720p-video faces at the
  same resolution and batch size, one face per frame. Their ratio is the headline (issue 8: ≥ 0.5).
- identity caching: frames/s with the source identity computed once, against computing it again for
  every frame (what a loop over frames calling `swapper.swap(source_path, frame)` would do).
- memory: peak resident memory (and peak CUDA memory on a GPU) of a whole swap run in a fresh process,
  on a 15 s and a 60 s video (--quick: 2 s and 8 s, the same 4× ratio); it must not grow with length.
  Both clips must outlast the encoder's look-ahead (x264 preset medium buffers about 40 frames), or the
  short one ends before memory reaches its steady state.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

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
    from infoswap.config import preset
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.checkpoint import write_network_snapshot

    torch.manual_seed(0)
    cfg = preset(resolution)
    path = folder / "untrained.safetensors"
    write_network_snapshot(path, {"model": InfoSwap(cfg, load_recognizer("dlib")).state_dict()}, asdict(cfg))
    return path


def video_swap(swapper, identity, video: Path, out: Path, *, per_frame_identity: bool = False) -> tuple[float, int]:
    """(seconds, frames) for the whole swap of `video`; optionally recomputing the identity every frame."""
    from infoswap.swap.frames import FrameSwapper
    from infoswap.swap.video import probe_video, transcode

    frames = FrameSwapper(swapper, identity, swapper.face_selector("all"), fps=probe_video(video).fps)

    def process(batch):
        if per_frame_identity:
            for _ in batch:
                frames.identity = swapper.source_identity(SOURCE)
        return frames(batch)

    start = time.perf_counter()
    written = transcode(video, out, process, batch_size=swapper.batch_size, progress=False)
    return time.perf_counter() - start, written


def generator_fps(swapper, identity, video: Path, rounds: int) -> list[float]:
    """Frames/s of the bare generator on full batches of this video's aligned faces (one face per frame)."""
    from infoswap.faces.align import align_face
    from infoswap.swap.video import sample_frames

    crops = []
    for frame in sample_frames(video, swapper.batch_size):
        face = swapper.finder(frame)[0]
        crops.append(align_face(frame, face, swapper.resolution).crop)
    swapper.generate(identity, crops)  # warm-up
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        swapper.generate(identity, crops)
        rates.append(len(crops) / (time.perf_counter() - start))
    return rates


def memory_child(args: argparse.Namespace) -> None:
    """In a fresh process: one whole swap run; prints its peak memory as JSON."""
    from infoswap.swap.swapper import Swapper

    swapper = Swapper.from_pretrained(args.checkpoint, device=args.device, batch_size=args.batch_size)
    identity = swapper.source_identity(SOURCE)
    seconds, frames = video_swap(swapper, identity, args.memory_child, args.memory_child.with_suffix(".out.mp4"))
    peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    print(json.dumps({"frames": frames, "seconds": seconds, "peak_rss_mib": resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024, "peak_cuda_mib": peak_cuda}))


def peak_memory(video: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--memory-child", str(video), "--checkpoint", str(args.checkpoint),
               "--device", args.device, "--batch-size", str(args.batch_size)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short clips (speed 16 frames, memory 2 s vs 8 s)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="network snapshot (default: untrained 128)")
    parser.add_argument("--resolution", type=int, default=128, help="preset of the untrained model")
    parser.add_argument("--device", default="cpu" if not torch.cuda.is_available() else "cuda")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--memory-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args)
        return

    with tempfile.TemporaryDirectory(prefix="infoswap-bench-swap-") as folder:
        run(args, Path(folder))


def run(args: argparse.Namespace, work: Path) -> None:
    from infoswap.swap.swapper import Swapper

    if args.checkpoint is None:
        args.checkpoint = fresh_checkpoint(work, args.resolution)
    speed_seconds, identity_frames = (16 / FPS, 4 / FPS) if args.quick else (4.0, 16 / FPS)
    short, long = (2.0, 8.0) if args.quick else (15.0, 60.0)
    clip = make_video(work / "clip.mp4", speed_seconds)
    swapper = Swapper.from_pretrained(args.checkpoint, device=args.device, batch_size=args.batch_size)
    identity = swapper.source_identity(SOURCE)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, {swapper.resolution} px, "
          f"batch {swapper.batch_size}, 720p clips at {FPS} fps")

    before = generator_fps(swapper, identity, clip, 3)
    seconds, frames = video_swap(swapper, identity, clip, work / "clip.out.mp4")
    after = generator_fps(swapper, identity, clip, 3)
    video_rate, bare = frames / seconds, statistics.median(before + after)
    print(f"video swap: {frames} frames in {seconds:.1f} s = {video_rate:.2f} frames/s")
    print(f"bare generator: {bare:.2f} frames/s (median of {len(before + after)} batches of {swapper.batch_size})")

    short_clip = make_video(work / "identity.mp4", identity_frames)
    cached, n = video_swap(swapper, identity, short_clip, work / "identity.on.mp4")
    uncached, _ = video_swap(swapper, identity, short_clip, work / "identity.off.mp4", per_frame_identity=True)
    print(f"source identity cached: {n / cached:.2f} frames/s; recomputed every frame: {n / uncached:.2f} "
          f"frames/s ({uncached / cached:.2f}× slower)")

    peaks = {}
    for seconds_long in (short, long):
        video = make_video(work / f"memory-{seconds_long:g}s.mp4", seconds_long)
        peaks[seconds_long] = peak_memory(video, args)
        p = peaks[seconds_long]
        print(f"memory, {seconds_long:g} s video ({p['frames']} frames, {p['seconds']:.0f} s): peak RSS "
              f"{p['peak_rss_mib']:.0f} MiB, peak CUDA {p['peak_cuda_mib']:.0f} MiB")
        video.unlink()
    growth = peaks[long]["peak_rss_mib"] / peaks[short]["peak_rss_mib"]
    print(f"peak_rss_long_over_short: {growth:.3f}")
    print(f"identity_cache_speedup: {uncached / cached:.2f}")
    print(f"video_over_generator: {video_rate / bare:.3f}")


if __name__ == "__main__":
    main()

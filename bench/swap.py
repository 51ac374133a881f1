"""Video swap speed against the bare generator, face tracking against detection in every frame, landmark
jitter, the worth of caching the source identity, and peak memory against video length.

    python bench/swap.py [--quick] [--checkpoint C] [--resolution 128] [--device cpu] [--batch-size 8]
                         [--threads N]

Clips are made here (bench/swap_workload.py): 1280×720 at 25 fps, one face in every frame, with an
AAC tone. Without --checkpoint the model is a freshly initialised one of --resolution (speed and memory
do not depend on the weights).

- `video_fps`: frames/s of the whole video swap (decode, detect every few frames and track between,
  smooth, select, align, generate, paste, watermark, encode, audio copy) over a clip; `generator_fps`:
  frames/s of the bare generator forward (Swapper.generate: encode, attribute maps, decoder, AII) on
  batches of aligned 720p-video faces at the same resolution and batch size, one face per frame, timed
  before and after. Their ratio is the headline (issue 8: ≥ 0.5). The same clip is also swapped with
  detection in every frame (no tracking), the way it ran before tracking.
- jitter: the landmarks' mean second difference over the first 30 frames of assets/video/sample.mp4
  (a slow zoom and pan), detected every frame against tracked, raw and after the default smoothing.
- identity caching: frames/s with the source identity computed once, against computing it again for
  every frame (what a loop over frames calling `swapper.swap(source_path, frame)` would do).
- memory (not in --quick: it needs long clips): peak resident memory (and peak CUDA memory on a GPU) of
  a whole swap run in a fresh process, on a 15 s and a 60 s video; it must not grow with length. Both
  clips outlast the encoder's look-ahead (x264 preset medium buffers about 40 frames), or the short one
  would end before memory reaches its steady state.
Rates are wall clock; CPU seconds (all threads of this process) are printed beside them, since on a shared
machine they move less with other jobs' load.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import torch

from common import bench_parser, headline, machine_label, parse_args
from swap_workload import FPS, ROOT, SOURCE, aligned_crops, clocked, fresh_checkpoint, make_video, video_swap

SAMPLE = ROOT / "assets" / "video" / "sample.mp4"
JITTER_FRAMES = 30


def generator_fps(swapper, identity, crops: list[np.ndarray], rounds: int) -> list[float]:
    """Frames/s of the bare generator on full batches of aligned faces (one face per frame)."""
    return [len(crops) / clocked(lambda: swapper.generate(identity, crops))[0] for _ in range(rounds)]


def jitter(points: np.ndarray) -> float:
    """Mean second difference of landmarks (T, N, 2) over time: frame-to-frame shake, in px."""
    return float(np.linalg.norm(points[2:] - 2 * points[1:-1] + points[:-2], axis=-1).mean())


def landmark_jitter(swapper) -> dict[str, float]:
    """Jitter on the sample video's first frames: detection every frame vs tracking, raw vs smoothed."""
    from infoswap.faces.tracker import DEFAULT_REDETECT_EVERY, FaceTracker
    from infoswap.swap.smoothing import LandmarkSmoother

    with av.open(str(SAMPLE)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(JITTER_FRAMES), container.decode(stream))]
    out = {}
    for name, every in (("detected", 1), ("tracked", DEFAULT_REDETECT_EVERY)):
        tracker, smoother = FaceTracker(swapper.finder, every), LandmarkSmoother(0.5, fps)
        raw, smooth = [], []
        for frame in frames:
            faces = tracker(frame)
            raw.append(faces[0].landmarks68)
            smooth.append(smoother(faces)[0].landmarks68)
        out[f"{name} raw"], out[f"{name} smoothed"] = jitter(np.array(raw)), jitter(np.array(smooth))
    return out


def memory_child(args) -> None:
    """In a fresh process: one whole swap run; prints its peak memory as JSON."""
    from infoswap.swap.swapper import Swapper

    swapper = Swapper.from_pretrained(args.checkpoint, device=args.device, batch_size=args.batch_size)
    identity = swapper.source_identity(SOURCE)
    seconds, frames = video_swap(swapper, identity, args.memory_child, args.memory_child.with_suffix(".out.mp4"))
    peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    print(json.dumps({"frames": frames, "seconds": float(seconds[0]), "peak_rss_mib": resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024, "peak_cuda_mib": peak_cuda}))


def peak_memory(video: Path, args) -> dict:
    command = [sys.executable, __file__, "--memory-child", str(video), "--checkpoint", str(args.checkpoint),
               "--device", args.device, "--batch-size", str(args.batch_size)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = bench_parser(__doc__, "short clips (16 frames), no memory runs", device="auto")
    parser.add_argument("--checkpoint", type=Path, default=None, help="network snapshot (default: untrained)")
    parser.add_argument("--resolution", type=int, default=128, help="preset of the untrained model")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--memory-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parse_args(parser)
    if args.memory_child:
        memory_child(args)
        return
    with tempfile.TemporaryDirectory(prefix="infoswap-bench-swap-") as folder:
        run(args, Path(folder))


def run(args, work: Path) -> None:
    from infoswap.swap.swapper import Swapper

    if args.checkpoint is None:
        args.checkpoint = fresh_checkpoint(work, args.resolution)
    speed_seconds, identity_frames = (16 / FPS, 4 / FPS) if args.quick else (4.0, 16 / FPS)
    clip = make_video(work / "clip.mp4", speed_seconds)
    swapper = Swapper.from_pretrained(args.checkpoint, device=args.device, batch_size=args.batch_size)
    identity = swapper.source_identity(SOURCE)
    print(machine_label(args.device))
    print(f"{swapper.resolution} px, batch {swapper.batch_size}, 720p clips at {FPS} fps")

    crops = aligned_crops(swapper, clip, swapper.batch_size)
    generator_fps(swapper, identity, crops, 1)  # warm-up: oneDNN picks kernels per shape
    before = generator_fps(swapper, identity, crops, 3)
    seconds, frames = video_swap(swapper, identity, clip, work / "clip.out.mp4")
    every, _ = video_swap(swapper, identity, clip, work / "clip.every.mp4", redetect_every=1)
    after = generator_fps(swapper, identity, crops, 3)
    video_rate, bare = frames / seconds[0], statistics.median(before + after)
    print(f"video swap: {frames} frames in {seconds[0]:.1f} s ({seconds[1]:.1f} s CPU) = {video_rate:.2f} frames/s")
    print(f"  with detection in every frame: {every[0]:.1f} s ({every[1]:.1f} s CPU) = {frames / every[0]:.2f} "
          f"frames/s; tracking is {every[0] / seconds[0]:.2f}x faster")
    print(f"bare generator: {bare:.2f} frames/s (median of {len(before + after)} batches of {swapper.batch_size})")

    shake = landmark_jitter(swapper)
    print(f"landmark jitter on {SAMPLE.name} ({JITTER_FRAMES} frames), mean second difference in px: "
          + ", ".join(f"{name} {value:.2f}" for name, value in shake.items()))

    short_clip = make_video(work / "identity.mp4", identity_frames)
    cached, n = video_swap(swapper, identity, short_clip, work / "identity.on.mp4")
    uncached, _ = video_swap(swapper, identity, short_clip, work / "identity.off.mp4", per_frame_identity=True)
    print(f"source identity cached: {n / cached[0]:.2f} frames/s; recomputed every frame: {n / uncached[0]:.2f} "
          f"frames/s ({uncached[0] / cached[0]:.2f}× slower)")

    if not args.quick:
        peaks = {}
        for length in (15.0, 60.0):
            video = make_video(work / f"memory-{length:g}s.mp4", length)
            peaks[length] = p = peak_memory(video, args)
            print(f"memory, {length:g} s video ({p['frames']} frames, {p['seconds']:.0f} s): peak RSS "
                  f"{p['peak_rss_mib']:.0f} MiB, peak CUDA {p['peak_cuda_mib']:.0f} MiB")
            video.unlink()
        print(f"peak_rss_long_over_short: {peaks[60.0]['peak_rss_mib'] / peaks[15.0]['peak_rss_mib']:.3f}")
    print(f"identity_cache_speedup: {uncached[0] / cached[0]:.2f}")
    headline("video_over_generator", video_rate / bare)


if __name__ == "__main__":
    main()

"""Where the time of an end-to-end video swap goes: each stage's share of the wall and CPU time.

    python bench/video_profile.py [--quick] [--resolution 128] [--batch-size 8] [--redetect-every 8]
                                  [--threads N]

Swaps the 720p test clip (bench/swap_workload.py; 4 s, --quick 2 s) with an untrained model, the way
`infoswap swap` does (default smoothing; detection every --redetect-every frames, tracking between),
with a stopwatch (wall and CPU time) around each stage:
detect (SSD), landmarks (68-point net, also the tracking refits), smoothing, select, align, generator,
paste back, watermark. Decoding (demux, decode, RGB conversion) is timed in a separate decode-only pass
over the same clip; "encode + mux + audio" is what is left of the wall time after all the others, and
"swap bookkeeping" is what process_batch spent outside the timed stages (tracking logic, lists).
CPU time is the steadier measure on a shared machine. Prints stages by CPU share, then the headline
`video_fps: value`.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import av
import numpy as np

from infoswap.faces.tracker import DEFAULT_REDETECT_EVERY

from common import bench_parser, headline, machine_label, parse_args
from swap_workload import SOURCE, aligned_crops, clocks, fresh_checkpoint, make_video


class Stopwatch:
    """Totals of (wall, CPU) seconds per label, collected by wrapping callables in place for a while."""

    def __init__(self):
        self.seconds: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(2))
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = clocks()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += clocks() - start

        self._undo.append((owner, name, original))
        setattr(owner, name, timed)

    @contextmanager
    def active(self):
        try:
            yield self
        finally:
            for owner, name, original in reversed(self._undo):
                setattr(owner, name, original)
            self._undo.clear()


def decode_seconds(video: Path) -> np.ndarray:
    """(wall, CPU) seconds to demux, decode and convert every frame of `video` to RGB, as transcode does."""
    start = clocks()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
    return clocks() - start


def profile(swapper, identity, video: Path, out: Path, redetect_every: int) -> tuple[dict, np.ndarray, int, object]:
    """({stage: (wall, CPU) seconds}, (wall, CPU) seconds in all, frames, the FrameSwapper) of one video swap."""
    from infoswap.faces import align, blend
    from infoswap.swap import watermark
    from infoswap.swap.frames import FrameSwapper
    from infoswap.swap.video import probe_video, transcode

    frames = FrameSwapper(swapper, identity, swapper.face_selector("all"), fps=probe_video(video).fps,
                          redetect_every=redetect_every)
    watch = Stopwatch()
    finder = swapper.finder
    for owner, name, label in ((finder.detector, "detect", "detect"), (finder.landmarks, "predict", "landmarks"),
                               (frames, "smoother", "smoothing"), (swapper, "select", "select"),
                               (align, "align_face", "align"), (swapper, "generate", "generator"),
                               (blend, "paste_back", "paste back"), (watermark, "embed", "watermark"),
                               (frames, "__call__", "process_batch")):
        watch.wrap(owner, name, label)
    with watch.active():
        start = clocks()
        # frames(batch) would find the class's __call__, not the timed one set on the instance
        written = transcode(video, out, lambda batch: frames.__call__(batch), batch_size=swapper.batch_size,
                            progress=False)
        total = clocks() - start
    stages = dict(watch.seconds)
    inside = stages.pop("process_batch")
    stages["swap bookkeeping"] = inside - sum(v for k, v in stages.items() if k != "watermark")
    stages["decode"] = decode_seconds(video)
    stages["encode + mux + audio"] = total - inside - stages["watermark"] - stages["decode"]
    return stages, total, written, frames


def main() -> None:
    parser = bench_parser(__doc__, "a 2 s clip instead of 4 s", device="cpu")
    parser.add_argument("--resolution", type=int, default=128, help="preset of the untrained model")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--redetect-every", type=int, default=DEFAULT_REDETECT_EVERY,
                        help="detect faces every n-th frame, track between (1: every frame, no tracking)")
    args = parse_args(parser)
    from infoswap.swap.swapper import Swapper

    with tempfile.TemporaryDirectory(prefix="infoswap-video-profile-") as folder:
        work = Path(folder)
        clip = make_video(work / "clip.mp4", 2.0 if args.quick else 4.0)
        swapper = Swapper.from_pretrained(fresh_checkpoint(work, args.resolution), device=args.device,
                                          batch_size=args.batch_size)
        identity = swapper.source_identity(SOURCE)
        swapper.generate(identity, aligned_crops(swapper, clip, 1) * swapper.batch_size)  # warm-up
        stages, total, frames, swapping = profile(swapper, identity, clip, work / "out.mp4", args.redetect_every)
    print(machine_label(args.device))
    print(f"{frames} frames of 1280x720 in {total[0]:.1f} s ({total[1]:.1f} s CPU), {swapper.resolution} px model, "
          f"batch {swapper.batch_size}, detection on {swapping.tracker.detections} frames "
          f"(redetect every {swapping.tracker.redetect_every})")
    print(f"{'stage':>22}  {'wall ms/frame':>13} {'share':>6}  {'CPU ms/frame':>12} {'share':>6}")
    for name, (wall, cpu) in sorted(stages.items(), key=lambda kv: -kv[1][1]):
        print(f"{name:>22}  {wall / frames * 1000:13.1f} {wall / total[0]:6.1%}  {cpu / frames * 1000:12.1f} "
              f"{cpu / total[1]:6.1%}")
    headline("video_fps", frames / total[0], ".2f")


if __name__ == "__main__":
    main()

"""The physical floor of a swap on this machine, and how close the end-to-end image and video swaps come.

    python bench/floor.py [--quick] [--preset 256] [--batch 8] [--threads N] [--device cpu]

The floor is the bare generator forward per face with the source identity cached (Swapper.generate:
the recogniser's taps of the target, the 10 IIB readouts, the attribute maps, the decoder and the AII),
on aligned faces of the 720p test clip (bench/swap_workload.py), untrained weights of the --preset
(dlib recogniser; speed does not depend on the weights). It is timed at batch 1 (what one image gets)
and at --batch (what video frames get), before and after the end-to-end runs, median of the rounds.

- image swap: what `infoswap swap -s S -t frame.jpg -o out.jpg` does per image once the model and the
  source identity are loaded (read, detect, landmarks, align, generate, paste back, watermark, write with
  metadata), on a 1280×720 frame of the clip; against the floor at batch 1.
- video swap: the whole video swap of the clip (decode, detect every few frames and track between,
  smooth, align, generate in batches, paste back, watermark, encode, audio copy); against the floor at
  --batch.
Wall time is the rate a user sees; CPU time (all threads of this process) is printed beside it, since on a
shared machine it moves less with other jobs' load. Headline: `video_over_floor: <wall ratio>`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from common import bench_parser, headline, machine_label, parse_args
from swap_workload import SOURCE, aligned_crops, clocked, fresh_checkpoint, make_video, video_swap


def floor_rates(swapper, identity, crops: list[np.ndarray], rounds: int) -> list[np.ndarray]:
    """(wall, CPU) faces/s of the bare generator on `crops`, one entry per round."""
    return [len(crops) / clocked(lambda: swapper.generate(identity, crops)) for _ in range(rounds)]


def image_rates(swapper, identity, image: Path, out: Path, rounds: int) -> list[np.ndarray]:
    """(wall, CPU) images/s of the end-to-end image swap, as the CLI runs it, one entry per round."""
    from infoswap.swap.runs import swap_image

    selector = swapper.face_selector("all")
    ignore = lambda line: None  # noqa: E731  (the CLI's warn/echo)
    return [1 / clocked(lambda: swap_image(swapper, identity, selector, image, out, warn=ignore, echo=ignore))
            for _ in range(rounds)]


def main() -> None:
    parser = bench_parser(__doc__, "fewer rounds and a 16-frame clip (under a minute at 256)", device="cpu")
    parser.add_argument("--preset", type=int, default=256, help="model preset (128, 256, 512)")
    parser.add_argument("--batch", type=int, default=8, help="faces per generator call for video frames")
    args = parse_args(parser)
    from infoswap.swap.swapper import Swapper
    from infoswap.swap.video import sample_frames

    rounds, image_rounds, seconds = (2, 2, 16 / 25) if args.quick else (5, 6, 4.0)
    with tempfile.TemporaryDirectory(prefix="infoswap-bench-floor-") as folder:
        work = Path(folder)
        clip = make_video(work / "clip.mp4", seconds)
        frame = work / "frame.jpg"
        Image.fromarray(sample_frames(clip, 1)[0]).save(frame, quality=95)
        swapper = Swapper.from_pretrained(fresh_checkpoint(work, args.preset), device=args.device,
                                          batch_size=args.batch)
        identity = swapper.source_identity(SOURCE)
        crops = aligned_crops(swapper, clip, args.batch)
        floor_rates(swapper, identity, crops, 1)  # warm-up: oneDNN picks kernels per shape
        floor_rates(swapper, identity, crops[:1], 1)
        single = floor_rates(swapper, identity, crops[:1], rounds)
        batched = floor_rates(swapper, identity, crops, rounds)
        images = image_rates(swapper, identity, frame, work / "out.jpg", image_rounds)
        spent, frames = video_swap(swapper, identity, clip, work / "clip.out.mp4")
        batched += floor_rates(swapper, identity, crops, rounds)
        single += floor_rates(swapper, identity, crops[:1], rounds)

    floor1, floor_b = np.median(single, axis=0), np.median(batched, axis=0)
    image, video = np.median(images, axis=0), frames / spent
    print(machine_label(args.device))
    print(f"preset {swapper.resolution} px, dlib recogniser, untrained weights; 1280x720 frames")
    rows = (("floor, batch 1", floor1, "faces/s"), (f"floor, batch {args.batch}", floor_b, "faces/s"),
            ("image swap", image, "images/s"), (f"video swap ({frames} frames)", video, "frames/s"))
    for name, (wall, cpu), unit in rows:
        print(f"{name:>24}: {wall:7.2f} {unit} wall, {cpu:7.2f} per CPU-second")
    print(f"image swap over floor at batch 1: {image[0] / floor1[0]:.3f} wall, {image[1] / floor1[1]:.3f} CPU")
    print(f"video swap over floor at batch {args.batch}: {video[0] / floor_b[0]:.3f} wall, "
          f"{video[1] / floor_b[1]:.3f} CPU")
    headline("video_over_floor", video[0] / floor_b[0])


if __name__ == "__main__":
    main()

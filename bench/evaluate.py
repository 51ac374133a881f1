"""Speed of `evaluate` on 100 swap pairs at 256 px (issue 9: under a minute on 2 cores).

    python bench/evaluate.py [--quick] [--threads 2]

Stand-in swaps from the bundled identity photos: each photo is cut to the square around its face (1.6 ×
the detector's box, so head and hair show) and resized to 256 × 256. Pair i takes one person's photo as
source, another person's as target, and a fresh file copy of the target as its swap, so every swap is
analysed on its own as real outputs would be (sources and targets repeat and are analysed once, as in
real runs). Timed: `evaluate_pairs` from reading the images to the report, with the models already
loaded; the model loading is timed apart. CPU time is printed too: on a shared machine it shows the
work itself when wall time mostly shows the queue. Prints the headline last, as `name: value`.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import cv2
from common import bench_parser, headline, machine_label, parse_args

from infoswap.evaluate.evaluation import evaluate_pairs
from infoswap.evaluate.judge import IndependentJudge, crop_square, square_around
from infoswap.evaluate.manifest import SwapPair
from infoswap.io.images import read_image

IDENTITIES = Path(__file__).resolve().parents[1] / "assets" / "faces" / "identities"
SIZE = 256


def stand_in_photos(judge: IndependentJudge, folder: Path) -> list[tuple[str, Path]]:
    """(person, 256-px photo) for every bundled identity photo."""
    photos = []
    for path in sorted(IDENTITIES.glob("*/*.jpg")):
        pixels = read_image(path).pixels
        face = max(judge.finder(pixels), key=lambda f: f.area)
        small = crop_square(pixels, square_around(face.box, scale=1.6), size=SIZE)
        out = folder / f"{path.parent.name}_{path.stem}.png"
        cv2.imwrite(str(out), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        photos.append((path.parent.name, out))
    return photos


def make_pairs(photos: list[tuple[str, Path]], count: int, folder: Path) -> list[SwapPair]:
    rng = random.Random(0)
    pairs = []
    for i in range(count):
        (person, source), (other, target) = rng.sample(photos, 2)
        while other == person:
            other, target = rng.choice(photos)
        swap = folder / f"swap_{i:03d}.png"
        swap.write_bytes(target.read_bytes())
        pairs.append(SwapPair(source=source, target=target, swap=swap, row=i + 2))
    return pairs


def main() -> None:
    args = parse_args(bench_parser(__doc__, "10 pairs instead of 100"))
    count = 10 if args.quick else 100

    start = time.perf_counter()
    judge = IndependentJudge()
    judge.finder  # noqa: B018 (loads detector and landmark nets now, outside the timed part)
    loading = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pairs = make_pairs(stand_in_photos(judge, folder), count, folder)
        images = len({p for pair in pairs for p in (pair.source, pair.target, pair.swap)})
        start, cpu_start = time.perf_counter(), time.process_time()
        report = evaluate_pairs(pairs, judge)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    print(f"machine: {machine_label()}")
    print(f"{count} pairs at {SIZE} px, {images} distinct images")
    print(f"model loading: {loading:.1f} s (not in the headline)")
    print(f"scored {report['pairs_scored']} pairs; retrieval {report['id_retrieval']:.3f} "
          f"(chance {report['retrieval_chance']:.3f}), pose error {report['pose_error']:.2f} deg")
    print(f"per image: {1000 * seconds / images:.0f} ms wall, {1000 * cpu_seconds / images:.0f} ms CPU (all threads)")
    headline(f"evaluate_{count}_pairs_s", seconds, ".1f")


if __name__ == "__main__":
    main()

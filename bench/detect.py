"""Speed of face detection on a 1280×720 photo: a full detect call against the bare network forward.

    python bench/detect.py [--quick] [--threads 2]

The photo is a real one (assets/faces/groups/human_group-4.jpg, centre 1280×720 with its five faces).
`forward` is the SSD net alone on the already prepared (1, 3, 512, 512) input; `detect` is
SsdFaceDetector.detect (pad, resize, normalise, forward, threshold, NMS, back to pixels); `faces` adds
the 68-landmark predictor (FaceFinder). Calls are interleaved so that load from other processes hits
all three alike, and the headline uses each call's fastest round, the one least slowed by that load.
Prints the headline last, as `name: value`: detect time over forward time (issue: ≤ 1.3).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from infoswap.faces.detect import SsdFaceDetector
from infoswap.faces.finder import FaceFinder
from infoswap.io.images import read_image

from common import bench_parser, headline, machine_label, parse_args

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "faces" / "groups" / "human_group-4.jpg"


def main() -> None:
    args = parse_args(bench_parser(__doc__, "5 rounds instead of 20"))
    rounds = 5 if args.quick else 20

    image = read_image(PHOTO).pixels[120:840]  # (720, 1280, 3)
    detector = SsdFaceDetector()
    finder = FaceFinder(detector=detector)
    net_input = detector.net_input(image)
    calls = {
        "forward": lambda: detector.net(net_input),
        "detect": lambda: detector.detect(image),
        "faces": lambda: finder(image),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    with torch.inference_mode():
        for call in calls.values():
            call()  # warm-up: oneDNN picks its kernels on the first call per shape
        for _ in range(rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)

    found = len(finder(image))
    best = {name: min(t) * 1000 for name, t in times.items()}
    print(machine_label())
    print(f"image 1280x720, {found} faces, {rounds} rounds")
    for name, ms in best.items():
        print(f"{name:>8}: {ms:8.1f} ms fastest, {statistics.median(times[name]) * 1000:8.1f} ms median")
    print(f"landmarks: {best['faces'] - best['detect']:.1f} ms for {found} faces")
    headline("detect_over_forward", best["detect"] / best["forward"])


if __name__ == "__main__":
    main()

"""Speed of the face pipeline around the model: align + paste-back per face, against the detector forward.

    python bench/align.py [--quick] [--threads 2]

The photo is a real one (assets/faces/groups/human_group-4.jpg, centre 1280×720 with its five faces).
`forward` is the SSD detector net alone on its prepared (1, 3, 512, 512) input; `align S` cuts all five
faces at S × S (align_face); `paste S` pastes them back one after another (paste_back with colour
matching, the aligned crop standing in for the generated face). Calls are interleaved so that load from
other processes hits all of them alike; CPU seconds (this process) are printed beside wall time because
they say what the code costs when other jobs share the cores. Prints the headline last, as `name: value`:
align + paste-back per face at 512 over one detector forward.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch
from common import bench_parser, headline, interleaved_seconds, machine_label, parse_args

from infoswap.faces.align import align_face
from infoswap.faces.blend import paste_back
from infoswap.faces.detect import SsdFaceDetector
from infoswap.faces.finder import FaceFinder
from infoswap.io.images import read_image

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "faces" / "groups" / "human_group-4.jpg"
SIZES = (256, 512)


def main() -> None:
    args = parse_args(bench_parser(__doc__, "5 rounds instead of 20"))
    rounds = 5 if args.quick else 20

    image = read_image(PHOTO).pixels[120:840]  # (720, 1280, 3)
    detector = SsdFaceDetector()
    faces = FaceFinder(detector=detector)(image)
    net_input = detector.net_input(image)
    aligned = {size: [align_face(image, face, size) for face in faces] for size in SIZES}

    def paste_all(size: int) -> None:
        out = image
        for face in aligned[size]:
            out = paste_back(out, face, face.crop)

    calls = {"forward": lambda: detector.net(net_input)}
    for size in SIZES:
        calls[f"align {size}"] = lambda size=size: [align_face(image, face, size) for face in faces]
        calls[f"paste {size}"] = lambda size=size: paste_all(size)
    with torch.inference_mode():
        wall, cpu = interleaved_seconds(calls, rounds)

    ms = {name: statistics.median(t) * 1000 for name, t in wall.items()}
    cpu_ms = {name: statistics.median(t) * 1000 for name, t in cpu.items()}
    per_face = {name: 1 if name == "forward" else len(faces) for name in calls}
    print(f"machine: {machine_label()}")
    print(f"image 1280x720, {len(faces)} faces, {rounds} rounds (median ms per call; align and paste per face)")
    for name in calls:
        print(f"{name:>9}: {ms[name] / per_face[name]:8.2f} ms wall  {cpu_ms[name] / per_face[name]:8.2f} ms cpu")
    ratios = {size: (ms[f"align {size}"] + ms[f"paste {size}"]) / len(faces) / ms["forward"] for size in SIZES}
    for size in SIZES:  # 512 (the paper's size) last: the headline
        headline(f"align_paste_{size}_over_forward", ratios[size])


if __name__ == "__main__":
    main()

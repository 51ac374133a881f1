"""Speed of the default recogniser f (dlib ResNet-29): throughput, and the staircase continuations.

    python bench/recognizer.py [--quick] [--threads 2] [--name dlib]

Throughput: aligned 256 px faces -> embeddings (crop, resize and network) at batch 32 under
torch.inference_mode. Continuations: the 10 f_IBi of one training step (forward and backward to the
replacement maps Z_i) as continue_all's staircase vs a loop of continue_from, at batch 1 and 4.
Prints the headline last, as `name: value`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from common import bench_parser, headline, machine_label, median_seconds, parse_args

from infoswap.recognition.registry import load_recognizer


def continuation_step(recognizer, taps: list[torch.Tensor], staircase: bool) -> Callable[[], None]:
    """One L_recog-like forward + backward over the 10 continuations."""

    def step() -> None:
        replaced = [t.detach().requires_grad_(True) for t in taps]
        if staircase:
            outs = recognizer.continue_all(replaced)
        else:
            outs = [recognizer.continue_from(i, z) for i, z in enumerate(replaced)]
        torch.stack(outs).sum().backward()

    return step


def main() -> None:
    parser = bench_parser(__doc__, "fewer repeats (a smoke run)", threads=2)
    parser.add_argument("--name", default="dlib", help="recogniser registry name")
    args = parse_args(parser)
    print(f"machine: {machine_label()}")
    repeats = 2 if args.quick else 7
    recognizer = load_recognizer(args.name)
    generator = torch.Generator().manual_seed(0)

    faces = torch.rand(32, 3, 256, 256, generator=generator) * 2 - 1
    with torch.inference_mode():
        seconds, cpu = median_seconds(lambda: recognizer(faces), repeats)
    throughput = 32 / seconds
    print(f"{args.name}: batch 32, {args.threads} threads: {seconds * 1000:.0f} ms, {throughput:.1f} faces/s "
          f"(CPU {cpu * 1000:.0f} ms: {32 / cpu:.1f} faces per CPU-second)")

    for batch in (1, 4):
        with torch.no_grad():
            _, taps = recognizer.features(faces[:batch])
        loop, loop_cpu = median_seconds(continuation_step(recognizer, taps, staircase=False), repeats)
        stair, stair_cpu = median_seconds(continuation_step(recognizer, taps, staircase=True), repeats)
        print(f"continuations (forward + backward), batch {batch}: loop {loop * 1000:.1f} ms, "
              f"staircase {stair * 1000:.1f} ms, speed-up {loop / stair:.2f}x (CPU time {loop_cpu / stair_cpu:.2f}x)")
    headline(f"{args.name} faces/s (batch 32, {args.threads} threads)", throughput, ".1f")


if __name__ == "__main__":
    main()

"""Speed of the default recogniser f (dlib ResNet-29): throughput, and the staircase continuations.

    python bench/recognizer.py [--quick] [--threads 2] [--name dlib]

Throughput: aligned 256 px faces -> embeddings (crop, resize and network) at batch 32 under
torch.inference_mode. Continuations: the 10 f_IBi of one training step (forward and backward to the
replacement maps Z_i) as continue_all's staircase vs a loop of continue_from, at batch 1 and 4.
Prints the headline last, as `name: value`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from infoswap.recognition.registry import load_recognizer


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU (this process, all threads) seconds per call.

    CPU seconds say what the code costs when other jobs share the cores and stretch the wall time.
    """
    fn()  # warm-up: oneDNN picks its kernels on the first call per shape
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (target: 2 cores)")
    parser.add_argument("--name", default="dlib", help="recogniser registry name")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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
    print(f"{args.name} faces/s (batch 32, {args.threads} threads): {throughput:.1f}")


if __name__ == "__main__":
    main()

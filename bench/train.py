"""Training speed: steps/s of Algorithm 1 at presets 128 and 256 (batch 4), and where a step's time goes.

    python bench/train.py [--quick] [--presets 128,256] [--batch 4] [--steps 3] [--threads N] [--device cpu]

Each step is `Trainer.step` exactly as `infoswap train` runs it (G forward + backward, D forward + backward,
both Adam updates), on random faces in [-1, 1] (the cost does not depend on the pixels) with the real dlib
recogniser. The split times the methods a step calls: recogniser (features + staircase continuations,
forward), IIB (readouts, bottleneck, L_info), decoder + AII (forward, including the frozen-AII cycle pass),
D (forward, in both steps), backward (both passes, gradient averaging included); the rest (optimiser,
losses' arithmetic, attribute maps) is "other". CPU seconds of this process are printed beside wall
time, since other jobs on the machine slow the wall clock. Prints the headline last, as `name: value`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import torch
from common import bench_parser, headline, machine_label, parse_args

from infoswap.config import TrainConfig
from infoswap.recognition.registry import load_recognizer
from infoswap.train.calibrate import tap_statistics
from infoswap.train.distributed import Process
from infoswap.train.trainer import Precision, Trainer


class Split:
    """Accumulates CPU time of this process per part; `wrap` replaces a bound method by a timed one.

    CPU time, not wall time: with other jobs on the machine, wall time mostly measures waiting. (On a GPU
    the sync makes CPU time include the wait for kernels, so it is wall time there.)
    """

    def __init__(self, sync: Callable[[], None]):
        self.seconds: dict[str, float] = defaultdict(float)
        self.sync = sync
        self.clock = time.perf_counter if sync is torch.cuda.synchronize else time.process_time

    def wrap(self, owner: object, method: str, part: str) -> None:
        inner = getattr(owner, method)

        def timed(*args, **kwargs):
            self.sync()
            start = self.clock()
            out = inner(*args, **kwargs)
            self.sync()
            self.seconds[part] += self.clock() - start
            return out

        setattr(owner, method, timed)


def bench_preset(resolution: int, batch: int, steps: int, device: torch.device, precision: str) -> dict:
    cfg = TrainConfig(data="-", preset=resolution, batch=batch, precision=precision)
    recognizer = load_recognizer(cfg.model_config().recognizer).to(device)
    faces = torch.rand(2 * batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(0)) * 2 - 1
    stats = tap_statistics([faces.to(device)], recognizer, resolution, "dlib")
    trainer = Trainer(cfg.model_config(), cfg, recognizer, stats, Process(0, 1, device),
                      Precision.resolve(precision, device))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    split = Split(sync)
    model = trainer.model
    for owner, method, part in ((model.recognizer, "features", "recogniser"),
                                (model.recognizer, "continue_all", "recogniser"),
                                (model.iib, "controllers", "IIB"), (model.iib, "bottleneck", "IIB"),
                                (model.iib, "information", "IIB"), (model.decoder, "attributes", "decoder+AII"),
                                (model.decoder, "controllers", "decoder+AII"), (model.aii, "forward", "decoder+AII"),
                                (trainer.D, "forward", "D"), (trainer, "_backward", "backward")):
        split.wrap(owner, method, part)
    x_s, x_t = faces[:batch].to(device), faces[batch:].to(device)
    trainer.step(x_s, x_t)  # warm-up
    split.seconds.clear()
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        trainer.step(x_s, x_t)
    sync()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    parts = {k: v / steps for k, v in split.seconds.items()}
    parts["other"] = (wall if device.type == "cuda" else cpu) / steps - sum(parts.values())
    return {"wall": wall / steps, "cpu": cpu / steps, "parts": parts}


def main() -> None:
    parser = bench_parser(__doc__, "preset 128 only, 1 timed step", device="cpu")
    parser.add_argument("--presets", default="128,256")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per preset (after one warm-up)")
    parser.add_argument("--precision", default="fp32", help="fp32, bf16 or fp16 (GPU only)")
    args = parse_args(parser)
    presets = [128] if args.quick else [int(p) for p in args.presets.split(",")]
    steps = 1 if args.quick else args.steps
    device = torch.device(args.device)
    print(f"machine: {machine_label(args.device)}")
    print(f"device: {device}; batch {args.batch}; precision {args.precision}; {steps} timed step(s) per preset")
    first = None
    for resolution in presets:
        r = bench_preset(resolution, args.batch, steps, device, args.precision)
        total = sum(r["parts"].values())
        split = ", ".join(f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in
                          sorted(r["parts"].items(), key=lambda kv: -kv[1]))
        print(f"preset {resolution}: {1 / r['wall']:.4f} steps/s ({r['wall']:.2f} s/step wall, "
              f"{r['cpu']:.2f} s CPU); split: {split}")
        first = first or (resolution, 1 / r["wall"])
    kind = "cuda" if device.type == "cuda" else "cpu"
    headline(f"train_steps_per_s_{first[0]}_{kind}_b{args.batch}", first[1], ".4f")


if __name__ == "__main__":
    main()

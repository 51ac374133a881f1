"""InfoSwap model benchmark on CPU: parameter counts per preset, generator-only forward time at 256 and 512
(batch 1) split into IIB readouts : decoder : AII, and the peak memory of a 512 forward (< 2 GiB wanted).

    .venv/bin/python bench/model.py [--quick] [--threads N]

"Generator-only forward" is what a swap runs per target once z̃_sid is cached: f's taps of the target, the
10 readouts (λ^t), the attribute maps, the decoder (features and controllers) and the AII. Peak memory is
measured in a fresh subprocess: resident memory with the model built, and the peak during one batch-1
swap (weights, recogniser and activations together). Times are medians, wall clock and CPU (summed over
threads); on a shared machine the CPU figures are the ones to compare. Output: one `name: value` per line,
the headline (CPU ms of the largest generator forward timed) last.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch
from common import bench_parser, headline, machine_label, parse_args, peak_rss_mib, reset_peak_rss

from infoswap.config import PRESETS, preset
from infoswap.model.discriminator import Discriminator
from infoswap.model.infoswap import InfoSwap
from infoswap.recognition.dlib_resnet import DlibResNet
from infoswap.recognition.registry import load_recognizer


def parameter_counts(resolution: int) -> dict[str, int]:
    """Trainable parameters per part, counted on the meta device (nothing is allocated)."""
    cfg = preset(resolution)
    with torch.device("meta"):
        model = InfoSwap(cfg, DlibResNet())
        parts = {"iib": model.iib, "decoder": model.decoder, "aii": model.aii,
                 "discriminator": Discriminator(cfg.disc_channels)}
        return {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()}


def stage_times(model: InfoSwap, repeats: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) median seconds of each stage of a batch-1 generator forward.

    CPU time (summed over threads) is reported beside wall time because this machine is shared: under
    contention wall time grows while CPU time stays close to the work done.
    """
    res = model.cfg.resolution
    target = torch.rand(1, 3, res, res) * 2 - 1
    z_src = torch.nn.functional.normalize(torch.randn(1, model.recognizer.embedding_dim), dim=-1)
    names = ("recogniser", "readouts", "decoder", "aii")
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first run warms up
            marks = [(time.perf_counter(), time.process_time())]
            _, taps = model.recognizer.features(target)
            marks.append((time.perf_counter(), time.process_time()))
            lambdas = model.iib.lambdas(taps)  # as a swap computes them
            marks.append((time.perf_counter(), time.process_time()))
            feats = model.attribute_maps(taps, lambdas, model.noise(1))
            attrs, controls = model.decode(feats, lambdas, target)
            marks.append((time.perf_counter(), time.process_time()))
            model.aii(z_src, attrs, controls)
            marks.append((time.perf_counter(), time.process_time()))
            for n, (a, b) in zip(names, zip(marks, marks[1:])):
                wall[n].append(b[0] - a[0])
                cpu[n].append(b[1] - a[1])
    return {n: (statistics.median(wall[n][1:]), statistics.median(cpu[n][1:])) for n in names}


def memory_child(resolution: int) -> None:
    """Runs in a subprocess: builds the model, one batch-1 swap, prints RSS before and peak RSS during it (MiB).

    The peak is reset after building (common.reset_peak_rss) so that it is the forward's own.
    """
    torch.manual_seed(0)
    model = InfoSwap(preset(resolution), load_recognizer("dlib")).eval()
    faces = [torch.rand(1, 3, resolution, resolution) * 2 - 1 for _ in range(2)]
    before = reset_peak_rss()
    with torch.inference_mode():
        model.swap(*faces)
    print(f"{before:.0f} {peak_rss_mib():.0f}")


def peak_memory(resolution: int, threads: int) -> tuple[float, float]:
    """(RSS with the model built, peak RSS during one batch-1 swap) in MiB, from a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(resolution), "--threads", str(threads)],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    parser = bench_parser(__doc__, "one timed repeat, 256 px only", threads=torch.get_num_threads())
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parse_args(parser)
    if args.memory_child:
        memory_child(args.memory_child)
        return

    print(f"machine: {machine_label()}")
    for res in PRESETS:
        counts = parameter_counts(res)
        generator = counts["iib"] + counts["decoder"] + counts["aii"]
        detail = ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in counts.items())
        print(f"params_{res}: {generator / 1e6:.2f}M generator ({detail})")

    recognizer = load_recognizer("dlib")
    last = None
    for res in (256,) if args.quick else (256, 512):
        torch.manual_seed(0)
        model = InfoSwap(preset(res), recognizer).eval()
        t = stage_times(model, repeats=1 if args.quick else 3)
        for clock, k in (("wall", 0), ("cpu", 1)):
            generator = sum(t[n][k] for n in ("readouts", "decoder", "aii"))
            shares = ":".join(f"{100 * t[n][k] / generator:.0f}" for n in ("readouts", "decoder", "aii"))
            stages = ", ".join(f"{n} {1e3 * t[n][k]:.0f}" for n in t)
            print(f"forward_{res}_{clock}_stages_ms: {stages}")
            print(f"forward_{res}_{clock}_ratio_readouts_decoder_aii: {shares} (%)")
            print(f"forward_{res}_{clock}_generator_ms: {1e3 * generator:.0f}")
        last = (f"forward_{res}_cpu_generator_ms", 1e3 * generator)  # the loop's last clock is CPU
        del model

    mem_res = 256 if args.quick else 512
    built, peak = peak_memory(mem_res, args.threads)
    print(f"memory_{mem_res}_model_mib: {built:.0f}")
    print(f"memory_{mem_res}_peak_forward_mib: {peak:.0f}")
    headline(*last, ".0f")


if __name__ == "__main__":
    main()

"""What every benchmark in bench/ shares: its command line (--quick, --threads, --device), the machine label
its numbers are printed under, timing of a call, peak resident memory, and the closing headline line.

Benchmarks run as scripts (`python bench/x.py`), so they import this as `from common import ...`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch


def bench_parser(doc: str | None, quick: str, *, threads: int | None = None,
                 device: str | None = None) -> argparse.ArgumentParser:
    """The shared options: --quick (what it shortens is `quick`), --threads, and --device when `device` is set.

    `doc` (the benchmark's module docstring) becomes the --help text, layout kept. threads=None leaves
    torch's own choice; device="auto" means cuda when there is one, else cpu.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--threads", type=int, default=threads,
                        help="torch CPU threads (default: %(default)s; None: torch's choice)")
    if device is not None:
        auto = "cuda" if torch.cuda.is_available() else "cpu"
        parser.add_argument("--device", default=auto if device == "auto" else device, help="cpu or cuda")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parses and applies --threads to torch, so every benchmark honours it the same way."""
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ('unknown CPU' elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def machine_label(device: str = "cpu") -> str:
    """One line naming where the numbers come from: CPU model and cores, torch threads, load average, GPU.

    The load average matters on a shared machine: at load above the core count, wall times are stretched.
    """
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    label = (f"{cpu_model()} ({os.cpu_count()} cores), torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads, load {load}")
    if torch.device(device).type == "cuda":
        label += f", GPU {torch.cuda.get_device_name(torch.device(device))}"
    return label


def median_seconds(fn: Callable[[], object], repeats: int, *, warmup: int = 1) -> tuple[float, float]:
    """Median (wall, CPU) seconds per call of `fn`, after `warmup` untimed calls.

    CPU seconds (this process, all threads) say what the code costs when other jobs share the cores and
    stretch the wall time; the warm-up lets oneDNN pick its kernels on the first call per shape.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def interleaved_seconds(calls: dict[str, Callable[[], object]], rounds: int) -> tuple[dict, dict]:
    """({name: [wall seconds]}, {name: [CPU seconds]}) of `rounds` rounds, each calling every call once.

    Interleaving makes load from other processes hit all calls alike; one untimed warm-up call each first.
    """
    for call in calls.values():
        call()
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return wall, cpu


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(float(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))


def reset_peak_rss() -> float:
    """Starts a fresh peak-RSS window (Linux clear_refs 5) and returns the current RSS in MiB.

    Without /proc (not Linux) the peak cannot be reset and peak_rss_mib is the whole process's maximum.
    """
    import resource

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mib() -> float:
    """Peak resident memory in MiB since the last reset_peak_rss (or since the process began)."""
    import resource

    try:
        return _status_mib("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def headline(name: str, value: float | str, fmt: str = ".3f") -> None:
    """Prints the benchmark's headline figure; call it last: the contract is that it is the last line."""
    text = value if isinstance(value, str) else format(value, fmt)
    print(f"{name}: {text}", flush=True)

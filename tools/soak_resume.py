#!/usr/bin/env python3
"""Kill-and-resume soak of `infoswap train` (issue 14): SIGKILL at random moments, resume, compare.

A tiny preset-128 run on a few bundled faces (aligned by `infoswap align`) is trained once without
interruption, then again while being killed with SIGKILL `--kills` times: at random moments, and whenever
the schedule says "write", the moment a checkpoint's temp file appears (mid-write). After every kill every
checkpoint on disk must verify (marker, sha256 of both files) and every finished safetensors file must
read to its end; then the run is resumed (`--resume`, or a fresh start when the kill came before the run
folder had its config). At the end the final network snapshot and training state must equal the
uninterrupted run's, tensor for tensor (torch.equal).

    .venv/bin/python tools/soak_resume.py --kills 9 --steps 12
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTOS = ("lisa/1.jpg", "lisa/2.jpg", "london_006/neutral.jpg", "london_021/neutral.jpg",
          "london_024/smiling.jpg", "london_036/neutral.jpg")  # none of the held-out identities
TINY_MODEL = {"channels": [32, 32, 16, 16, 8, 3], "decoder_channels": [32, 32, 16, 16, 8, 8],
              "disc_channels": [8, 16, 32, 32, 32, 32], "iib_hidden": 16}
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # same threads in every run: identical CPU kernels
TEMP_PREFIX = ".tmp"  # our ".tmp-<name>…"; older versions also let safetensors write ".tmpXXXXXX"
CHECKPOINT_TEMP = re.compile(r"^\.tmp(-(network-snapshot|training-state|checkpoint)-|[A-Za-z0-9]{6}$)")
MODES = ("write", "step", "startup")  # kill moments, in turn (see `kill`)
GLOBAL_RNG = ("torch", "numpy", "python")  # streams the training math never draws from (the "noise" generator is
                                           # compared with the weights)


def infoswap(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "infoswap", *args], env=ENV, check=True, stdout=subprocess.DEVNULL)


def prepare(work: Path, steps: int, snapshot_every: int) -> tuple[Path, Path]:
    """Aligned faces (by `infoswap align`), their tap statistics, and the run settings; (data, config)."""
    photos = work / "photos"
    photos.mkdir(parents=True)
    for name in PHOTOS:
        shutil.copy(REPO / "assets" / "faces" / "identities" / name, photos / name.replace("/", "_"))
    data = work / "aligned"
    infoswap("align", str(photos), str(data), "--size", "128", "--no-progress")
    stats = work / "stats.safetensors"
    infoswap("calibrate", "--data", str(data), "--out", str(stats), "--num", "4")
    settings = {"preset": 128, "model": TINY_MODEL, "batch": 2, "workers": 0, "log_every": 1, "sample_every": 1000,
                "grid": 2, "tensorboard": False, "device": "cpu", "stats": str(stats), "max_steps": steps,
                "snapshot_every": snapshot_every, "keep": 2}
    config = work / "config.json"
    config.write_text(json.dumps(settings))
    return data, config


def launch(run: Path, config: Path, data: Path) -> subprocess.Popen:
    """`infoswap train`, resuming when the folder already holds a run (what a pre-emptible job's script does)."""
    resume = ["--resume"] if (run / "config.json").is_file() else []
    return subprocess.Popen([sys.executable, "-m", "infoswap", "train", "--config", str(config), "--data", str(data),
                             "--run-dir", str(run), *resume], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def temp_files(run: Path) -> list[Path]:
    return [p for p in run.glob(f"{TEMP_PREFIX}*") if p.is_file()] if run.is_dir() else []


def last_step(run: Path) -> int:
    """The step of the last line of stats.jsonl (log_every 1), 0 before any."""
    try:
        lines = (run / "stats.jsonl").read_text().splitlines()
        return int(json.loads(lines[-1])["step"]) if lines else 0
    except (OSError, ValueError, KeyError):
        return 0  # not there yet, or a line being written


def resume_point(run: Path) -> int:
    from infoswap.train import checkpoint as ckpt

    found = ckpt.latest_complete(run) if run.is_dir() else None
    return found.step if found else 0


def kill(proc: subprocess.Popen, run: Path, mode: str, since: int, rng: random.Random, step_seconds: float) -> str:
    """Waits for the moment `mode` names, SIGKILLs the run and says when it struck ("" if it finished first).

    write: the moment a new temp file of a checkpoint file appears; step: at a random moment of the next two
    steps once a checkpoint beyond `since` (the one it resumed from) is complete, so the soak moves on;
    startup: 0-3 s after launch, while it imports, loads, checks and writes its config.
    """
    if mode == "write":
        stale = set(temp_files(run))  # left by an earlier kill: not this run's writing
        writing: list[str] = []
        while proc.poll() is None and not writing:
            writing = [p.name for p in temp_files(run) if CHECKPOINT_TEMP.match(p.name) and p not in stale]
            time.sleep(0.001)
        what = "mid-write of " + ", ".join(sorted(writing))
    elif mode == "step":
        while proc.poll() is None and resume_point(run) <= since:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 2 * step_seconds))
        what = f"at a random moment after step {last_step(run)}"
    else:
        time.sleep(rng.uniform(0, 3.0))
        what = "during start-up"
    if proc.poll() is not None:
        return ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return what


def audit(run: Path) -> list[str]:
    """Problems with what a kill left: a marker whose files do not verify, a safetensors file that does not
    read to its end (temp files are expected after a kill and are not read)."""
    from safetensors import safe_open

    from infoswap.train import checkpoint as ckpt

    problems = []
    if not run.is_dir():
        return problems
    for marker in sorted(run.glob("checkpoint-*.json")):
        if ckpt._verified(marker) is None:
            problems.append(f"{marker.name} does not verify")
    for path in sorted(run.glob("*.safetensors")):
        if path.name.startswith(TEMP_PREFIX):
            continue
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    f.get_tensor(key)
        except Exception as e:
            problems.append(f"{path.name} unreadable ({e})")
    return problems


def final_state(run: Path) -> dict:
    """The newest complete checkpoint: {"network": its tensors, "state": the decoded training state}."""
    from safetensors import safe_open

    from infoswap.train import checkpoint as ckpt

    found = ckpt.latest_complete(run)
    with safe_open(str(found.network), framework="pt") as f:
        network = {k: f.get_tensor(k) for k in f.keys()}
    return {"network": network, "state": ckpt.read_training_state(found.state)}


def differences(a, b, path: str = "") -> list[str]:
    """Paths where two nested checkpoints differ: tensors by torch.equal, arrays and plain values exactly."""
    import numpy as np
    import torch

    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(a.keys() | b.keys(), key=str)
                for d in (differences(a[k], b[k], f"{path}.{k}") if k in a and k in b else [f"{path}.{k}"])]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.dtype == b.dtype and torch.equal(a, b) else [path]
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return [] if np.array_equal(a, b) else [path]
    return [] if type(a) is type(b) and a == b else [path]


@dataclass
class Soak:
    kills: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stale_temps: list[str] = field(default_factory=list)  # temp files still there after the final run
    differing: list[str] = field(default_factory=list)  # weights, optimiser, step, data position, noise stream
    global_rng: list[str] = field(default_factory=list)  # saved global torch/numpy/python streams that differ
    seconds: float = 0.0

    @property
    def bit_exact(self) -> bool:
        return not self.differing

    def line(self) -> str:
        mid = sum(k.startswith("mid-write") for k in self.kills)
        return (f"{len(self.kills)} SIGKILLs survived ({mid} mid-checkpoint-write), {len(self.problems)} unreadable "
                f"checkpoints after kills, bit-exact {'yes' if self.bit_exact else 'NO'}"
                f"{'' if self.bit_exact else f' ({len(self.differing)} tensors differ)'}; "
                f"{len(self.stale_temps)} temp files left behind; saved global RNG streams "
                f"{'equal' if not self.global_rng else 'differ: ' + ', '.join(self.global_rng)}; {self.seconds:.0f} s")


def soak(work: Path, kills: int, steps: int, snapshot_every: int, seed: int,
         schedule: list[str] | None = None) -> Soak:
    """The whole soak in `work`; `schedule` names each kill's moment (see `kill`), else the modes in turn,
    shuffled."""
    started = time.perf_counter()
    data, config = prepare(work, steps, snapshot_every)
    reference = launch(work / "reference", config, data)
    _, err = reference.communicate()
    if reference.returncode:
        raise SystemExit(f"the uninterrupted run failed:\n{err}")
    records = [json.loads(line) for line in (work / "reference" / "stats.jsonl").read_text().splitlines()]
    step_seconds = sum(r["time/step"] + r["time/data"] for r in records) / len(records)
    rng = random.Random(seed)
    schedule = schedule or [MODES[i % len(MODES)] for i in rng.sample(range(kills), kills)]
    result, run = Soak(), work / "killed"
    for mode in schedule:
        since = resume_point(run)
        proc = launch(run, config, data)
        moment = kill(proc, run, mode, since, rng, step_seconds)
        if not moment:  # it finished before the moment came: nothing left to kill
            break
        result.kills.append(f"{moment} (resumed from step {since})")
        result.problems += [f"after kill {len(result.kills)} ({moment}): {p}" for p in audit(run)]
    last = launch(run, config, data)
    _, err = last.communicate()
    if last.returncode:
        raise SystemExit(f"the final resume failed:\n{err}")
    result.problems += audit(run)
    result.stale_temps = [p.name for p in temp_files(run)]
    found = differences(final_state(work / "reference"), final_state(run))
    result.global_rng = [d for d in found if re.match(rf"^\.state\.rng\[\d+\]\.({'|'.join(GLOBAL_RNG)})", d)]
    result.differing = [d for d in found if d not in result.global_rng]
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=9, help="SIGKILLs to survive")
    parser.add_argument("--steps", type=int, default=12, help="training steps of each run")
    parser.add_argument("--snapshot-every", type=int, default=2, help="checkpoint every N steps")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp folder, removed)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="infoswap-soak-"))
    try:
        result = soak(work, args.kills, args.steps, args.snapshot_every, args.seed)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    for i, moment in enumerate(result.kills, 1):
        print(f"kill {i}: {moment}")
    for problem in result.problems + [f"left behind: {t}" for t in result.stale_temps]:
        print(problem)
    print(result.line())
    if result.problems or not result.bit_exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

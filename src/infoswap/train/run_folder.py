"""Where a run lives: a new numbered folder `runs/00012-<desc>/` (edm), or an existing one to resume.

`plan_run` only reads the disk, so every refusal (a resume from another preset, changed settings, a folder
that already holds a run) happens before anything is created or overwritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from infoswap.config import TrainConfig
from infoswap.errors import InfoswapError
from infoswap.train.checkpoint import Checkpoint, atomic_write_text, latest_complete

CONFIG = "config.json"
_NUMBERED = re.compile(r"^(\d+)-")

# Settings a resumed run may change; any other difference would make it a different run.
RESUMABLE = frozenset({"data", "max_steps", "snapshot_every", "sample_every", "log_every", "keep", "workers",
                       "tensorboard", "device", "compile", "outdir", "run_dir"})


@dataclass(frozen=True)
class RunPlan:
    cfg: TrainConfig
    run_dir: Path
    checkpoint: Checkpoint | None  # where a resume starts; None: step 0
    resumed: bool


def _numbered(outdir: Path) -> list[tuple[int, Path]]:
    if not outdir.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in outdir.iterdir() if p.is_dir() and (m := _NUMBERED.match(p.name)))


def describe(cfg: TrainConfig) -> str:
    """Folder name suffix: preset, batch, data folder name and the user's --desc."""
    parts = [f"infoswap{cfg.preset}", f"b{cfg.batch}", Path(cfg.data).name or "data"]
    if cfg.desc:
        parts.append(cfg.desc)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))


def _holds_run(folder: Path) -> bool:
    return folder.is_dir() and ((folder / CONFIG).exists() or any(folder.glob("checkpoint-*.json")))


def _resumed_config(cfg: TrainConfig, run_dir: Path, explicit: set[str]) -> TrainConfig:
    try:
        saved = TrainConfig.from_dict(json.loads((run_dir / CONFIG).read_text(encoding="utf-8")),
                                      source=str(run_dir / CONFIG))
    except (OSError, ValueError) as e:
        raise InfoswapError(f"--resume: {run_dir / CONFIG} cannot be read ({e})") from None
    if "preset" in explicit and cfg.preset != saved.preset:
        raise InfoswapError(f"--preset {cfg.preset}: run folder {run_dir} was trained at preset {saved.preset}; "
                            f"resume it with --preset {saved.preset}, or start a new run without --resume")
    changed = sorted(k for k in explicit - RESUMABLE if getattr(cfg, k) != getattr(saved, k))
    if changed:
        k = changed[0]
        raise InfoswapError(f"{TrainConfig.flag(k)} {getattr(cfg, k)!r}: run folder {run_dir} was started with "
                            f"{getattr(saved, k)!r}, and a resumed run keeps its settings (it may change only "
                            f"{', '.join(TrainConfig.flag(n) for n in sorted(RESUMABLE))})")
    return replace(saved, **{**{k: getattr(cfg, k) for k in explicit & RESUMABLE}, "run_dir": str(run_dir)})


def plan_run(cfg: TrainConfig, resume: bool, explicit: set[str]) -> RunPlan:
    """Decides the run folder and the starting checkpoint without writing anything."""
    outdir = Path(cfg.outdir)
    if resume:
        if cfg.run_dir:
            run_dir = Path(cfg.run_dir)
        else:
            runs = _numbered(outdir)
            if not runs:
                raise InfoswapError(f"--resume: no run folder in {outdir} to resume; name one with --run-dir")
            run_dir = runs[-1][1]
        if not (run_dir / CONFIG).is_file():
            raise InfoswapError(f"--run-dir {run_dir}: not a run folder (no {CONFIG}); nothing to resume")
        resumed = _resumed_config(cfg, run_dir, explicit)
        return RunPlan(resumed, run_dir, latest_complete(run_dir), True)
    if cfg.run_dir:
        run_dir = Path(cfg.run_dir)
        if _holds_run(run_dir):
            raise InfoswapError(f"--run-dir {run_dir}: already holds a run; add --resume to continue it, or "
                                "choose another folder")
    else:
        runs = _numbered(outdir)
        run_dir = outdir / f"{(runs[-1][0] + 1) if runs else 0:05d}-{describe(cfg)}"
    return RunPlan(replace(cfg, run_dir=str(run_dir)), run_dir, None, False)


def write_config(plan: RunPlan) -> None:
    """Creates the folder (new runs) and writes the effective config.json."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan.run_dir / CONFIG, json.dumps(asdict(plan.cfg), indent=2) + "\n")

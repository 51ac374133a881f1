"""Training a detector on one split of a set: binary cross-entropy on the fake logit, AdamW, atomic checkpoints.

The run folder is the detector: rerunning the same command continues from its newest complete checkpoint
(weights, optimiser, step) to `steps` total, and because batches are a function of the step
(`infoswap.forensics.data`) the result equals an uninterrupted run's, bit for bit. Settings given on a
resume must match the saved ones, and so must the manifest (by sha256): a run is one experiment.
`init` starts from another detector's weights instead of a fresh initialisation (`forensics finetune`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from infoswap.errors import InfoswapError
from infoswap.forensics.data import StepBatches
from infoswap.forensics.detector import DetectorConfig, ForgeryDetector
from infoswap.forensics.manifest import LabelledSet
from infoswap.forensics.snapshot import KIND, LoadedDetector, load_detector, save_detector
from infoswap.train import checkpoint as ckpt


@dataclass
class TrainSettings:
    steps: int = 300  # total steps of the run; a resumed run continues up to this
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0


FIXED = ("batch", "lr", "weight_decay", "seed")  # settings a resume must keep


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _merge(saved: dict, given: dict, where: str) -> dict:
    """`saved` with the given (non-None) values, which must equal the saved ones."""
    for key, value in given.items():
        if value is not None and saved[key] != value:
            raise InfoswapError(f"{_flag(key)} {value}: {where} was made with {saved[key]}; "
                                "keep it or choose another --out")
    return saved


def _fresh(given: dict, defaults: dict) -> dict:
    return {**defaults, **{k: v for k, v in given.items() if v is not None}}


@dataclass
class TrainResult:
    detector: LoadedDetector
    start: int  # the step the run began at (0, or where it resumed)
    loss: float | None  # mean loss of the last steps, None if no step ran


@dataclass
class _Plan:
    cfg: DetectorConfig
    run: TrainSettings
    resumed: tuple[dict, dict] | None  # (weights, training state) of the checkpoint resumed from


def _plan(run_dir: Path, arch: dict, settings: dict, init: LoadedDetector | None, origin: dict) -> _Plan:
    """What to train: the saved run in `run_dir` with the given values checked against it, else a new one.

    `origin` (manifest and starting detector by sha256, split) must equal what a resumed run recorded.
    """
    found = ckpt.latest_complete(run_dir)
    if found is None:
        base = asdict(init.model.cfg) if init is not None else asdict(DetectorConfig())
        cfg = DetectorConfig(**(_merge(base, arch, f"--detector {init.path}") if init is not None
                                else _fresh(arch, base)))
        if cfg.problem():
            raise InfoswapError(f"detector size: {cfg.problem()}")
        return _Plan(cfg, TrainSettings(**_fresh(settings, asdict(TrainSettings()))), None)
    groups, config, meta = ckpt.read_network_snapshot(found.network)
    if meta.get("kind") != KIND:
        raise InfoswapError(f"--out {run_dir}: holds checkpoints that are not a forgery detector's")
    state = ckpt.read_training_state(found.state)
    where = f"the detector in {run_dir}"
    for key, what in (("manifest_sha256", f"another manifest than {origin.get('manifest')}"),
                      ("init_sha256", "another starting detector"), ("split", "another split")):
        if state[key] != origin[key]:
            raise InfoswapError(f"{where} was trained on {what}; use the same or choose another --out")
    cfg = DetectorConfig(**_merge(config, arch, where))
    run = TrainSettings(**_merge(state["settings"], {k: settings.get(k) for k in FIXED}, where))
    run.steps = settings.get("steps") or run.steps
    return _Plan(cfg, run, (groups["detector"], state))


def train_detector(data: LabelledSet, split: str, run_dir: Path, *, arch: dict | None = None,
                   settings: dict | None = None, init: LoadedDetector | None = None, snapshot_every: int = 100,
                   keep: int = 2, device: str = "cpu", progress: bool = True,
                   log: Callable[[str], None] = print) -> TrainResult:
    """Trains (or resumes) the detector in `run_dir` on `data`'s `split`; `arch` and `settings` hold the
    DetectorConfig / TrainSettings fields the user gave (None: the saved or default value)."""
    rows = data.usable(split)
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise InfoswapError(f"--out {run_dir}: exists and is not a folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt.remove_stale_temps(run_dir)
    origin = {"manifest_sha256": ckpt.sha256_file(data.csv), "split": split,
              "init_sha256": ckpt.sha256_file(init.path) if init is not None else ""}
    plan = _plan(run_dir, arch or {}, settings or {}, init, {**origin, "manifest": data.csv})
    cfg, run = plan.cfg, plan.run

    torch.manual_seed(run.seed)
    model = ForgeryDetector(cfg)
    if init is not None:
        model.load_state_dict(init.model.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    start = 0
    if plan.resumed is not None:
        weights, state = plan.resumed
        model.load_state_dict(weights)
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
        log(f"resumed {run_dir} at step {start}")
    model.to(device).train()

    batches = StepBatches([data.file(r) for r in rows], [r.is_fake for r in rows], cfg.size, run.batch, run.seed)
    meta = {"manifest": str(data.csv), "split": split, "init": str(init.path) if init is not None else ""}

    def save(step: int) -> None:
        state = {"step": step, "optimizer": opt.state_dict(), "settings": asdict(run), **origin}
        save_detector(run_dir, step, model, state, meta, keep)

    losses: deque[float] = deque(maxlen=20)
    step = start
    bar = tqdm(total=run.steps, initial=min(start, run.steps), desc="train detector", unit="step",
               disable=not progress, dynamic_ncols=True)
    try:
        while step < run.steps:
            faces, labels = batches(step)
            loss = F.binary_cross_entropy_with_logits(model(faces.to(device)), labels.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses) / len(losses):.4f}")
            if step % snapshot_every == 0 or step == run.steps:
                save(step)
    finally:
        bar.close()
    if start >= run.steps:
        log(f"{run_dir} is already at step {start} (--steps {run.steps}): nothing to train")
    return TrainResult(load_detector(run_dir, device), start, sum(losses) / len(losses) if losses else None)

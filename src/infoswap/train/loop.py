"""`infoswap train` end to end: checks, run folder, calibration, the step loop, logs, samples, checkpoints.

Every setting is checked (config, data folder, statistics, run folder) before anything is written. The
run stops at `max_steps` total steps, or at SIGTERM / SIGINT after the step in flight, and always ends
with a complete checkpoint. Only rank 0 writes.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from infoswap.config import ModelConfig, TrainConfig
from infoswap.errors import InfoswapError
from infoswap.recognition.registry import load_recognizer
from infoswap.train import checkpoint as ckpt
from infoswap.train.calibrate import TapStatistics, calibrate_folder, load_statistics, save_statistics
from infoswap.train.data import FaceIndex, PairDataset, index_faces, pair_loader
from infoswap.train.distributed import (Process, any_rank, close_process, gather_to_main, init_process,
                                       share_from_main)
from infoswap.train.logs import RunLog, truncate_stats
from infoswap.train.run_folder import RunPlan, plan_run, write_config
from infoswap.train.samples import grid_faces, sample_grid, save_png
from infoswap.train.trainer import Precision, Trainer

RUN_STATS = "stats.safetensors"


class StopSignal:
    """Remembers SIGTERM / SIGINT so the loop can finish the step, checkpoint and exit cleanly."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous = {s: signal.signal(s, self._catch) for s in (signal.SIGTERM, signal.SIGINT)}

    def _catch(self, signum: int, frame: object) -> None:
        if self.signum is not None:  # asked twice: stop now, without the checkpoint
            self.restore()
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def _barrier(process: Process) -> None:
    if process.world > 1:
        dist.barrier()


def _statistics(plan: RunPlan, index: FaceIndex, recognizer, process: Process, log: RunLog) -> TapStatistics:
    """The --stats file, else the run folder's own, else a calibration on the data saved into the run."""
    cfg = plan.cfg
    name = cfg.model_config().recognizer
    if cfg.stats:
        return load_statistics(Path(cfg.stats), name, cfg.preset)
    own = plan.run_dir / RUN_STATS
    if not own.is_file():
        if process.is_main:
            num = min(cfg.calibrate_num, len(index))
            log.print(f"no --stats given: calibrating the recogniser's taps on {num} faces into {own}")
            stats = calibrate_folder(Path(cfg.data), recognizer, name, cfg.preset, num, device=process.device,
                                     progress=True, seed=cfg.seed)
            save_statistics(own, stats)
        _barrier(process)
    return load_statistics(own, name, cfg.preset)


def _save(trainer: Trainer, plan: RunPlan, step: int, stats: TapStatistics, process: Process) -> None:
    cfg = plan.cfg
    rng = gather_to_main(trainer.rng_state(), process)
    if process.is_main:
        groups = trainer.network_groups()
        groups["stats"] = {f"{k}.{i}": t for k, ts in (("mean", stats.mean), ("std", stats.std),
                                                       ("active", stats.active)) for i, t in enumerate(ts)}
        meta = {"train_config": json.dumps(asdict(cfg)), "step": str(step), "recognizer": stats.recognizer,
                "stats_count": str(stats.count)}
        state = trainer.training_state(step, step * cfg.batch, rng)
        ckpt.save_checkpoint(plan.run_dir, step, groups, asdict(cfg.model_config()), state, meta, keep=cfg.keep)
    _barrier(process)


def _resume(trainer: Trainer, plan: RunPlan, log: RunLog) -> tuple[int, int]:
    """(step, data stream position) to continue from."""
    found = plan.checkpoint
    if found is None:
        if plan.resumed:
            log.print(f"--resume: {plan.run_dir} has no complete checkpoint yet; starting at step 0")
        if plan.cfg.init_from:
            _initialise_from(trainer, Path(plan.cfg.init_from))
            log.print(f"generator initialised from {plan.cfg.init_from}")
        return 0, 0
    groups, model_config, _ = ckpt.read_network_snapshot(found.network)
    if ModelConfig.from_dict(model_config) != plan.cfg.model_config():  # fields added since take their defaults
        raise InfoswapError(f"--resume: {found.network} was made by another model configuration")
    state = ckpt.read_training_state(found.state)
    for note in trainer.load(groups, state):
        log.print(f"note: {note}")
    log.print(f"resumed from {found.network.name} at step {found.step}")
    return int(state["step"]), int(state["position"])


def _initialise_from(trainer: Trainer, path: Path) -> None:
    """--init-from: the snapshot's generator (and EMA) weights (`check` made sure the shapes match)."""
    groups, _, _ = ckpt.read_network_snapshot(path)
    for module, group in ((trainer.model, "model"), (trainer.ema, "ema")):
        if module is not None:
            own = module.state_dict()  # keeps buffers the snapshot lacks (a centred AII's running mean)
            own.update({k: v for k, v in groups.get(group, groups["model"]).items() if k in own})
            module.load_state_dict(own)


def _mean(records: list[dict[str, float]], process: Process) -> dict[str, float]:
    """Per-key mean over steps, then over ranks (every rank calls this at the same steps)."""
    keys = sorted(records[0])
    values = torch.tensor([[r[k] for k in keys] for r in records], dtype=torch.float64).mean(0)
    if process.world > 1:
        values = values.to(process.device)
        dist.all_reduce(values)
        values = values.cpu() / process.world
    return dict(zip(keys, values.tolist()))


def check(cfg: TrainConfig, resume: bool, explicit: set[str]) -> tuple[RunPlan, FaceIndex]:
    """All refusals, without writing anything: settings, run folder, data folder, statistics."""
    cfg.validate()
    plan = plan_run(cfg, resume, explicit)
    plan.cfg.validate()
    index = index_faces(plan.cfg.data)
    if plan.cfg.stats:
        load_statistics(Path(plan.cfg.stats), plan.cfg.model_config().recognizer, plan.cfg.preset)
    if plan.cfg.init_from and plan.checkpoint is None:  # a resumed run has its own weights
        _check_init_from(Path(plan.cfg.init_from), plan.cfg.model_config())
    return plan, index


def _check_init_from(path: Path, model_cfg: ModelConfig) -> None:
    """Refuses a missing snapshot, or one whose networks have another shape than this run's."""
    if not path.is_file():
        raise InfoswapError(f"--init-from {path}: no such file")
    theirs = ModelConfig.from_dict(ckpt.read_network_config(path)).architecture()
    for key, value in model_cfg.architecture().items():
        if theirs[key] != value:
            raise InfoswapError(f"--init-from {path}: made with {key} = {theirs[key]}, this run has {value}")


def train(cfg: TrainConfig, resume: bool = False, explicit: set[str] = frozenset(), progress: bool = True) -> int:
    """Runs (or resumes) training; returns the exit status (0, or 128 + signal number when stopped)."""
    plan, index = check(cfg, resume, explicit)
    process = init_process(plan.cfg.device)
    try:
        plan = share_from_main(plan, process)  # one run folder, even if another run started meanwhile
        cfg = plan.cfg
        if cfg.batch % process.world:
            raise InfoswapError(f"--batch {cfg.batch}: must be a multiple of the {process.world} processes")
        precision = Precision.resolve(cfg.precision, process.device)
        start = plan.checkpoint.step if plan.checkpoint else 0
        if process.is_main:
            write_config(plan)
            ckpt.remove_stale_temps(plan.run_dir)
            truncate_stats(plan.run_dir, start)
        _barrier(process)
        log = RunLog(plan.run_dir, process.is_main, cfg.tensorboard, start)
        try:
            return _run(plan, index, process, precision, log, progress)
        finally:
            log.close()
    finally:
        close_process()


def _write_samples(trainer: Trainer, plan: RunPlan, grid: tuple[torch.Tensor, torch.Tensor], step: int,
                   log: RunLog) -> None:
    model = trainer.ema if trainer.ema is not None else trainer.model
    pixels = sample_grid(model, *grid, seed=plan.cfg.seed)
    (plan.run_dir / "samples").mkdir(exist_ok=True)
    save_png(plan.run_dir / "samples" / f"grid-{step:08d}.png", pixels)
    log.image(step, "samples", pixels)


def _run(plan: RunPlan, index: FaceIndex, process: Process, precision: Precision, log: RunLog,
         progress: bool) -> int:
    cfg = plan.cfg
    model_cfg = cfg.model_config()
    log.print(f"run folder {plan.run_dir} · {process.world} process(es) on {process.device} · "
              f"precision {precision.dtype or 'fp32'} · {len(index)} faces in {cfg.data}")
    if index.skipped:
        shown = "; ".join(f"{p.name}: {why}" for p, why in index.skipped[:5])
        log.print(f"skipped {len(index.skipped)} damaged or unusable file(s): {shown}"
                  + (" …" if len(index.skipped) > 5 else ""))
    for note in log.notes:
        log.print(f"note: {note}")
    recognizer = load_recognizer(model_cfg.recognizer)
    stats = _statistics(plan, index, recognizer, process, log)
    trainer = Trainer(model_cfg, cfg, recognizer, stats, process, precision)
    step, position = _resume(trainer, plan, log)
    per_rank = cfg.batch // process.world
    dataset = PairDataset(index, cfg.preset, cfg.seed)
    batches = iter(pair_loader(dataset, per_rank, process.rank, process.world, position, cfg.workers))
    grid = grid_faces(index, cfg.grid, cfg.preset, cfg.seed) if process.is_main else None
    stop = StopSignal()
    saved, records = step, []
    bar = tqdm(total=cfg.max_steps, initial=step, desc="train", unit="step",
               disable=not (progress and process.is_main), dynamic_ncols=True)
    try:
        while step < cfg.max_steps and not any_rank(stop.signum is not None, process):
            waited = time.perf_counter()
            x_s, x_t = next(batches)
            waited = time.perf_counter() - waited
            records.append({**trainer.step(x_s.to(process.device), x_t.to(process.device)), "time/data": waited})
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                values = _mean(records, process)
                values["images_per_s"] = cfg.batch / (values["time/step"] + values["time/data"])  # swaps made
                log.stats(step, values)
                bar.set_postfix(total=f"{values['loss/total']:.3f}", per=f"{values['loss/per']:.3f}")
                records = []
            if process.is_main and step % cfg.sample_every == 0:
                _write_samples(trainer, plan, grid, step, log)
            if step % cfg.snapshot_every == 0:
                _save(trainer, plan, step, stats, process)
                saved = step
    finally:
        bar.close()
        stop.restore()
    if saved != step or (plan.checkpoint is None and step == 0):  # a run always ends on a checkpoint
        _save(trainer, plan, step, stats, process)
    if stop.signum is not None:
        log.print(f"stopped by {signal.Signals(stop.signum).name} at step {step}; checkpoint written, resume "
                  f"with --resume --run-dir {plan.run_dir}")
        return 128 + stop.signum
    log.print(f"done: step {step} of {cfg.max_steps}; checkpoint in {plan.run_dir}")
    return 0

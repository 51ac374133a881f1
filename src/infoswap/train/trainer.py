"""One training step of App. Alg. 1 and everything it owns: networks, optimisers, noise, AMP, EMA.

The step updates IIB + decoder + AII (Θg) on L_G_total, then D on L_D (App. Alg. 1 lines 43–50). Under
DDP every rank averages gradients before each optimiser step, so ranks stay identical.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch
from torch import nn

from infoswap.config import ModelConfig, TrainConfig
from infoswap.errors import InfoswapError
from infoswap.model.discriminator import Discriminator
from infoswap.model.infoswap import InfoSwap
from infoswap.recognition.base import Recognizer
from infoswap.recognition.registry import load_identity_judge
from infoswap.train.calibrate import TapStatistics
from infoswap.train.distributed import Process, average_gradients, broadcast_module
from infoswap.train.ema import update_ema
from infoswap.train.losses import discriminator_loss, generator_losses
from infoswap.train.rng import capture_rng, restore_rng, seed_everything

DEAD_SHARE = 0.01  # an element non-zero on at most 1% of faces is a dead unit (SPEC section 4)


def install_statistics(model: InfoSwap, stats: TapStatistics) -> None:
    model.iib.set_statistics(stats.mean, stats.std, [a > DEAD_SHARE for a in stats.active])
    if model.cfg.identity_centre:
        if stats.identity_mean is None:
            raise InfoswapError("identity_centre needs the mean embedding, which these tap statistics lack "
                                "(made by an older infoswap): recalibrate with `infoswap calibrate`")
        model.embedding_mean.copy_(stats.identity_mean)


class LambdaProbe:
    """Mean λ_i per tap of the step's data batch (x_s ‖ x_t): the first call of each IIB readout."""

    def __init__(self, model: InfoSwap):
        self.means: list[float | None] = [None] * len(model.iib.readouts)
        for i, readout in enumerate(model.iib.readouts):
            readout.register_forward_hook(self._hook(i))

    def _hook(self, i: int):
        def record(module: nn.Module, args: tuple, logits: torch.Tensor) -> None:
            if self.means[i] is None:
                self.means[i] = float(torch.sigmoid(logits.detach().float()).mean())
        return record

    def reset(self) -> None:
        self.means = [None] * len(self.means)

    def take(self) -> dict[str, float]:
        out = {f"lambda/{i}": m for i, m in enumerate(self.means) if m is not None}
        self.reset()
        return out


@dataclass(frozen=True)
class Precision:
    """bf16 autocast on GPU; fp16 adds a GradScaler; fp32 everywhere else."""

    dtype: torch.dtype | None

    @staticmethod
    def resolve(name: str, device: torch.device) -> Precision:
        if name == "auto":
            name = "bf16" if device.type == "cuda" else "fp32"
        if name != "fp32" and device.type != "cuda":
            raise InfoswapError(f"--precision {name}: mixed precision is for GPU runs; this run is on CPU (use fp32)")
        return Precision({"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name])

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


class Trainer:
    """Networks, optimisers and random streams of one process; `step` runs Algorithm 1 once."""

    def __init__(self, model_cfg: ModelConfig, cfg: TrainConfig, recognizer: Recognizer, stats: TapStatistics,
                 process: Process, precision: Precision):
        self.cfg, self.process, self.precision = cfg, process, precision
        device = process.device
        torch.manual_seed(cfg.seed)  # identical initialisation on every rank (App. Alg. 1: normal init)
        self.model = InfoSwap(model_cfg, recognizer.to(device))
        install_statistics(self.model, stats)
        self.model.to(device)
        self.D = Discriminator(model_cfg.disc_channels).to(device)
        broadcast_module(self.model)
        broadcast_module(self.D)
        self.ema = None
        if cfg.ema > 0:
            self.ema = InfoSwap(model_cfg, recognizer).to(device).requires_grad_(False)
            self.ema.load_state_dict(self.model.state_dict())
        adam = dict(betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d or cfg.lr, **adam)
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision.dtype == torch.float16)
        seed_everything(cfg.seed + process.rank)  # from here on, each rank has its own streams
        self.noise = torch.Generator(device=device).manual_seed(cfg.seed + process.rank)
        self.lambdas = LambdaProbe(self.model)
        self.judges = [load_identity_judge(name).to(device) for name in model_cfg.identity_judges]
        if cfg.compile:
            self._compile()

    def _compile(self) -> None:
        """Compiles the recogniser, IIB readouts and decoder passes (AII and D run through
        `functional_call` with frozen parameters, which compiled bound methods would not see)."""
        rec, model = self.model.recognizer, self.model
        rec.features = torch.compile(rec.features)
        rec.continue_all = torch.compile(rec.continue_all)
        model.iib.controllers = torch.compile(model.iib.controllers)
        model.decoder.attributes = torch.compile(model.decoder.attributes)
        model.decoder.controllers = torch.compile(model.decoder.controllers)

    def _backward(self, loss: torch.Tensor, module: nn.Module) -> None:
        self.scaler.scale(loss).backward()
        average_gradients(module.parameters(), self.process.world)

    def compute_gradients(
        self, x_s: torch.Tensor, x_t: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Both backward passes of one step, gradients averaged over ranks, no update: (G terms, D terms).

        D's gradient does not depend on Θg (Y is detached), so taking it before Θg's update is the same
        as App. Alg. 1's order (update Θg, then compute and apply ∇Θd). D's terms: "D" (L_D) and, with
        r1_gamma > 0, "R1" (the penalty before its weight γ/2; D's loss is L_D + γ/2·R1).
        """
        device = self.process.device
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        with self.precision.autocast(device):
            terms = generator_losses(self.model, self.D, x_s, x_t, self.noise, self.judges)
        self._backward(terms["total"], self.model)
        with self.precision.autocast(device):
            d_terms = discriminator_loss(self.D, x_s, terms["Y"], r1=self.cfg.r1_gamma > 0)
            loss_d = d_terms["D"] + self.cfg.r1_gamma / 2 * d_terms.get("R1", 0.0)
        self._backward(loss_d, self.D)
        return terms, d_terms

    def step(self, x_s: torch.Tensor, x_t: torch.Tensor) -> dict[str, float]:
        """One G step then one D step on this rank's pairs (b, 3, R, R); returns scalars by name."""
        start = time.perf_counter()
        self.lambdas.reset()  # forget readout calls made outside steps (sample grids)
        terms, d_terms = self.compute_gradients(x_s, x_t)
        self.scaler.step(self.opt_g)
        self.scaler.step(self.opt_d)
        self.scaler.update()
        if self.ema is not None:
            update_ema(self.ema, self.model, self.cfg.ema)
        out = {f"loss/{k}": float(v.detach()) for k, v in (terms | d_terms).items() if k != "Y"}
        out.update(self.lambdas.take())
        out["time/step"] = time.perf_counter() - start
        return out

    # --- state for checkpoints ---------------------------------------------------------------------

    def network_groups(self) -> dict[str, dict[str, torch.Tensor]]:
        groups = {"model": self.model.state_dict()}
        if self.ema is not None:
            groups["ema"] = self.ema.state_dict()
        return groups

    def rng_state(self) -> dict:
        return capture_rng({"noise": self.noise})

    def training_state(self, step: int, position: int, rng_per_rank: list[dict]) -> dict:
        return {"step": step, "position": position, "world": self.process.world, "D": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "scaler": self.scaler.state_dict(), "rng": rng_per_rank}

    def load(self, groups: dict[str, dict[str, torch.Tensor]], state: dict) -> list[str]:
        """Restores everything a checkpoint holds; returns notes (e.g. a changed world size)."""
        notes = []
        self.model.load_state_dict(groups["model"])
        if self.ema is not None:
            if "ema" in groups:
                self.ema.load_state_dict(groups["ema"])
            else:
                self.ema.load_state_dict(self.model.state_dict())
                notes.append("the checkpoint has no EMA generator: the EMA starts from the current weights")
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        if state["world"] == self.process.world:
            restore_rng(state["rng"][self.process.rank], {"noise": self.noise})
        else:
            self.noise.manual_seed(self.cfg.seed + self.process.rank + 1_000_003 * state["step"])
            notes.append(f"the run was saved with {state['world']} process(es), resumed with {self.process.world}: "
                         "random streams are re-seeded, so this resume is not bit-exact")
        return notes

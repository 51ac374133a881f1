"""Model hyper-parameters as a dataclass, and the 128/256/512/1024 presets (SPEC sections 4–7).

`asdict(cfg)` goes into every checkpoint, so a weights file rebuilds its own model: `ModelConfig(**d)`
(or `ModelConfig.from_dict(d)`, which names unknown keys) round-trips it. Training settings live in a
separate dataclass beside this one.

Generator levels: one per doubling from 4 px, so resolution 2^k has k − 1 levels (512: 4 … 512, 8 levels).

Width choice. 512 and 1024 use the official release's widths: AII outputs 1024, 1024, 1024, 512, 256, 128,
64, (64,) 3 and decoded features of 1024 … 64 channels (the official 2048 at 8 px, a concatenation of two
1024 maps, becomes one 1024 map here), IIB readouts 768 wide. 256 and 128 exist for CPU training, tests and
demos: a quarter of the official width at the coarse levels (256 channels), halving per level from 16 px
down to 32; IIB readouts 256 / 128 wide (bench/model.py has the parameter counts and timings). 512 and 1024
also take the official decoder's shortcuts (`light_decoder`): no convs at full resolution, λ̃ from the
laterals alone.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields

from infoswap.errors import InfoswapError

PRESETS = (128, 256, 512, 1024)


# ModelConfig fields a run may change when it starts from another run's weights (TrainConfig.init_from):
# the loss settings, and identity_input (its running mean starts afresh; no weight changes shape).
INIT_FREE_FIELDS = ("icl_neg_against", "per_detach_target", "alpha", "beta", "beta1", "beta2", "beta3",
                    "identity_centre", "beta_id", "identity_input", "identity_judges")


@dataclass
class ModelConfig:
    """Everything that shapes the InfoSwap networks and weighs their losses."""

    resolution: int
    # AII output width per level, 4 px first; the last is 3 (RGB, tanh).
    channels: tuple[int, ...]
    # Width of the decoded maps f̃_j and λ̃_j per level, 4 px first.
    decoder_channels: tuple[int, ...]
    # Discriminator width per level, full resolution first, down to 4 px.
    disc_channels: tuple[int, ...]
    recognizer: str = "dlib"
    # Hidden width of the IIB's 1×1 readouts (official 768).
    iib_hidden: int = 768
    # Official-release shortcuts where full resolution makes the decoder's convs dear (512, 1024): the finest
    # level is the one below enlarged, λ̃ skips the expanding path (model/decoder.py).
    light_decoder: bool = False
    # Gaussian smoothing of λ (App. 1.2: kernel 1, σ 0.25; kernel 1 is the identity).
    smooth_kernel: int = 1
    smooth_sigma: float = 0.25
    # Which embedding L_neg compares the swap with (SPEC section 5): "target" (ours) or "source" (as printed).
    icl_neg_against: str = "target"
    # L_per's target side f̃^t: True stops its gradient [ours], False keeps it as printed (App. Alg. 1 line 36).
    # With both sides trainable the decoder drives L_per to ≈ 0 itself while Y barely nears the target
    # (measured, L_per alone, 35 steps: L_per ÷ 120 and |Y − x_t| ÷ 1.6; stopped: ÷ 13 and ÷ 3.7).
    per_detach_target: bool = True
    # L_IB = α L_info + β (L_recog + L_icl); L_G = L_IB + β1 L_adv + β2 L_per + β3 L_cyc (App. 1.1).
    alpha: float = 1.0
    beta: float = 5.0
    beta1: float = 1.0
    beta2: float = 5.0
    beta3: float = 1.0
    # [ours] Identity cosines (L_recog, L_icl, L_id) taken after subtracting the calibrated mean embedding.
    # dlib's embeddings of different people sit in a narrow cone (cosine ≈ 0.83), so uncentred the ICL is
    # satisfied (L_pos ≈ −0.99) by a swap that keeps the target's identity (docs/training.md).
    identity_centre: bool = False
    # [ours] What the AII's identity path sees: "raw" z̃_sid (as released) or "centred", normalise(z̃ − its
    # running mean over training faces), so that who the source is is not a small part of a common vector.
    identity_input: str = "raw"
    # [ours] Weight of L_id = 1 − cos(f(Y), f(x_s)), FaceShifter's identity loss on the whole recogniser;
    # 0 (default) is App. Alg. 1 as printed.
    beta_id: float = 0.0
    # [ours] More recognisers L_id asks (recognition.registry.IDENTITY_JUDGES, e.g. "mobileface"): L_id becomes
    # the mean of 1 − cos(g(Y), g(x_s)) over f and each judge g, so that a swap cannot satisfy it with texture
    # one recogniser alone reads as identity (docs/training.md, session 4).
    identity_judges: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("channels", "decoder_channels", "disc_channels"):
            setattr(self, name, tuple(int(c) for c in getattr(self, name)))
        self.identity_judges = tuple(self.identity_judges)
        self.validate()

    @property
    def levels(self) -> int:
        """Generator levels: 4, 8, …, resolution px."""
        return int(math.log2(self.resolution)) - 1

    @property
    def level_sizes(self) -> tuple[int, ...]:
        return tuple(4 << j for j in range(self.levels))

    def validate(self) -> None:
        """Raises InfoswapError naming the first inconsistent field."""
        res = self.resolution
        if res < 8 or res & (res - 1):
            raise InfoswapError(f"ModelConfig.resolution must be a power of two ≥ 8, got {res}")
        for name in ("channels", "decoder_channels", "disc_channels"):
            widths = getattr(self, name)
            if len(widths) != self.levels or min(widths) < 1:
                raise InfoswapError(
                    f"ModelConfig.{name} needs {self.levels} positive widths for resolution {res}, got {widths}"
                )
        if self.channels[-1] != 3:
            raise InfoswapError(f"ModelConfig.channels must end with 3 (RGB), got {self.channels}")
        if self.smooth_kernel < 1 or self.smooth_kernel % 2 == 0:
            raise InfoswapError(f"ModelConfig.smooth_kernel must be odd and ≥ 1, got {self.smooth_kernel}")
        if self.smooth_sigma <= 0:
            raise InfoswapError(f"ModelConfig.smooth_sigma must be > 0, got {self.smooth_sigma}")
        if self.icl_neg_against not in ("target", "source"):
            raise InfoswapError(
                f"ModelConfig.icl_neg_against must be 'target' or 'source', got {self.icl_neg_against!r}"
            )
        if self.identity_input not in ("raw", "centred"):
            raise InfoswapError(f"ModelConfig.identity_input must be 'raw' or 'centred', got {self.identity_input!r}")
        if self.beta_id < 0:
            raise InfoswapError(f"ModelConfig.beta_id must be ≥ 0, got {self.beta_id}")
        self._validate_judges()
        if self.light_decoder and self.decoder_channels[-1] != self.decoder_channels[-2]:
            raise InfoswapError(f"ModelConfig.light_decoder enlarges the level below the finest, so the last two "
                                f"decoder_channels must be equal, got {self.decoder_channels}")
        if self.iib_hidden < 1:
            raise InfoswapError(f"ModelConfig.iib_hidden must be ≥ 1, got {self.iib_hidden}")

    def _validate_judges(self) -> None:
        from infoswap.recognition.registry import IDENTITY_JUDGES

        unknown = [name for name in self.identity_judges if name not in IDENTITY_JUDGES]
        if unknown:
            raise InfoswapError(f"ModelConfig.identity_judges: unknown judge {unknown[0]!r}; "
                                f"choose from {sorted(IDENTITY_JUDGES)}")
        if len(set(self.identity_judges)) < len(self.identity_judges):
            raise InfoswapError(f"ModelConfig.identity_judges names a judge twice: {list(self.identity_judges)}")
        if self.identity_judges and self.beta_id == 0:
            raise InfoswapError("ModelConfig.identity_judges add terms to L_id, which beta_id 0 leaves out: "
                                "set beta_id > 0")

    def architecture(self) -> dict:
        """The fields whose change would make weights files unusable (all but INIT_FREE_FIELDS)."""
        return {k: v for k, v in asdict(self).items() if k not in INIT_FREE_FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Rebuilds a config from `asdict` output (e.g. a checkpoint's metadata); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InfoswapError(
                f"unknown ModelConfig field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        missing = sorted(f.name for f in fields(cls) if f.name not in d and f.default is MISSING)
        if missing:
            raise InfoswapError(f"ModelConfig is missing field(s) {', '.join(missing)}")
        return cls(**d)


def _halving(coarse: int, levels: int, full_from: int, floor: int) -> list[int]:
    """`coarse` channels for the first `full_from` levels, then halving per level, never below `floor`."""
    return [max(coarse >> max(j - full_from + 1, 0), floor) for j in range(levels)]


def preset(resolution: int) -> ModelConfig:
    """The preset for 128, 256, 512 (paper) or 1024 (App. Fig. 5) px; see the module docstring."""
    if resolution not in PRESETS:
        raise InfoswapError(f"no preset for resolution {resolution}; choose one of {', '.join(map(str, PRESETS))}")
    levels = int(math.log2(resolution)) - 1
    if resolution >= 512:
        # Official: 1024 at 4, 8, 16 px, then halving down to 64 channels; the last level outputs RGB.
        decoder = _halving(1024, levels, full_from=3, floor=64)
        hidden = 768
    else:
        decoder = _halving(256, levels, full_from=2, floor=32)
        hidden = 256 if resolution == 256 else 128
    channels = decoder[:-1] + [3]
    disc = [min(32 << j, 512 if resolution >= 512 else 256) for j in range(levels)]
    if resolution == 1024:
        disc = [16] + disc[:-1]
    return ModelConfig(resolution, tuple(channels), tuple(decoder), tuple(disc), iib_hidden=hidden,
                       light_decoder=resolution >= 512)


# TrainConfig field annotation -> accepted Python types (JSON gives lists for tuples, ints for floats).
_FIELD_TYPES = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float), "dict": (dict,),
                "str | None": (str, type(None)), "float | None": (int, float, type(None)),
                "tuple[float, float]": (tuple,)}


@dataclass
class TrainConfig:
    """Training settings (SPEC section 7; App. Table 1). Each field is the `infoswap train` flag of the same
    name (`max_steps` ↔ `--max-steps`); a `--config` JSON file holds the same keys."""

    data: str = ""
    preset: int = 128
    # Overrides of the preset's ModelConfig fields, e.g. {"iib_hidden": 64} (config file only).
    model: dict = field(default_factory=dict)
    outdir: str = "runs"  # new runs go to <outdir>/<number>-<desc>/
    run_dir: str | None = None  # an exact run folder instead (required to resume a given run)
    desc: str = ""
    max_steps: int = 360_000  # total steps: 15 epochs × 96 000 images / batch 4 (Table 1)
    batch: int = 4  # global batch, split evenly over DDP processes
    lr: float = 5e-5
    lr_d: float | None = None  # None: same as lr
    # [ours, not in the paper] R1 penalty γ/2·E‖∇x D(x_s)‖² on real faces (Mescheder et al. 2018), which keeps
    # D from rewarding texture that an identity loss pulls in; 0: off.
    r1_gamma: float = 0.0
    betas: tuple[float, float] = (0.001, 0.999)  # as printed in App. 1.1 (β1 = 0.001)
    weight_decay: float = 2e-5
    seed: int = 0
    snapshot_every: int = 1000
    sample_every: int = 500
    log_every: int = 10
    keep: int = 3  # complete checkpoints kept (0: all)
    ema: float = 0.0  # per-step EMA decay of the generator (e.g. 0.999); 0: no EMA
    workers: int = 2
    stats: str | None = None  # None: calibrate on the data folder into the run folder
    # A network snapshot whose generator weights (model, EMA) a new run starts from; the optimisers, D,
    # step and data stream start fresh. Loss weights may differ from the snapshot's run, shapes may not.
    init_from: str | None = None
    calibrate_num: int = 512
    precision: str = "auto"  # auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16 (with a GradScaler)
    compile: bool = False
    device: str = "auto"  # auto, cpu, cuda
    grid: int = 4  # the sample grid shows grid sources × grid targets
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):  # JSON has no tuples
            self.betas = tuple(self.betas)

    @staticmethod
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    def validate(self) -> None:
        """Raises InfoswapError naming the flag of the first bad setting."""
        def bad(name: str, why: str) -> InfoswapError:
            return InfoswapError(f"{self.flag(name)} {getattr(self, name)!r}: {why}")

        for f in fields(self):
            value = getattr(self, f.name)
            allowed = _FIELD_TYPES[f.type]
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise bad(f.name, f"must be of type {f.type}")
        if self.preset not in PRESETS:
            raise bad("preset", f"choose one of {', '.join(map(str, PRESETS))}")
        if not self.data:
            raise InfoswapError("--data is required: a folder of aligned faces made by `infoswap align`")
        for name in ("max_steps", "batch", "snapshot_every", "sample_every", "log_every", "grid", "calibrate_num"):
            if getattr(self, name) < 1:
                raise bad(name, "must be ≥ 1")
        for name in ("keep", "workers", "seed"):
            if getattr(self, name) < 0:
                raise bad(name, "must be ≥ 0")
        for name in ("lr", "lr_d"):
            value = getattr(self, name)
            if value is not None and not (0 < value < 1):
                raise bad(name, "must be in (0, 1)")
        if not 0 <= self.r1_gamma < float("inf"):
            raise bad("r1_gamma", "must be ≥ 0 and finite (0: off)")
        if len(self.betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.betas):
            raise bad("betas", "must be two numbers in [0, 1)")
        if not 0 <= self.weight_decay < 1:
            raise bad("weight_decay", "must be in [0, 1)")
        if not 0 <= self.ema < 1:
            raise bad("ema", "must be in [0, 1) (0 turns the EMA generator off)")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise bad("precision", "choose auto, fp32, bf16 or fp16")
        if self.device not in ("auto", "cpu", "cuda"):
            raise bad("device", "choose auto, cpu or cuda")
        self.model_config()

    def model_config(self) -> ModelConfig:
        """The preset with the `model` overrides applied (unknown fields named)."""
        base = asdict(preset(self.preset))
        unknown = sorted(set(self.model) - set(base))
        if unknown:
            raise InfoswapError(f"--config: unknown model field(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(base))}")
        if "resolution" in self.model and self.model["resolution"] != self.preset:
            raise InfoswapError("--config: set the resolution with \"preset\", not in \"model\"")
        try:
            return ModelConfig.from_dict({**base, **self.model})
        except (TypeError, ValueError) as e:
            raise InfoswapError(f"--config: bad \"model\" setting ({e})") from None

    @classmethod
    def from_dict(cls, d: dict, source: str = "--config") -> TrainConfig:
        """From a JSON object (a `--config` file or a run's config.json); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InfoswapError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

"""`infoswap train`: Algorithm 1 end to end (SPEC section 7); every flag is a TrainConfig field."""

import json
from dataclasses import asdict, fields
from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.errors import InfoswapError

from infoswap.config import TrainConfig  # light (no torch): the defaults shown in --help come from it

_D = TrainConfig()


def _betas(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InfoswapError(f"--betas {text!r}: expected two numbers like 0.001,0.999") from None


@app.command()
def train(
    ctx: typer.Context,
    config: Path = typer.Option(None, "--config", help="JSON file of settings (the keys of a run's config.json); "
                                                       "flags given on the command line override it."),
    preset: int = typer.Option(_D.preset, help="Resolution preset: 128, 256, 512 or 1024."),
    data: str = typer.Option(_D.data, help="Folder of aligned faces made by `infoswap align`."),
    outdir: str = typer.Option(_D.outdir, help="Parent folder of numbered run folders."),
    run_dir: str = typer.Option(None, help="Exact run folder (instead of a new numbered one)."),
    desc: str = typer.Option(_D.desc, help="Extra words for the run folder's name."),
    resume: bool = typer.Option(False, "--resume", help="Continue the newest complete checkpoint of --run-dir "
                                                        "(default: the newest run in --outdir)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config as JSON and exit."),
    max_steps: int = typer.Option(_D.max_steps, help="Total steps; a resumed run stops at the same step."),
    batch: int = typer.Option(_D.batch, help="Global batch of pairs, split over DDP processes."),
    lr: float = typer.Option(_D.lr, help="Adam learning rate of IIB + decoder + AII (and D unless --lr-d)."),
    lr_d: float = typer.Option(None, help="Adam learning rate of D.", show_default="--lr"),
    r1_gamma: float = typer.Option(_D.r1_gamma, help="R1 penalty γ on D's gradient at real faces (0: off)."),
    betas: str = typer.Option(None, help="Adam betas, two numbers.", show_default="0.001,0.999"),
    weight_decay: float = typer.Option(_D.weight_decay, help="Adam weight decay."),
    seed: int = typer.Option(_D.seed, help="Base seed (process r uses seed + r)."),
    snapshot_every: int = typer.Option(_D.snapshot_every, help="Checkpoint every N steps."),
    sample_every: int = typer.Option(_D.sample_every, help="Sample grid every N steps."),
    log_every: int = typer.Option(_D.log_every, help="stats.jsonl / tensorboard record every N steps."),
    keep: int = typer.Option(_D.keep, help="Complete checkpoints kept (0: all)."),
    ema: float = typer.Option(_D.ema, help="Per-step EMA decay of the generator, e.g. 0.999 (0: off)."),
    workers: int = typer.Option(_D.workers, help="Data loader worker processes."),
    stats: str = typer.Option(None, help="Tap statistics from `infoswap calibrate`.",
                              show_default="calibrate on --data into the run folder"),
    init_from: str = typer.Option(None, help="Network snapshot (network-snapshot-*.safetensors of another run) "
                                             "whose generator a new run starts from; optimisers and D start fresh."),
    calibrate_num: int = typer.Option(_D.calibrate_num, help="Faces for the automatic calibration."),
    precision: str = typer.Option(_D.precision, help="auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16."),
    compile: bool = typer.Option(_D.compile, "--compile/--no-compile", help="torch.compile the hot passes."),
    device: str = typer.Option(_D.device, help="auto, cpu or cuda."),
    grid: int = typer.Option(_D.grid, help="The sample grid shows N sources × N targets."),
    tensorboard: bool = typer.Option(_D.tensorboard, "--tensorboard/--no-tensorboard",
                                     help="Write tensorboard scalars and images (if installed)."),
) -> None:
    """Train InfoSwap (App. Alg. 1) on aligned faces; checkpoints resume bit-exactly."""
    from infoswap.train.loop import check, train as run

    given = {name: value for name, value in ctx.params.items()
             if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"}
    settings: dict = {}
    if config is not None:
        try:
            settings = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InfoswapError(f"--config {config}: cannot be read as JSON ({e})") from None
        if not isinstance(settings, dict):
            raise InfoswapError(f"--config {config}: must hold a JSON object of settings")
        TrainConfig.from_dict(settings, source=f"--config {config}")
    field_names = {f.name for f in fields(TrainConfig)}
    flags = {k: v for k, v in given.items() if k in field_names}
    if "betas" in flags:
        flags["betas"] = _betas(flags["betas"])
    merged = {**settings, **flags}
    cfg = TrainConfig.from_dict(merged, source=f"--config {config}")
    explicit = set(merged)
    if dry_run:
        plan, _ = check(cfg, resume, explicit)
        typer.echo(json.dumps(asdict(plan.cfg), indent=2))
        return
    status = run(cfg, resume, explicit)
    if status:
        raise typer.Exit(status)

"""`infoswap forensics build | train | eval | finetune`: the forgery-detection study of App. 3 (Tables 2, 3).

A thin shell over `infoswap.forensics`: every flag and file is checked before a model loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.cli.outputs import check_output_file
from infoswap.errors import InfoswapError

forensics_app = typer.Typer(
    name="forensics",
    help="The forgery-detection study (App. 3): build a real/fake face set from your own images or videos, "
         "train a detector, score it (Table 2), and score it again after further training (Table 3).",
    no_args_is_help=True,
)
app.add_typer(forensics_app, name="forensics")

DEVICE_HELP = "auto, cpu, cuda or cuda:N."


def _device(name: str) -> str:
    """"auto" -> cuda when available, else cpu; anything else as given."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _write_json(path: Path, report: dict) -> None:
    from infoswap.train.checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=1) + "\n")
    typer.echo(f"wrote {path}")


@forensics_app.command()
def build(
    videos: Path | None = typer.Option(None, "--videos", help="Folder of videos; a video's identity is its "
                                       "subfolder under the folder, else its file stem."),
    images: Path | None = typer.Option(None, "--images", help="Folder of images in one subfolder per identity "
                                       "(like assets/faces/identities)."),
    out: Path = typer.Option(..., "--out", help="New (or empty) folder for the set: crops, manifest.csv, build.json."),
    method: str = typer.Option("infoswap", "--method", help="How fakes are made: infoswap (the generator) or "
                               "paste (the aligned source face pasted with the same mask and colour matching)."),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="With --method infoswap: network snapshot "
                                          "or run folder; default: the shipped demo checkpoint."),
    frames: int = typer.Option(10, "--frames", min=1, help="Evenly spaced frames per video (App. 3: 10)."),
    size: int = typer.Option(128, "--size", min=16, help="Side of the aligned face crops, px."),
    test_fraction: float = typer.Option(0.3, "--test-fraction", help="Share of identities held out for testing "
                                        "(at least 2 per split)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the hash that splits identities and pairs sources."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Swap a source of another identity into every target frame; write real and fake aligned crops and a
    manifest split by identity."""
    from infoswap.forensics.forgery import METHODS
    from infoswap.forensics.split import assign_splits
    from infoswap.forensics.targets import find_targets

    if (videos is None) == (images is None):
        raise InfoswapError("give exactly one of --videos DIR or --images DIR")
    if method not in METHODS:
        raise InfoswapError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if checkpoint is not None and method != "infoswap":
        raise InfoswapError("--checkpoint is used only with --method infoswap")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InfoswapError(f"--out {out}: exists and is not an empty folder; choose a new one")
    kind, root = ("videos", videos) if videos is not None else ("images", images)
    targets = find_targets(root, kind)
    splits = assign_splits([t.identity for t in targets], test_fraction, seed)

    from infoswap.forensics.build import build_set
    from infoswap.forensics.forgery import RememberingFinder, make_forger
    from infoswap.train.checkpoint import sha256_file

    finder = RememberingFinder()
    forger = make_forger(method, finder, checkpoint, _device(device))
    info = {"input": str(root), "kind": kind, "test_fraction": test_fraction}
    if method == "infoswap":
        used = Path(forger.swapper.checkpoint)
        info.update(checkpoint=str(used), checkpoint_sha256=sha256_file(used))
    out.mkdir(parents=True, exist_ok=True)
    summary = build_set(targets, splits, forger, finder, out, frames=frames, size=size, seed=seed,
                        progress=progress, info=info)
    for what, why in summary.skipped[:5]:
        typer.echo(f"infoswap: skipped {what}: {why}", err=True)
    if len(summary.skipped) > 5:
        typer.echo(f"infoswap: … and {len(summary.skipped) - 5} more skipped (all listed in build.json)", err=True)
    typer.echo(f"{out}: {summary.line()}; fakes by {forger.label}")


def _train_options(batch, lr, weight_decay, seed, steps) -> dict:
    return {"batch": batch, "lr": lr, "weight_decay": weight_decay, "seed": seed, "steps": steps}


@forensics_app.command()
def train(
    manifest: Path = typer.Option(..., "--manifest", help="A set's manifest.csv (or its folder)."),
    out: Path = typer.Option(..., "--out", help="Run folder of the detector; rerun to resume from its checkpoint."),
    steps: int = typer.Option(300, "--steps", min=1, help="Total training steps (a resumed run continues to it)."),
    split: str = typer.Option("train", "--split", help="Which split to train on."),
    batch: int | None = typer.Option(None, "--batch", min=1, help="Faces per step [default: 32]."),
    lr: float | None = typer.Option(None, "--lr", min=0.0, help="AdamW learning rate [default: 1e-3]."),
    weight_decay: float | None = typer.Option(None, "--weight-decay", min=0.0, help="AdamW weight decay "
                                              "[default: 1e-4]."),
    seed: int | None = typer.Option(None, "--seed", help="Initialisation, batch order and flips [default: 0]."),
    size: int | None = typer.Option(None, "--size", min=8, help="Crop side the detector reads [default: 128]."),
    width: int | None = typer.Option(None, "--width", min=1, help="Channels of the first stage [default: 16]."),
    depth: int | None = typer.Option(None, "--depth", min=1, help="Stages; each after the first halves the "
                                     "resolution and doubles the width [default: 4]."),
    blocks: int | None = typer.Option(None, "--blocks", min=1, help="Residual blocks per stage [default: 1]."),
    snapshot_every: int = typer.Option(100, "--snapshot-every", min=1, help="Checkpoint every N steps."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train a forgery detector (a small ResNet, from scratch) on a labelled set."""
    from infoswap.forensics.manifest import read_set

    data = read_set(manifest)
    data.usable(split)

    from infoswap.forensics.training import train_detector

    result = train_detector(data, split, out, arch={"size": size, "width": width, "depth": depth, "blocks": blocks},
                            settings=_train_options(batch, lr, weight_decay, seed, steps),
                            snapshot_every=snapshot_every, device=_device(device), progress=progress, log=typer.echo)
    loss = "" if result.loss is None else f"; mean loss of the last steps {result.loss:.4f}"
    typer.echo(f"{out}: detector at step {result.detector.step}{loss}")


@forensics_app.command("eval")
def eval_(
    detector: Path = typer.Option(..., "--detector", help="Detector run folder or snapshot file."),
    sets: list[Path] = typer.Option(..., "--set", help="A set folder (or its manifest.csv); repeat to score "
                                    "several forgery methods in one table."),
    split: str = typer.Option("test", "--split", help="Which split to score."),
    json_out: Path | None = typer.Option(None, "--json", help="Write auc, ap, f1, mse (and what was scored) here; "
                                         "with several --set, a list of those under \"sets\"."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Score a detector on sets: AUC, AP, F1 at 0.5 and MSE of the fake probability (App. Table 2 layout)."""
    from infoswap.forensics.manifest import read_set

    check_output_file("--json", json_out)
    data = [read_set(path) for path in sets]
    for one in data:
        one.usable(split)

    from infoswap.forensics.scoring import score
    from infoswap.forensics.snapshot import load_detector
    from infoswap.forensics.tables import table2

    loaded = load_detector(detector, _device(device))
    results = [score(loaded, one, split) for one in data]
    typer.echo(table2(f"{loaded.name} (step {loaded.step})", results))
    if json_out is not None:
        _write_json(json_out, results[0] if len(results) == 1 else {"sets": results})


@forensics_app.command()
def finetune(
    detector: Path = typer.Option(..., "--detector", help="The original detector (run folder or snapshot file)."),
    set_: Path = typer.Option(..., "--set", help="The set whose training identities it is further trained on."),
    out: Path | None = typer.Option(None, "--out", help="Run folder of the further-trained detector; rerun to "
                                    "resume [default: SET/further-trained-<detector>]."),
    steps: int = typer.Option(200, "--steps", min=1, help="Further-training steps."),
    lr: float = typer.Option(3e-4, "--lr", min=0.0, help="AdamW learning rate."),
    batch: int | None = typer.Option(None, "--batch", min=1, help="Faces per step [default: 32]."),
    weight_decay: float | None = typer.Option(None, "--weight-decay", min=0.0, help="[default: 1e-4]."),
    seed: int | None = typer.Option(None, "--seed", help="Batch order and flips [default: 0]."),
    train_split: str = typer.Option("train", "--train-split", help="Split to train on."),
    test_split: str = typer.Option("test", "--test-split", help="Held-out split both detectors are scored on."),
    snapshot_every: int = typer.Option(100, "--snapshot-every", min=1, help="Checkpoint every N steps."),
    json_out: Path | None = typer.Option(None, "--json", help="Write both score sets here."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Further train a detector on a set and print before/after on held-out identities (App. Table 3 layout)."""
    from infoswap.forensics.manifest import read_set

    check_output_file("--json", json_out)
    data = read_set(set_)
    data.usable(test_split)
    data.usable(train_split)

    from infoswap.forensics.finetune import further_train
    from infoswap.forensics.snapshot import load_detector
    from infoswap.forensics.tables import table3

    original = load_detector(detector, _device(device))
    out = out if out is not None else data.csv.parent / f"further-trained-{original.name}"
    before, after, result = further_train(original, data, out, train_split=train_split, test_split=test_split,
                                          settings=_train_options(batch, lr, weight_decay, seed, steps),
                                          snapshot_every=snapshot_every, device=_device(device), progress=progress,
                                          log=typer.echo)
    typer.echo(table3(before["method"], [(original.name, before),
                                         (f"{original.name} (further trained)", after)]))
    typer.echo(f"further-trained detector: {out} (step {result.detector.step})")
    if json_out is not None:
        _write_json(json_out, {"original": before, "further_trained": after})

"""`infoswap evaluate --manifest M.csv`: ID retrieval, identity cosines, pose and expression error of swaps;
FID and KID of the swaps against the targets when `--inception` names the FID Inception weights."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.cli.outputs import check_output_file


def _fid_kid(pairs: list, weights: Path):
    """Loads the Inception weights (refusing a bad file at once), then scores swaps vs targets."""
    from infoswap.evaluate.fidkid import distinct_images, fid_kid_of
    from infoswap.evaluate.inception_weights import load_inception

    net = load_inception(weights)
    count = len(set().union(*distinct_images(pairs)))
    with typer.progressbar(length=count, label=f"Inception features of {count} images", file=sys.stderr) as bar:
        return fid_kid_of(pairs, net, on_image=lambda _: bar.update(1))


@app.command()
def evaluate(
    manifest: Path = typer.Option(..., "--manifest", help="CSV with columns source,target,swap "
                                  "(paths absolute or relative to the CSV's folder)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the full report, with per-pair values, here."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG scatter of cosine to source vs to target."),
    inception: Path | None = typer.Option(None, "--inception", help="FID Inception-v3 weights (safetensors) made "
                                          "with 'infoswap convert pt_inception-2015-12-05-6726825d.pth --arch "
                                          "inception': adds FID and KID of the swap images against the target "
                                          "images. Without it they are not computed."),
) -> None:
    """Score swaps with an independent recogniser (faceres) that no infoswap model is trained through;
    with --inception, also FID and KID of the swap images against the target images."""
    check_output_file("--json", json_out)
    check_output_file("--plot", plot, ".png", "the scatter plot")

    from infoswap.evaluate.manifest import read_manifest

    pairs = read_manifest(manifest)  # before the models load, so a bad manifest fails at once
    fid_kid = None if inception is None else _fid_kid(pairs, inception)  # a bad weights file fails early too

    from infoswap.evaluate.evaluation import evaluate_pairs
    from infoswap.evaluate.judge import IndependentJudge
    from infoswap.evaluate.report import format_table, write_json

    count = len({p for pair in pairs for p in (pair.source, pair.target, pair.swap)})
    with typer.progressbar(length=count, label=f"analysing {count} images", file=sys.stderr) as bar:
        report = evaluate_pairs(pairs, IndependentJudge(), on_image=lambda _: bar.update(1), fid_kid=fid_kid)
    typer.echo(format_table(report))
    if json_out is not None:
        write_json(report, json_out)
        typer.echo(f"wrote {json_out}")
    if plot is not None:
        from infoswap.evaluate.plot import write_scatter

        write_scatter(report, plot)
        typer.echo(f"wrote {plot}")

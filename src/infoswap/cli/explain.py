"""`infoswap explain --image I`: the IIB's λ maps of one face as a heatmap grid PNG, and the per-tap means."""

from __future__ import annotations

from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.cli.outputs import check_output_file


@app.command()
def explain(
    image: Path = typer.Option(..., "--image", help="Photo with a face (the largest is used unless "
                               "--face-index picks one)."),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="Network snapshot (.safetensors) or run "
                                          "folder; default: the shipped demo checkpoint."),
    out: Path = typer.Option(Path("explain.png"), "--out", help="Heatmap grid PNG to write.", show_default=True),
    face_index: int | None = typer.Option(None, "--face-index", min=0, help="Which face: 0 is the leftmost."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N.", show_default=True),
) -> None:
    """Show which parts of a face the identity bottleneck keeps (λ ≈ 1) or replaces by noise (λ ≈ 0), per tap."""
    from infoswap.evaluate.explain import explain_photo, write_grid
    from infoswap.faces.finder import FaceFinder
    from infoswap.io.images import read_image
    from infoswap.swap.pretrained import load_generator

    check_output_file("--out", out, ".png", "the heatmap grid")
    pixels = read_image(image).pixels
    model, _ = load_generator(checkpoint, device=device)
    explanation = explain_photo(model, FaceFinder(), pixels, face_index=face_index, label=str(image))
    write_grid(out, explanation)
    typer.echo(f"{out}: λ heatmaps of {len(explanation.maps)} taps")
    for tap, mean in explanation.table():
        typer.echo(f"  tap {tap:2d}: mean λ {mean:.3f}")

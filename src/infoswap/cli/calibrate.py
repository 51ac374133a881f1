"""`infoswap calibrate`: per-tap feature statistics (µ, σ, active share) of the frozen recogniser."""

from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.cli.outputs import check_output_file
from infoswap.errors import InfoswapError

RESOLUTIONS = (128, 256, 512, 1024)


@app.command()
def calibrate(
    data: Path = typer.Option(..., "--data", help="Folder of aligned faces made by `infoswap align`."),
    out: Path = typer.Option(..., "--out", help="Output statistics file (.safetensors)."),
    num: int = typer.Option(10_000, "--num", min=1, help="Number of faces (a seeded random subset) to average."),
    recognizer: str = typer.Option("dlib", "--recognizer", help="Recogniser whose taps are measured."),
    size: int = typer.Option(None, "--size", show_default="size of the aligned faces",
                             help="Preset resolution the faces are resized to: 128, 256, 512 or 1024."),
    batch: int = typer.Option(16, "--batch", min=1, help="Faces per forward pass."),
) -> None:
    """Measure element-wise mean, std and non-zero share of the recogniser's 10 taps (App. 1.1)."""
    import torch
    from PIL import Image

    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.calibrate import calibrate_folder, save_statistics
    from infoswap.train.data import index_faces

    check_output_file("--out", out, ".safetensors", "the statistics file")
    if size is None:
        with Image.open(index_faces(data).files[0]) as first:
            size = first.width
    if size not in RESOLUTIONS:
        raise InfoswapError(f"--size {size}: choose one of {', '.join(map(str, RESOLUTIONS))}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    stats = calibrate_folder(data, load_recognizer(recognizer), recognizer, size, num, batch, device)
    save_statistics(out, stats)
    typer.echo(f"{out}: statistics of {len(stats.mean)} taps over {stats.count} faces "
               f"(recogniser {recognizer}, resolution {size})")

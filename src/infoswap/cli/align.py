"""`infoswap align SRC_DIR OUT_DIR --size N`: a folder of photos -> a folder of aligned faces + manifest."""

from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.config import PRESETS
from infoswap.errors import InfoswapError

HELP = (
    "Align every face of every photo (FFHQ-style 5-point template) and save each as a PNG crop.\n\n"
    "OUT_DIR/manifest.csv gets one row per crop: crop, source, face_index (0 is the leftmost face), box, "
    "landmarks (JSON lists, source pixels) and source_sha256. Photos without a face go to OUT_DIR/no_face.csv. "
    "Re-running skips photos already done (same sha256); unreadable files are reported and skipped."
)


@app.command(help=HELP)
def align(
    src_dir: Path = typer.Argument(..., metavar="SRC_DIR",
                                   help="Folder of photos (jpg, jpeg, png, webp), searched recursively."),
    out_dir: Path = typer.Argument(..., metavar="OUT_DIR",
                                   help="Folder for the aligned PNG crops and manifest.csv (created if needed)."),
    size: int = typer.Option(256, "--size", help="Side of the aligned crops: 128, 256, 512 or 1024."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    if size not in PRESETS:
        raise InfoswapError(f"--size {size}: choose one of {', '.join(map(str, PRESETS))}")
    if not src_dir.exists():
        raise InfoswapError(f"SRC_DIR {src_dir}: no such folder")
    if not src_dir.is_dir():
        raise InfoswapError(f"SRC_DIR {src_dir}: is a file, expected a folder of photos")

    from infoswap.faces.align_folder import align_folder

    summary = align_folder(src_dir, out_dir, size, progress=progress)
    typer.echo(f"{out_dir}: {summary.line()}")

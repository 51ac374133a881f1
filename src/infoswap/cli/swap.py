"""`infoswap swap -s SOURCE -t TARGET -o OUTPUT`: one identity into an image, a folder of images or a video.

A thin shell over `infoswap.swap.swapper.Swapper`: check every path, load the checkpoint, compute the source
identity once, then run the target's kind.
"""

from __future__ import annotations

from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.errors import InfoswapError

SELECTORS = ("all", "index", "largest", "reference")  # infoswap.faces.select.SELECT_MODES, without importing it
HELP = (
    "Swap the identity of SOURCE into the faces of TARGET: an image, a folder of images (searched "
    "recursively and mirrored into OUTPUT) or a video (audio copied, frame rate kept).\n\n"
    "Give several -s photos of one person to average their identities. Every output carries an invisible "
    "watermark and metadata marking it as AI-generated (check with `infoswap inspect`). A target with no "
    "selected face is copied through unchanged, with a warning."
)


def _warn(message: str) -> None:
    typer.echo(f"infoswap: warning: {message}", err=True)


@app.command(help=HELP)
def swap(
    source: list[Path] = typer.Option(..., "-s", "--source", help="Photo of the identity to swap in; repeat for "
                                      "several photos of the same person."),
    target: Path = typer.Option(..., "-t", "--target", help="Image, folder of images, or video to swap into."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file (image or video; format from the "
                                "suffix) or, for a folder target, output folder."),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="Network snapshot (.safetensors) or run "
                                          "folder; default: the shipped demo checkpoint."),
    preset: int | None = typer.Option(None, "--preset", help="Refuse a checkpoint made for another resolution."),
    face_selector: str = typer.Option("all", "--face-selector", help="Which target faces to swap: "
                                      + ", ".join(SELECTORS) + "."),
    face_index: int = typer.Option(0, "--face-index", min=0, help="With --face-selector index: 0 is the leftmost."),
    reference: Path | None = typer.Option(None, "--reference", help="With --face-selector reference: a photo of "
                                          "the person to replace."),
    reference_threshold: float | None = typer.Option(None, "--reference-threshold", help="Identity distance "
                                                     "(1 − cosine) below which a face counts as the reference "
                                                     "person; default 0.06, measured on the bundled faces."),
    source_face_index: int | None = typer.Option(None, "--source-face-index", min=0, help="Which face of each "
                                                 "source photo to use when it shows several (0 is the leftmost)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs (else they are skipped "
                                   "in a folder run, and refused for a single output)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Folder runs: write a source,target,swap CSV "
                                         "of the images swapped in this run (source: the first -s), for "
                                         "`infoswap evaluate`."),
    codec: str = typer.Option("libx264", "--codec", help="Video codec: libx264 (H.264) or libx265 (H.265)."),
    crf: int = typer.Option(18, "--crf", min=0, max=63, help="Video quality: constant rate factor (lower is "
                            "better; 18 is visually lossless for H.264)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Faces per generator call (and video frames "
                                   "per batch)."),
    smooth: float = typer.Option(0.5, "--smooth", min=0.0, max=1.0, help="Video: landmark smoothing across "
                                 "frames against jitter, 0 (off) to 1 (strongest)."),
    redetect_every: int = typer.Option(8, "--redetect-every", min=1, help="Video: run the face detector on "
                                       "every Nth frame and track faces in between (1: detect in every frame)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    from infoswap.faces.select import DEFAULT_THRESHOLD
    from infoswap.swap import targets
    from infoswap.swap.swapper import Swapper, check_selection

    threshold = DEFAULT_THRESHOLD if reference_threshold is None else reference_threshold
    check_selection(face_selector, index=face_index, has_reference=reference is not None, threshold=threshold)
    if reference is not None and face_selector != "reference":
        raise InfoswapError("--reference is used only with --face-selector reference")
    for path in source:
        if not path.is_file():
            raise InfoswapError(f"--source {path}: no such file")
    kind = targets.target_kind(target)
    targets.check_output(target, output, kind, overwrite)
    if kind == "video":
        from infoswap.swap.video import ENCODERS

        if codec not in ENCODERS:
            raise InfoswapError(f"--codec {codec!r}: choose one of {', '.join(ENCODERS)}")
    if manifest is not None:
        if kind != "folder":
            raise InfoswapError("--manifest is written for folder targets only")
        targets.check_writable_folder(manifest.parent, "--manifest")

    swapper = Swapper.from_pretrained(checkpoint, preset=preset, device=device, batch_size=batch_size)
    identity = swapper.source_identity(source, source_face_index=source_face_index)
    selector = swapper.face_selector(face_selector, index=face_index, reference=reference, threshold=threshold)
    if kind == "image":
        from infoswap.swap.runs import swap_image

        swap_image(swapper, identity, selector, target, output, warn=_warn, echo=typer.echo)
    elif kind == "folder":
        from infoswap.swap.runs import swap_folder

        summary = swap_folder(swapper, identity, selector, target, output, overwrite=overwrite, manifest=manifest,
                              progress=progress, warn=_warn)
        typer.echo(f"{output}: {summary.line()}")
        if summary.failed:
            raise InfoswapError(f"{summary.failed} of {summary.total} images failed (reasons above)")
    else:
        from infoswap.swap.runs import swap_video

        swap_video(swapper, identity, selector, target, output, codec=codec, crf=crf, smooth=smooth,
                   progress=progress, warn=_warn, echo=typer.echo, redetect_every=redetect_every)

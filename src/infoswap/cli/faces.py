"""`infoswap faces IMAGE`: the detected faces as a table or JSON, optionally drawn."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from infoswap.cli.app import app
from infoswap.errors import InfoswapError


def _write_image_atomically(path: Path, rgb) -> None:
    """Encodes in memory, then writes a temp file beside `path` and renames it, so a crash or a full disk
    never leaves half a picture."""
    import cv2

    from infoswap.swap.atomic import atomic_output

    ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InfoswapError(f"--draw: could not encode {path}")
    with atomic_output(path) as temp:
        try:
            temp.write_bytes(encoded.tobytes())
        except OSError as e:
            raise InfoswapError(f"--draw: could not write {path} ({e.strerror})") from None


def _face_record(face) -> dict:
    return {
        "index": face.index,
        "box": [round(float(v), 2) for v in face.box],
        "score": round(face.score, 4),
        "landmarks5": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks5],
        "landmarks68": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks68],
    }


def _print_table(image: Path, faces: list) -> None:
    if not faces:
        typer.echo(f"{image}: no face found")
        return
    typer.echo(f"{image}: {len(faces)} face{'s' if len(faces) > 1 else ''}")
    typer.echo(f"{'index':>5}  {'score':>5}  {'box x1, y1, x2, y2 (px)':<27}  eyes, nose, mouth corners (px)")
    for face in faces:
        box = ", ".join(f"{v:.0f}" for v in face.box)
        points = "  ".join(f"{x:.0f},{y:.0f}" for x, y in face.landmarks5)
        typer.echo(f"{face.index:>5}  {face.score:5.3f}  {box:<27}  {points}")


@app.command()
def faces(
    image: Path = typer.Argument(..., help="Photo to analyse (jpg, png, webp, …)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    draw: Path | None = typer.Option(None, "--draw", help="Save a copy with boxes, indices and landmarks (png/jpg)."),
    # 0.25 = infoswap.faces.detect.DEFAULT_MIN_SCORE, written out so that --help does not import torch.
    min_score: float = typer.Option(0.25, "--min-score", help="Detector score a face must exceed (0 < s < 1).",
                                    show_default=True),
) -> None:
    """List every detected face: index (left to right), box, score and landmarks."""
    if not 0 < min_score < 1:
        raise typer.BadParameter(f"must lie strictly between 0 and 1, got {min_score}", param_hint="--min-score")
    if draw is not None:
        import cv2

        if draw.is_dir():
            raise InfoswapError(f"--draw: {draw} is a folder; give a file name such as faces.png")
        if not cv2.haveImageWriter(str(draw)):
            raise InfoswapError(f"--draw: cannot write pictures of type '{draw.suffix}'; use .png or .jpg")
        from infoswap.swap.targets import check_writable_folder

        check_writable_folder(draw.parent, "--draw")  # before detection: a wrong path fails at once

    from infoswap.io.images import read_image

    loaded = read_image(image)  # before importing torch, so bad input fails fast
    for note in loaded.notes:
        typer.echo(f"infoswap: note: {image}: {note}", err=True)
    from infoswap.faces.finder import FaceFinder

    found = FaceFinder(min_score=min_score)(loaded.pixels)
    if as_json:
        typer.echo(json.dumps({"image": str(image), "faces": [_face_record(f) for f in found]}))
    else:
        _print_table(image, found)
    if draw is not None:
        from infoswap.faces.draw import draw_faces

        _write_image_atomically(draw, draw_faces(loaded.pixels, found))
        if not as_json:
            typer.echo(f"drew {len(found)} face{'' if len(found) == 1 else 's'} on {draw}")

"""`infoswap faces IMAGE`: the detected faces as a table or JSON, optionally drawn."""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ReferenceComparison:
    """How each face of the image (in face order) compares with the --reference person."""

    path: Path
    threshold: float
    distances: list[float]  # identity distance (1 − cosine) to the reference face
    matches: list[bool]  # whether reference selection in `infoswap swap` would pick the face


def _compare_to_reference(reference: Path, reference_pixels, pixels, found: list, finder,
                          threshold: float) -> ReferenceComparison:
    """The embedding, distance and rule of `infoswap swap --face-selector reference` (faces.select), so this
    command shows exactly which faces a swap with the same reference and threshold would replace."""
    from infoswap.faces.select import embed_faces, embed_reference, identity_distance, select_faces
    from infoswap.recognition.registry import load_recognizer

    recognizer = load_recognizer("dlib")
    target = embed_reference(reference_pixels, finder(reference_pixels), recognizer, f"--reference {reference}")
    embeddings = embed_faces(pixels, found, recognizer)
    chosen = {face.index for face in select_faces(found, "reference", reference_embedding=target,
                                                  embeddings=embeddings, threshold=threshold)}
    distances = identity_distance(embeddings, target)
    return ReferenceComparison(reference, threshold, [float(d) for d in distances],
                               [face.index in chosen for face in found])


def _face_record(face, comparison: ReferenceComparison | None) -> dict:
    record = {
        "index": face.index,
        "box": [round(float(v), 2) for v in face.box],
        "score": round(face.score, 4),
        "landmarks5": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks5],
        "landmarks68": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks68],
    }
    if comparison is not None:
        record["reference_distance"] = round(comparison.distances[face.index], 4)
        record["reference_match"] = comparison.matches[face.index]
    return record


def _print_table(image: Path, faces: list, comparison: ReferenceComparison | None) -> None:
    if not faces:
        typer.echo(f"{image}: no face found")
        return
    typer.echo(f"{image}: {len(faces)} face{'s' if len(faces) > 1 else ''}")
    reference_header = ""
    if comparison is not None:
        typer.echo(f"reference: largest face of {comparison.path}; same person when the identity distance "
                   f"(1 - cosine) < {comparison.threshold:g}")
        reference_header = f"  {'distance':>8}  {'same':<4}"
    typer.echo(f"{'index':>5}  {'score':>5}{reference_header}  {'box x1, y1, x2, y2 (px)':<27}  "
               "eyes, nose, mouth corners (px)")
    for face in faces:
        box = ", ".join(f"{v:.0f}" for v in face.box)
        points = "  ".join(f"{x:.0f},{y:.0f}" for x, y in face.landmarks5)
        reference_cells = ""
        if comparison is not None:
            same = "yes" if comparison.matches[face.index] else "no"
            reference_cells = f"  {comparison.distances[face.index]:8.4f}  {same:<4}"
        typer.echo(f"{face.index:>5}  {face.score:5.3f}{reference_cells}  {box:<27}  {points}")


@app.command()
def faces(
    image: Path = typer.Argument(..., help="Photo to analyse (jpg, png, webp, …)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    draw: Path | None = typer.Option(None, "--draw", help="Save a copy with boxes, indices and landmarks (png/jpg)."),
    # 0.25 = infoswap.faces.detect.DEFAULT_MIN_SCORE, written out so that --help does not import torch.
    min_score: float = typer.Option(0.25, "--min-score", help="Detector score a face must exceed (0 < s < 1).",
                                    show_default=True),
    reference: Path | None = typer.Option(None, "--reference", help="Photo of one person (its largest face): "
                                          "show each face's identity distance to it and whether it is the same "
                                          "person, as `infoswap swap --face-selector reference` decides."),
    reference_threshold: float | None = typer.Option(None, "--reference-threshold", help="Identity distance "
                                                     "(1 − cosine) below which a face counts as the --reference "
                                                     "person; default 0.06, measured on the bundled faces."),
) -> None:
    """List every detected face: index (left to right), box, score, landmarks and, with --reference,
    whether it shows the same person."""
    if not 0 < min_score < 1:
        raise typer.BadParameter(f"must lie strictly between 0 and 1, got {min_score}", param_hint="--min-score")
    if reference_threshold is not None:
        if reference is None:
            raise InfoswapError("--reference-threshold is used only with --reference")
        if not 0 < reference_threshold < 2:
            raise typer.BadParameter(f"must lie strictly between 0 and 2 (a cosine distance), got "
                                     f"{reference_threshold}", param_hint="--reference-threshold")
    if draw is not None:
        import cv2

        if draw.is_dir():
            raise InfoswapError(f"--draw: {draw} is a folder; give a file name such as faces.png")
        if not cv2.haveImageWriter(str(draw)):
            raise InfoswapError(f"--draw: cannot write pictures of type '{draw.suffix}'; use .png or .jpg")
        from infoswap.swap.targets import check_writable_folder

        check_writable_folder(draw.parent, "--draw")  # before detection: a wrong path fails at once

    from infoswap.io.images import read_image

    photos = {image: read_image(image)}  # before importing torch, so bad input fails fast
    if reference is not None:
        photos[reference] = read_image(reference)
    for path, photo in photos.items():
        for note in photo.notes:
            typer.echo(f"infoswap: note: {path}: {note}", err=True)
    loaded = photos[image]
    from infoswap.faces.finder import FaceFinder

    finder = FaceFinder(min_score=min_score)
    found = finder(loaded.pixels)
    comparison = None
    if reference is not None:
        from infoswap.faces.select import DEFAULT_THRESHOLD

        threshold = DEFAULT_THRESHOLD if reference_threshold is None else reference_threshold
        comparison = _compare_to_reference(reference, photos[reference].pixels, loaded.pixels, found, finder,
                                           threshold)
    if as_json:
        report = {"image": str(image), "faces": [_face_record(f, comparison) for f in found]}
        if comparison is not None:
            report |= {"reference": str(reference), "reference_threshold": comparison.threshold}
        typer.echo(json.dumps(report))
    else:
        _print_table(image, found, comparison)
    if draw is not None:
        from infoswap.faces.draw import draw_faces

        same = [] if comparison is None else [f.index for f, match in zip(found, comparison.matches) if match]
        _write_image_atomically(draw, draw_faces(loaded.pixels, found, same_person=same))
        if not as_json:
            typer.echo(f"drew {len(found)} face{'' if len(found) == 1 else 's'} on {draw}")

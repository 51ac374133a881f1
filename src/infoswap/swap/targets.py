"""What a swap target is (image, folder or video), where its outputs go, and writing them safely.

Every check that can fail is made before the model loads, so a typo costs no time. Outputs are written to
a temporary name in their own folder and renamed (`infoswap.swap.atomic`), so an interrupted run never
leaves half a file.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infoswap.errors import InfoswapError
from infoswap.io.images import IMAGE_SUFFIXES
from infoswap.swap.atomic import atomic_output
from infoswap.swap.provenance import SAVE_FORMATS
from infoswap.swap.video import OUTPUT_FORMATS, VIDEO_SUFFIXES


def target_kind(target: Path) -> str:
    """"folder", "image" or "video"; an error for anything else."""
    if not target.exists():
        raise InfoswapError(f"--target {target}: no such file or folder")
    if target.is_dir():
        return "folder"
    suffix = target.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise InfoswapError(f"--target {target}: unknown kind of file '{suffix}'; give an image "
                        f"({', '.join(IMAGE_SUFFIXES)}), a video ({', '.join(VIDEO_SUFFIXES)}) or a folder")


def check_writable_folder(folder: Path, flag: str) -> None:
    """The folder exists and a file can be created in it (tried, since permission bits lie to root)."""
    if not folder.exists():
        raise InfoswapError(f"{flag}: folder {folder} does not exist")
    if not folder.is_dir():
        raise InfoswapError(f"{flag}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(prefix=".infoswap-probe-", dir=folder):
            pass
    except OSError as e:
        raise InfoswapError(f"{flag}: cannot write in folder {folder} ({e.strerror})") from None


def check_output(target: Path, output: Path, kind: str, overwrite: bool) -> None:
    """The output fits the target's kind, its folder is writable and nothing is overwritten by accident."""
    if output.resolve() == target.resolve():
        raise InfoswapError(f"--output {output} is the target itself; choose another path")
    if kind == "folder":
        if output.exists() and not output.is_dir():
            raise InfoswapError(f"--output {output}: is a file; a folder target needs an output folder")
        check_writable_folder(output if output.exists() else output.parent, "--output")
        return
    allowed = tuple(SAVE_FORMATS) if kind == "image" else tuple(OUTPUT_FORMATS)
    if output.suffix.lower() not in allowed:
        raise InfoswapError(f"--output {output}: {kind} output must end in {', '.join(allowed)}")
    if output.is_dir():
        raise InfoswapError(f"--output {output}: is a folder; a {kind} target writes one file")
    if output.exists() and not overwrite:
        raise InfoswapError(f"--output {output} already exists; pass --overwrite to replace it")
    check_writable_folder(output.parent, "--output")


@dataclass(frozen=True)
class Job:
    target: Path
    output: Path


def mirrored(path: Path) -> Path:
    """The output name of a folder image: the same, or .png for formats the writers cannot mark (bmp, tiff)."""
    return path if path.suffix.lower() in SAVE_FORMATS else path.with_suffix(".png")


def folder_jobs(target: Path, output: Path) -> list[Job]:
    """Every image under `target` (recursive, sorted) and its mirrored path under `output`; the output
    folder is left out when it lies inside the target, and so are hidden files (e.g. partial outputs)."""
    skip = output.resolve()
    jobs = []
    for folder, subfolders, files in os.walk(target):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if (here / d).resolve() != skip)
        for name in sorted(files):
            path = here / name
            if path.suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                jobs.append(Job(path, output / mirrored(path.relative_to(target))))
    return jobs


def copy_through(target: Path, pixels, output: Path) -> None:
    """A target with no face to swap: its own bytes when the format stays, else its pixels re-encoded
    (no synthetic-media marks: nothing in it was generated)."""
    from PIL import Image

    with atomic_output(output) as temp:
        if target.suffix.lower() == output.suffix.lower():
            shutil.copyfile(target, temp)
        else:
            Image.fromarray(pixels).save(temp)


def write_manifest(path: Path, rows: list[tuple[Path, Path, Path]]) -> None:
    """source,target,swap rows for `infoswap evaluate`, paths relative to the manifest's folder."""
    base = path.resolve().parent
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("source", "target", "swap"))
    for row in rows:
        writer.writerow(os.path.relpath(p.resolve(), base) for p in row)
    with atomic_output(path) as temp:
        temp.write_text(text.getvalue(), encoding="utf-8")

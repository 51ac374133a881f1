"""`infoswap swap` on images and folders, run in-process as a user would: outputs, provenance, the folder
mirror, skips and manifest, and one clear line with a non-zero exit for each kind of bad input."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from infoswap.evaluate.manifest import read_manifest
from infoswap.io.images import read_image
from infoswap.swap.provenance import read_provenance
from swap_fixtures import GROUP, SOURCE, TARGET, checkpoint, run_cli, swapper, wall
from swap_fixtures import loads  # noqa: F401  (a fixture)

TIMING = re.compile(r"^swapped 1 face in \d+\.\d\d s \(\d+\.\d\d s/face at 128 px\)$", re.M)



def _one_line_error(code: int, err: str, match: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infoswap: error: "), err
    assert re.search(match, lines[0]), lines[0]


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def test_image_swap_writes_a_marked_file_of_the_target_size(tmp_path):
    out = tmp_path / "swap.png"
    code, stdout, err = run_cli("swap", "-s", SOURCE, "-t", TARGET, "-o", out, "--checkpoint", checkpoint())
    assert code == 0, err
    assert TIMING.search(stdout), stdout
    target, swapped = read_image(TARGET).pixels, read_image(out).pixels
    assert swapped.shape == target.shape
    face = swapper().finder(target)[0]
    x1, y1, x2, y2 = face.box.astype(int)
    w, h = x2 - x1, y2 - y1
    diff = np.abs(swapped.astype(int) - target.astype(int)).max(-1)
    assert diff[y1 + h // 3 : y2 - h // 3, x1 + w // 3 : x2 - w // 3].mean() > 20
    luma = np.abs((swapped.astype(float) - target) @ np.array([0.299, 0.587, 0.114]))
    far = np.ones(diff.shape, bool)
    far[max(y1 - h // 2, 0) : y2 + h // 2, max(x1 - w // 2, 0) : x2 + w // 2] = False
    assert luma[far].max() <= 1.5  # outside the face only the chroma watermark
    report = read_provenance(out)
    assert report["watermark"]["found"] and report["watermark"]["payload"].startswith("infoswap")
    assert report["metadata"]["ai_generated"]
    assert _leftovers(tmp_path) == []


def test_folder_swap_mirrors_the_tree_skips_existing_and_writes_the_manifest(tmp_path, loads, monkeypatch):
    from PIL import Image

    src = tmp_path / "in"
    (src / "people" / "deep").mkdir(parents=True)
    shutil.copy(TARGET, src / "people" / "deep" / "face.jpg")
    Image.fromarray(wall()).save(src / "wall.png")
    (src / "people" / "broken.jpg").write_bytes(TARGET.read_bytes()[:3000])
    (src / "notes.txt").write_text("not an image")
    out, manifest = tmp_path / "out", tmp_path / "pairs.csv"

    code, stdout, err = run_cli("swap", "-s", SOURCE, "-t", src, "-o", out, "--manifest", manifest, "--no-progress")
    assert code == 2  # one image failed: the run goes on, then says so
    assert "1 swapped, 1 copied through with no face, 0 skipped (already there), 1 failed, of 3 images" in stdout
    assert "broken.jpg" in err and "1 of 3 images failed" in err.splitlines()[-1]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "people/deep/face.jpg", "wall.png"]
    assert read_provenance(out / "people" / "deep" / "face.jpg")["watermark"]["found"]
    assert (out / "wall.png").read_bytes() == (src / "wall.png").read_bytes()  # copied through as it was
    [pair] = read_manifest(manifest)
    assert (pair.source, pair.target, pair.swap) == (SOURCE.resolve(), (src / "people/deep/face.jpg").resolve(),
                                                     (out / "people/deep/face.jpg").resolve())
    assert _leftovers(out) == []

    (src / "people" / "broken.jpg").unlink()
    before = (out / "people" / "deep" / "face.jpg").stat().st_mtime_ns
    generated = []
    monkeypatch.setattr(swapper(), "generate", lambda identity, crops: generated.extend(crops) or list(crops))
    code, stdout, err = run_cli("swap", "-s", SOURCE, "-t", src, "-o", out, "--no-progress")
    assert code == 0, err
    assert "0 swapped, 0 copied through with no face, 2 skipped (already there), 0 failed, of 2 images" in stdout
    assert generated == [] and (out / "people" / "deep" / "face.jpg").stat().st_mtime_ns == before
    code, stdout, _ = run_cli("swap", "-s", SOURCE, "-t", src, "-o", out, "--no-progress", "--overwrite")
    assert code == 0 and "1 swapped, 1 copied through" in stdout and len(generated) == 1


def test_the_source_identity_is_computed_once_per_run(tmp_path, loads, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(TARGET, src / name)
    model = swapper().model
    calls = []
    original = model.source_identity
    monkeypatch.setattr(model, "source_identity", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(swapper(), "generate", lambda identity, crops: list(crops))
    code, stdout, err = run_cli("swap", "-s", SOURCE, "-t", src, "-o", tmp_path / "out", "--no-progress")
    assert code == 0 and "3 swapped" in stdout, err
    assert len(calls) == 1 and len(loads) == 1


def test_a_target_without_a_face_is_copied_through_with_a_warning(tmp_path, loads):
    from PIL import Image

    target = tmp_path / "wall.jpg"
    Image.fromarray(wall()).save(target, quality=90)
    out = tmp_path / "out.jpg"
    code, stdout, err = run_cli("swap", "-s", SOURCE, "-t", target, "-o", out)
    assert code == 0, err
    assert "warning" in err and "no face selected" in err and "copied through unchanged" in err
    assert out.read_bytes() == target.read_bytes()
    report = read_provenance(out)
    assert not report["watermark"]["found"] and not report["metadata"]["ai_generated"]


def test_a_source_without_a_face_or_with_several_is_refused(tmp_path, loads):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.fromarray(wall()).save(blank)
    out = tmp_path / "out.png"
    code, _, err = run_cli("swap", "-s", blank, "-t", TARGET, "-o", out)
    _one_line_error(code, err, r"blank\.png: no face found in the source image")
    code, _, err = run_cli("swap", "-s", GROUP, "-t", TARGET, "-o", out)
    _one_line_error(code, err, r"shows 3 faces; pick one with --source-face-index")
    code, _, err = run_cli("swap", "-s", GROUP, "-t", TARGET, "-o", out, "--source-face-index", "5")
    _one_line_error(code, err, r"--source-face-index 5 is out of range")
    assert not out.exists() and _leftovers(tmp_path) == []


def test_bad_outputs_are_refused_before_the_model_loads(tmp_path, loads):
    cases = [
        (tmp_path / "missing" / "out.png", r"folder .*missing does not exist"),
        (tmp_path / "out.txt", r"image output must end in \.png"),
        (TARGET, r"is the target itself"),
    ]
    (tmp_path / "taken.png").write_bytes(b"x")
    cases.append((tmp_path / "taken.png", r"already exists; pass --overwrite"))
    (tmp_path / "file").write_text("x")
    cases.append((tmp_path / "file" / "out.png", r"is not a folder"))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # Root ignores permission bits; /proc refuses new files even to root.
    unwritable = locked if os.geteuid() != 0 else Path("/proc")
    cases.append((unwritable / "out.png", r"cannot write in folder"))
    for output, match in cases:
        code, _, err = run_cli("swap", "-s", SOURCE, "-t", TARGET, "-o", output)
        _one_line_error(code, err, match)
    code, _, err = run_cli("swap", "-s", SOURCE, "-t", tmp_path / "nope.png", "-o", tmp_path / "o.png")
    _one_line_error(code, err, r"--target .*nope\.png: no such file or folder")
    code, _, err = run_cli("swap", "-s", tmp_path / "nope.jpg", "-t", TARGET, "-o", tmp_path / "o.png")
    _one_line_error(code, err, r"--source .*nope\.jpg: no such file")
    assert loads == []
    locked.chmod(0o700)


def test_a_bad_checkpoint_is_one_line_and_writes_nothing(tmp_path):
    pickled = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, pickled)
    out = tmp_path / "out.png"
    code, _, err = run_cli("swap", "-s", SOURCE, "-t", TARGET, "-o", out, "--checkpoint", pickled)
    _one_line_error(code, err, r"not a safetensors file; infoswap never unpickles weights")
    code, _, err = run_cli("swap", "-s", SOURCE, "-t", TARGET, "-o", out, "--checkpoint", checkpoint(),
                           "--preset", "256")
    _one_line_error(code, err, r"checkpoint is for the 128 px preset, not 256")
    assert not out.exists() and _leftovers(tmp_path) == []


def test_face_selection_flags_are_checked(tmp_path, loads):
    from infoswap.cli.swap import SELECTORS
    from infoswap.faces.select import SELECT_MODES

    assert SELECTORS == SELECT_MODES  # the help text's list, kept without importing the face pipeline
    out = tmp_path / "out.png"
    for args, match in (
        (("--face-selector", "many"), r"--face-selector 'many': choose one of all, index, largest, reference"),
        (("--face-selector", "reference"), r"needs --reference"),
        (("--face-selector", "largest", "--reference-threshold", "0"), r"--reference-threshold must lie in"),
        (("--reference", SOURCE), r"--reference is used only with --face-selector reference"),
        (("--face-selector", "reference", "--reference", SOURCE, "--reference-threshold", "3"),
         r"--reference-threshold must lie in \(0, 2\)"),
    ):
        code, _, err = run_cli("swap", "-s", SOURCE, "-t", TARGET, "-o", out, *args)
        _one_line_error(code, err, match)
    assert not out.exists() and loads == []


def test_folder_jobs_mirror_names_and_leave_out_the_output_folder(tmp_path):
    from infoswap.swap.targets import folder_jobs

    src = tmp_path / "in"
    for name in ("a.jpg", "sub/b.bmp", "sub/.a.partial.jpg", "out/old.jpg", "notes.txt"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(b"")
    jobs = folder_jobs(src, src / "out")  # the output folder inside the target is not swapped again
    assert [(j.target.relative_to(src).as_posix(), j.output.relative_to(src).as_posix()) for j in jobs] == [
        ("a.jpg", "out/a.jpg"), ("sub/b.bmp", "out/sub/b.png")]  # bmp is written as png, with its marks

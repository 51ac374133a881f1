"""`infoswap align SRC_DIR OUT_DIR --size N`: crops + manifest, eyes on the template, skips, resumes."""

import csv
import hashlib
import io
import json
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import pytest
from PIL import Image

from infoswap.cli import main
from infoswap.faces.align_folder import COLUMNS, align_folder
from infoswap.faces.template import template_points
from tests.detected_faces import FACES, finder, photo

SIZE = 256


def run_cli(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `infoswap *args`, in process."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["infoswap", *map(str, args)]), redirect_stdout(out), redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code or 0
    return code, out.getvalue(), err.getvalue()


def read_manifest(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


def make_sources(root: Path) -> Path:
    """5 good photos (jpg, png, webp, CMYK jpg; two without a face) in subfolders, 2 bad files, 1 non-image."""
    src = root / "photos"
    (src / "people" / "lisa").mkdir(parents=True)
    (src / "groups").mkdir()
    shutil.copy(FACES / "identities/lisa/1.jpg", src / "people/lisa/1.jpg")
    Image.open(FACES / "identities/london_036/neutral.jpg").save(src / "people/london_036.png")
    shutil.copy(FACES / "groups/composite_london_3.jpg", src / "groups/three.JPEG")
    Image.new("RGB", (320, 240), (90, 120, 150)).save(src / "wall.webp")
    Image.new("CMYK", (320, 240), (60, 30, 0, 90)).save(src / "print.jpg")
    (src / "groups/truncated.jpg").write_bytes((FACES / "identities/lisa/2.jpg").read_bytes()[:4000])
    (src / "people/notes.png").write_text("not a picture")
    (src / "people/readme.txt").write_text("ignored: not an image suffix")
    return src


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> tuple[Path, Path, tuple[int, str, str]]:
    root = tmp_path_factory.mktemp("align")
    src = make_sources(root)
    out = root / "aligned"
    return src, out, run_cli("align", src, out, "--size", SIZE, "--no-progress")


def test_writes_one_png_and_one_row_per_face(aligned):
    src, out, (code, stdout, stderr) = aligned
    assert code == 0, stderr
    rows = read_manifest(out)
    assert sorted((row["source"], row["face_index"]) for row in rows) == [
        ("groups/three.JPEG", "0"), ("groups/three.JPEG", "1"), ("groups/three.JPEG", "2"),
        ("people/lisa/1.jpg", "0"), ("people/london_036.png", "0"),
    ]
    for row in rows:
        with Image.open(out / row["crop"]) as crop:
            assert crop.format == "PNG" and crop.size == (SIZE, SIZE) and crop.mode == "RGB"
        assert row["source_sha256"] == hashlib.sha256((src / row["source"]).read_bytes()).hexdigest()
        box, landmarks = json.loads(row["box"]), np.array(json.loads(row["landmarks"]))
        assert len(box) == 4 and landmarks.shape == (68, 2)
        assert box[0] < landmarks[:, 0].mean() < box[2] and box[1] < landmarks[:, 1].mean() < box[3]
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_summary_counts_what_happened(aligned):
    _, _, (code, stdout, stderr) = aligned
    assert stdout.strip().endswith("read 5 images, wrote 5 faces (256×256); 2 images had no face; "
                                   "skipped 2 files (2 unreadable or failed); converted CMYK to RGB (1 image)")
    assert "skipped groups/truncated.jpg: damaged or truncated image" in stderr
    assert "skipped people/notes.png: not a readable image" in stderr


def test_crops_put_the_eyes_on_the_template(aligned):
    """Landmarks found again on the crops sit on the template points: mean error < 3% of the crop."""
    _, out, _ = aligned
    template = template_points(SIZE)
    errors = []
    for row in read_manifest(out):
        crop = cv2.cvtColor(cv2.imread(str(out / row["crop"])), cv2.COLOR_BGR2RGB)
        faces = finder()(crop)
        assert faces, row["crop"]
        centred = min(faces, key=lambda face: np.linalg.norm(face.landmarks5.mean(0) - template.mean(0)))
        errors.append(np.linalg.norm(centred.landmarks5 - template, axis=1).mean() / SIZE)
    assert np.mean(errors) < 0.03 and max(errors) < 0.05


def test_rerun_skips_everything_done(aligned):
    src, out, _ = aligned
    manifest = (out / "manifest.csv").read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    code, stdout, stderr = run_cli("align", src, out, "--size", SIZE, "--no-progress")
    assert code == 0
    assert stdout.strip().endswith("read 0 images, wrote 0 faces (256×256); "
                                   "skipped 7 files (5 already done, 2 unreadable or failed)")
    assert (out / "manifest.csv").read_bytes() == manifest
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamps


def one_face_everywhere(image: np.ndarray):
    """A stand-in finder (fast): lisa's face, whatever the image."""
    return list(photo("identities/lisa/1.jpg")[1])


def test_crash_mid_append_is_repaired(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name, original in (("a.jpg", "1.jpg"), ("b.jpg", "2.jpg")):
        shutil.copy(FACES / "identities/lisa" / original, src / name)
    out = tmp_path / "out"
    align_folder(src, out, 128, finder=one_face_everywhere, progress=False)
    text = (out / "manifest.csv").read_text()
    last = text.splitlines()[-1]
    (out / "manifest.csv").write_text(text.removesuffix(last + "\n") + last[:40])  # b's row half written
    summary = align_folder(src, out, 128, finder=one_face_everywhere, progress=False)
    assert (summary.done, summary.faces) == (1, 1)
    assert (out / "manifest.csv").read_text() == text


def test_changed_source_replaces_its_old_crops(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(FACES / "identities/lisa/1.jpg", src / "a.jpg")
    out = tmp_path / "out"
    align_folder(src, out, 128, finder=one_face_everywhere, progress=False)
    shutil.copy(FACES / "identities/lisa/3.jpg", src / "a.jpg")
    summary = align_folder(src, out, 128, finder=one_face_everywhere, progress=False)
    [row] = read_manifest(out)
    assert summary.faces == 1
    assert row["source_sha256"] == hashlib.sha256((src / "a.jpg").read_bytes()).hexdigest()


def test_out_dir_inside_src_dir_is_not_read_as_photos(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(FACES / "identities/lisa/1.jpg", src / "a.jpg")
    for _ in range(2):
        summary = align_folder(src, src / "aligned", 128, finder=one_face_everywhere, progress=False)
    assert (summary.read, summary.done, summary.bad) == (0, 1, [])
    assert [row["crop"] for row in read_manifest(src / "aligned")] == ["a.jpg_0.png"]


@pytest.mark.parametrize("make_args, message", [
    (lambda src, out: [src, out, "--size", "300"], "--size 300: choose one of 128, 256, 512, 1024"),
    (lambda src, out: [src / "missing", out], "SRC_DIR {src}/missing: no such folder"),
    (lambda src, out: [src / "a.jpg", out], "SRC_DIR {src}/a.jpg: is a file, expected a folder of photos"),
    (lambda src, out: [src, src / "a.jpg"], "OUT_DIR {src}/a.jpg: exists and is not a folder"),
    (lambda src, out: [src, src], "OUT_DIR {src}: must differ from SRC_DIR (crops would mix with the photos)"),
])
def test_bad_arguments_name_the_flag(tmp_path, make_args, message):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(FACES / "identities/lisa/1.jpg", src / "a.jpg")
    code, stdout, stderr = run_cli("align", *make_args(src, tmp_path / "out"))
    assert code == 2
    assert stderr.strip() == "infoswap: error: " + message.format(src=src)


def test_foreign_manifest_is_not_overwritten(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    (out / "manifest.csv").write_text("path,identity\nx.png,someone\n")
    code, _, stderr = run_cli("align", src, out)
    assert code == 2 and "was not written by `infoswap align`" in stderr
    assert (out / "manifest.csv").read_text() == "path,identity\nx.png,someone\n"


def test_help_names_the_sizes_and_the_face_order():
    code, stdout, _ = run_cli("align", "--help")
    assert code == 0
    assert "1024" in stdout and "leftmost" in stdout  # rich wraps the text to the terminal

"""`infoswap faces` as a user runs it: the JSON schema, the drawn picture, and one clear line for bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FACES
from infoswap.io.images import read_image

GROUP = FACES / "groups" / "human_group-4.jpg"
SAME_PERSON_BOX = (230, 40, 230)  # infoswap.faces.draw._SAME_PERSON_BOX
CLI = [sys.executable, "-c", "from infoswap.cli import main; main()", "faces"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=300)


def test_json_schema_and_drawing(tmp_path: Path) -> None:
    out = tmp_path / "faces.png"
    result = run(str(GROUP), "--json", "--draw", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # stdout is exactly one JSON object
    assert set(report) == {"image", "faces"} and report["image"] == str(GROUP)
    faces = report["faces"]
    assert len(faces) == 5
    for rank, face in enumerate(faces):
        assert set(face) == {"index", "box", "score", "landmarks5", "landmarks68"}
        assert face["index"] == rank
        x1, y1, x2, y2 = face["box"]
        assert 0 <= x1 < x2 <= 1280 and 0 <= y1 < y2 <= 960
        assert 0.5 < face["score"] <= 1
        assert np.shape(face["landmarks5"]) == (5, 2) and np.shape(face["landmarks68"]) == (68, 2)
        nose_x, nose_y = face["landmarks5"][2]
        assert x1 < nose_x < x2 and y1 < nose_y < y2
    centres = [(f["box"][0] + f["box"][2]) / 2 for f in faces]
    assert centres == sorted(centres)

    drawn = np.asarray(Image.open(out).convert("RGB"))
    original = read_image(GROUP).pixels
    assert drawn.shape == original.shape
    assert [p.name for p in tmp_path.iterdir()] == ["faces.png"], "temp file left behind"
    changed = np.abs(drawn.astype(int) - original).max(-1) > 30
    assert 0.001 < changed.mean() < 0.2, "the drawing changes the faces' surroundings, not the whole picture"


def test_no_face_is_an_empty_list_not_an_error(tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(blank)
    table = run(str(blank))
    assert table.returncode == 0, table.stderr
    assert "no face found" in table.stdout
    as_json = run(str(blank), "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == {"image": str(blank), "faces": []}


def _truncated(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.jpg"
    path.write_bytes(GROUP.read_bytes()[:20_000])
    return path


def _not_an_image(tmp_path: Path) -> Path:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n")
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.jpg", "no such file"),
        (_not_an_image, "not a readable image"),
        (_truncated, "truncated"),
    ],
    ids=["missing", "not-an-image", "truncated"],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    result = run(str(path), "--draw", str(tmp_path / "out.png"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_unwritable_draw_target_is_refused_before_work(tmp_path: Path) -> None:
    result = run(str(GROUP), "--draw", str(tmp_path / "no" / "such" / "folder" / "out.png"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def _composite_people(name: str) -> list[str]:
    """The identities a composite shows, left to right (manifest.csv, written by tools/make_composites.py)."""
    with (FACES / "manifest.csv").open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["path"] == f"assets/faces/groups/{name}")
    return row["identity"].split(";")


def test_reference_matches_only_that_persons_face_in_json_and_drawing(tmp_path: Path) -> None:
    # composite_london_4 is built from the neutral photos: the smiling one is a different picture of the person.
    composite = FACES / "groups" / "composite_london_4.jpg"
    people = _composite_people(composite.name)
    reference = FACES / "identities" / "london_025" / "smiling.jpg"
    out = tmp_path / "faces.png"
    result = run(str(composite), "--json", "--reference", str(reference), "--draw", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["reference"] == str(reference) and report["reference_threshold"] == 0.06
    faces = report["faces"]
    assert len(faces) == len(people)
    for face in faces:
        assert set(face) == {"index", "box", "score", "landmarks5", "landmarks68",
                             "reference_distance", "reference_match"}
        assert face["reference_match"] is (face["reference_distance"] < 0.06)
    assert [f["reference_match"] for f in faces] == [p == "london_025" for p in people]
    ordered = sorted(f["reference_distance"] for f in faces)
    assert ordered[0] < 0.04 and ordered[1] > 0.1, "same person close, the others far"

    drawn = np.asarray(Image.open(out).convert("RGB")).astype(int)
    magenta = np.abs(drawn - SAME_PERSON_BOX).max(-1) < 40  # (H, W)
    for face in faces:
        x1, y1, x2, y2 = (int(v) for v in face["box"])
        outline = magenta[max(y1 - 40, 0):y2 + 10, max(x1 - 10, 0):x2 + 10].sum()
        assert (outline > 200) == face["reference_match"], (face["index"], outline)


def test_reference_columns_in_the_table() -> None:
    composite = FACES / "groups" / "composite_london_3.jpg"
    people = _composite_people(composite.name)
    reference = FACES / "identities" / "london_092" / "neutral.jpg"  # the composite shows the smiling photo
    result = run(str(composite), "--reference", str(reference), "--reference-threshold", "0.05")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "< 0.05" in lines[1] and str(reference) in lines[1]
    header = lines[2].split()
    assert header[:4] == ["index", "score", "distance", "same"]
    rows = [line.split() for line in lines[3:]]
    assert len(rows) == len(people)
    assert [row[3] for row in rows] == ["yes" if p == "london_092" else "no" for p in people]
    assert all((float(row[2]) < 0.05) == (row[3] == "yes") for row in rows)


def test_reference_without_a_face_is_one_clear_line(tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(blank)
    result = run(str(GROUP), "--json", "--reference", str(blank), "--draw", str(tmp_path / "out.png"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no face found" in lines[0] and str(blank) in lines[0], result.stderr
    assert not (tmp_path / "out.png").exists()


def test_reference_threshold_needs_a_reference() -> None:
    result = run(str(GROUP), "--reference-threshold", "0.1")
    assert result.returncode == 2 and "--reference" in result.stderr and "Traceback" not in result.stderr

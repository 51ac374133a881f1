"""`infoswap faces` as a user runs it: the JSON schema, the drawn picture, and one clear line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infoswap.io.images import read_image

REPO = Path(__file__).resolve().parents[1]
GROUP = REPO / "assets" / "faces" / "groups" / "human_group-4.jpg"
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

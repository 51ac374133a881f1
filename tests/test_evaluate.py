"""`infoswap evaluate`: metrics that can fail (real photos as stand-in swaps), the JSON schema, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from infoswap.cli.app import app
from infoswap.errors import InfoswapError
from infoswap.evaluate import judge as judge_module
from infoswap.evaluate.evaluation import evaluate_pairs
from infoswap.evaluate.judge import IndependentJudge
from infoswap.evaluate.manifest import read_manifest
from infoswap.evaluate.metrics import EXPRESSION_MEASURES, expression_error, face_geometry, pose_error

REPO = Path(__file__).resolve().parents[1]
IDENTITIES = REPO / "assets" / "faces" / "identities"
FACEAPI_REFERENCE = REPO / "tests" / "fixtures" / "faceapi_reference.json"
# Six people; each is a source (neutral photo) for two targets, the next two people's smiling photos.
PEOPLE = ["london_006", "london_021", "london_024", "london_025", "london_036", "london_038"]
CLI = [sys.executable, "-c", "from infoswap.cli import main; main()", "evaluate"]


class CachedJudge(IndependentJudge):
    """Analyses each distinct picture once per test module: the same photos recur across tests."""

    def __init__(self):
        super().__init__()
        self._seen: dict[bytes, tuple] = {}

    def embed_faces(self, image):
        key = image.shape[:2] + (hash(image.tobytes()),)
        if key not in self._seen:
            self._seen[key] = super().embed_faces(image)
        return self._seen[key]


@pytest.fixture(scope="module")
def judge() -> CachedJudge:
    return CachedJudge()


def write_manifest(folder: Path, rows: list[tuple[Path, Path, Path]], name: str = "pairs.csv") -> Path:
    """A manifest with paths relative to its own folder (as `swap --manifest` writes them)."""
    lines = ["source,target,swap"] + [",".join(os.path.relpath(p, folder) for p in row) for row in rows]
    (folder / name).write_text("\n".join(lines) + "\n")
    return folder / name


def photo_pairs(swap_is: str) -> list[tuple[Path, Path, Path]]:
    rows = []
    for i, person in enumerate(PEOPLE):
        for step in (1, 2):
            source = IDENTITIES / person / "neutral.jpg"
            target = IDENTITIES / PEOPLE[(i + step) % len(PEOPLE)] / "smiling.jpg"
            # "source": the source person's *other* photo, so the swap is not the source file itself.
            swap = IDENTITIES / person / "smiling.jpg" if swap_is == "source" else target
            rows.append((source, target, swap))
    return rows


def test_swap_showing_the_source_person_is_retrieved(tmp_path, judge):
    report = evaluate_pairs(read_manifest(write_manifest(tmp_path, photo_pairs("source"))), judge)
    assert report["pairs_scored"] == 12 and report["sources"] == 6
    assert report["id_retrieval"] == 1.0
    assert report["cos_to_source"] > report["cos_to_target"] + 0.3
    assert all(p["cos_to_source"] > p["cos_to_target"] + 0.2 for p in report["pairs"])
    assert report["identity_discriminability"] > 0.9


def test_swap_showing_the_target_is_near_chance(tmp_path, judge):
    report = evaluate_pairs(read_manifest(write_manifest(tmp_path, photo_pairs("target"))), judge)
    assert report["retrieval_chance"] == pytest.approx(1 / 6)
    assert report["id_retrieval"] <= 2 / 6
    assert report["cos_to_target"] > 0.999 and report["cos_to_source"] < 0.6
    # The swap is the target picture itself: pose and expression agree exactly.
    assert all(p["pose_error"] == 0 and p["expression_error"] == 0 for p in report["pairs"])


def test_pose_error_grows_when_the_head_turns(tmp_path, judge):
    """A mirrored photo of a tilted head and a photo rotated by 15° differ in pose from the original."""
    rows = []
    for person, name, change in (("lisa", "3.jpg", "flip"), ("london_006", "neutral.jpg", "rotate")):
        target = IDENTITIES / person / name
        pixels = np.asarray(Image.open(target).convert("RGB"))
        height, width = pixels.shape[:2]
        if change == "flip":
            changed = pixels[:, ::-1]
        else:
            changed = cv2.warpAffine(pixels, cv2.getRotationMatrix2D((width / 2, height / 2), 15, 1.0), (width, height))
        swap = tmp_path / f"{person}_{change}.png"
        Image.fromarray(np.ascontiguousarray(changed)).save(swap)
        rows.append((IDENTITIES / "london_021" / "neutral.jpg", target, swap))
    report = evaluate_pairs(read_manifest(write_manifest(tmp_path, rows)), judge)
    flipped, rotated = report["pairs"]
    assert flipped["pose_error"] > 20  # the head's roll (about 20°) changes sign
    assert 12 < rotated["pose_error"] < 20
    assert abs(abs(rotated["pose_swap"][2] - rotated["pose_target"][2]) - 15) < 3  # it is the roll


def test_expression_measures_follow_a_smile_and_ignore_pose():
    """face-api's landmarks of the 12 London people: smiling widens the mouth and lifts its corners;
    rotating the same landmarks in the image changes the roll by 15° and the expression not at all."""
    detections = json.loads(FACEAPI_REFERENCE.read_text())["images"]
    geometry = {path: face_geometry(np.asarray(found[0]["landmarks68"]), 600, 600)
                for path, found in detections.items() if "/identities/london_" in path}
    people = sorted({Path(path).parent.name for path in geometry})
    width, lift = EXPRESSION_MEASURES.index("mouth width"), EXPRESSION_MEASURES.index("mouth-corner lift")
    for person in people:
        neutral, smiling = (geometry[f"assets/faces/identities/{person}/{name}.jpg"] for name in ("neutral", "smiling"))
        assert smiling.expression[width] > neutral.expression[width], person
        assert smiling.expression[lift] > neutral.expression[lift], person
        assert expression_error(smiling, neutral) > 0.02, person

    points = np.asarray(detections["assets/faces/identities/london_021/smiling.jpg"][0]["landmarks68"])
    turned = cv2.transform(points[None], cv2.getRotationMatrix2D((300, 300), 15, 1.0))[0]
    original, rotated = face_geometry(points, 600, 600), face_geometry(turned, 600, 600)
    assert abs(pose_error(rotated, original) - 15) < 0.5
    assert expression_error(rotated, original) < 1e-6


def test_cli_json_table_and_plot(tmp_path, judge, monkeypatch):
    monkeypatch.setattr(judge_module, "IndependentJudge", lambda: judge)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (256, 256), (128, 128, 128)).save(blank)
    rows = photo_pairs("source")[:6] + [(IDENTITIES / "london_006" / "neutral.jpg",
                                         IDENTITIES / "london_021" / "smiling.jpg", blank)]
    manifest = write_manifest(tmp_path, rows)
    out, plot = tmp_path / "report.json", tmp_path / "scatter.png"
    result = CliRunner().invoke(app, ["evaluate", "--manifest", str(manifest), "--json", str(out), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "ID retrieval top-1" in result.output and "1 swaps without a face" in result.output

    report = json.loads(out.read_text())
    for key in ("id_retrieval", "cos_to_source", "cos_to_target", "pose_error", "expression_error",
                "identity_discriminability"):
        assert isinstance(report[key], float), key
    assert report["fid"] is None and report["kid"] is None and any("FID" in n for n in report["notes"])
    assert (report["pairs_total"], report["pairs_scored"], report["swaps_without_face"]) == (7, 6, 1)
    assert len(report["pairs"]) == 7 and report["pairs"][-1]["status"] == "no face in swap"
    scored = report["pairs"][0]
    assert {"row", "source", "target", "swap", "status", "nearest_source", "retrieved", "cos_to_source",
            "cos_to_target", "pose_error", "expression_error", "pose_target", "pose_swap"} <= set(scored)
    assert scored["row"] == 2 and scored["source"] == str(rows[0][0]) and len(scored["pose_swap"]) == 3

    picture = cv2.imread(str(plot))
    assert picture is not None and picture.shape[0] > 300 and picture.std() > 10
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "temp file left behind"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case, message", [
    ("no csv", "manifest .*missing.csv does not exist"),
    ("no column", "lacks column\\(s\\) swap; its header must name source,target,swap"),
    ("no file", "line 3: swap image .*nowhere.jpg does not exist"),
    ("no rows", "has a header but no rows"),
    ("empty cell", "line 2: empty target"),
])
def test_bad_manifest_is_named(tmp_path, case, message):
    photo = IDENTITIES / "lisa" / "1.jpg"
    manifest = tmp_path / ("missing.csv" if case == "no csv" else "m.csv")
    body = {
        "no column": f"source,target\n{photo},{photo}\n",
        "no file": f"source,target,swap\n{photo},{photo},{photo}\n{photo},{photo},nowhere.jpg\n",
        "no rows": "source,target,swap\n",
        "empty cell": f"source,target,swap\n{photo},,{photo}\n",
    }.get(case)
    if body is not None:
        manifest.write_text(body)
    with pytest.raises(InfoswapError, match=message):
        read_manifest(manifest)


def test_cli_reports_bad_input_on_one_line(tmp_path):
    for args, needle in (
        (["--manifest", str(tmp_path / "missing.csv")], "does not exist"),
        (["--manifest", str(tmp_path / "m.csv"), "--plot", str(tmp_path / "scatter.jpg")], "--plot"),
    ):
        result = run_cli(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith("infoswap: error: ") and needle in lines[0]

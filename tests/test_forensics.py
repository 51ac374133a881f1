"""The forgery-detection study: build → train → eval → finetune on bundled faces, the metrics on cases with
known answers, the split and resume guarantees, and every bad input the commands must refuse in one line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import infoswap.cli  # noqa: F401  (registers the commands on the app)
from infoswap.cli.app import app
from infoswap.errors import InfoswapError
from infoswap.forensics import forgery
from infoswap.forensics.detector import DetectorConfig
from infoswap.forensics.manifest import SetRow, manifest_text, read_set
from infoswap.forensics.metrics import detection_metrics
from infoswap.forensics.scoring import score
from infoswap.forensics.snapshot import LoadedDetector, load_detector
from infoswap.forensics.split import assign_splits, pair_sources
from infoswap.forensics.training import train_detector
from swap_fixtures import FACES, REPO, CachingFinder, session_dir

CLI = [sys.executable, "-m", "infoswap"]
PEOPLE = ("london_006", "london_008", "london_021", "london_024")  # 2 per split at --test-fraction 0.5
TINY = ["--size", "32", "--width", "4", "--depth", "2", "--batch", "4"]


# --- shared set-up -------------------------------------------------------------------------------------

@cache
def tiny_checkpoint() -> Path:
    """A freshly initialised, narrow 32 px InfoSwap (dlib recogniser) as the training code writes snapshots:
    the swap_fixtures approach, smaller, so a swap costs little more than the recogniser."""
    from infoswap.config import ModelConfig
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.checkpoint import network_name, write_network_snapshot

    torch.manual_seed(0)
    cfg = ModelConfig(resolution=32, channels=(16, 16, 8, 3), decoder_channels=(16, 16, 8, 8),
                      disc_channels=(8, 8, 16, 16), iib_hidden=16)
    path = session_dir() / "tiny" / network_name(1)
    path.parent.mkdir(exist_ok=True)
    write_network_snapshot(path, {"model": InfoSwap(cfg, load_recognizer("dlib")).state_dict()}, asdict(cfg))
    return path


@pytest.fixture(scope="module")
def finder() -> CachingFinder:
    """One face finder for the module: each distinct picture is detected once, whichever build asks."""
    return CachingFinder()


@pytest.fixture
def shared_finder(monkeypatch, finder):
    monkeypatch.setattr(forgery, "RememberingFinder", lambda: finder)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, ["forensics", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["forensics", *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def rows_of(set_dir: Path) -> list[dict]:
    with open(set_dir / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


# --- the study end to end ------------------------------------------------------------------------------

def test_build_train_eval_finetune_end_to_end(tmp_path, shared_finder):
    images = tmp_path / "identities"
    for person in PEOPLE:
        (images / person).mkdir(parents=True)
        (images / person / "neutral.jpg").symlink_to(FACES / "identities" / person / "neutral.jpg")
    common = ["--images", str(images), "--size", "32", "--test-fraction", "0.5", "--no-progress"]
    paste, swapped = tmp_path / "paste", tmp_path / "infoswap"
    out = invoke("build", *common, "--method", "paste", "--out", str(paste))
    assert "4 real/fake pairs from 4 targets of 4 identities" in out and "pasted source" in out
    invoke("build", *common, "--method", "infoswap", "--checkpoint", str(tiny_checkpoint()), "--out", str(swapped))

    for set_dir in (paste, swapped):
        rows = rows_of(set_dir)
        assert [r["label"] for r in rows] == ["real", "fake"] * 4
        splits = defaultdict(set)
        for r in rows:
            splits[r["identity"]].add(r["split"])
        assert all(len(s) == 1 for s in splits.values()) and sorted(sum(map(list, splits.values()), [])) == \
            ["test", "test", "train", "train"]
        for real, fake in zip(rows[::2], rows[1::2]):
            assert (real["target"], real["frame"]) == (fake["target"], fake["frame"])
            assert fake["source_identity"] not in ("", fake["identity"])
            assert splits[fake["source_identity"]] == splits[fake["identity"]]  # no identity crosses the split
            a, b = (cv2.imread(str(set_dir / r["path"])).astype(int) for r in (real, fake))
            assert a.shape == b.shape == (32, 32, 3)
            diff = np.abs(a - b)
            assert diff[8:24, 8:24].mean() > 4 and diff[:3, :3].max() == diff[:3, -3:].max() == 0  # face, not corners
    # Same targets, same alignment: the real crops agree; the fakes come from two different forgers.
    for p, s in zip(rows_of(paste), rows_of(swapped)):
        same = np.array_equal(cv2.imread(str(paste / p["path"])), cv2.imread(str(swapped / s["path"])))
        assert same == (p["label"] == "real")
    info = json.loads((swapped / "build.json").read_text())
    assert info["method"] == "infoswap" and info["checkpoint_sha256"] and info["pairs"] == {"train": 2, "test": 2}

    detector = tmp_path / "detector"
    out = invoke("train", "--manifest", str(paste / "manifest.csv"), "--out", str(detector), "--steps", "4", *TINY,
                 "--no-progress")
    assert "detector at step 4" in out
    report = tmp_path / "eval.json"
    out = invoke("eval", "--detector", str(detector), "--set", str(swapped), "--json", str(report))
    assert "| method" in out and "| AUC" in out and "InfoSwap (tiny/network-snapshot-00000001)" in out
    scores = json.loads(report.read_text())
    assert {"auc", "ap", "f1", "mse"} <= set(scores) and (scores["real"], scores["fake"]) == (2, 2)
    assert all(0 <= scores[k] <= 1 for k in ("auc", "ap", "f1", "mse"))
    out = invoke("eval", "--detector", str(detector), "--set", str(paste), "--set", str(swapped), "--json", str(report))
    assert "| pasted source " in out and "| InfoSwap (tiny/" in out  # App. Table 2: a row per method
    assert [r["method"] for r in json.loads(report.read_text())["sets"]] == ["pasted source", scores["method"]]

    both = tmp_path / "finetune.json"
    out = invoke("finetune", "--detector", str(detector), "--set", str(swapped), "--steps", "3", "--batch", "4",
                 "--json", str(both), "--no-progress")
    assert "| detector" in out and "detector (further trained)" in out
    results = json.loads(both.read_text())
    assert results["original"] == scores
    further = load_detector(swapped / "further-trained-detector")
    original = load_detector(detector)
    assert further.step == 3 and original.step == 4
    assert any(not torch.equal(a, b) for a, b in zip(further.model.state_dict().values(),
                                                      original.model.state_dict().values()))


def test_videos_give_evenly_spaced_frames_and_take_identity_from_the_stem(tmp_path, shared_finder):
    videos = tmp_path / "videos"
    videos.mkdir()
    for person in ("anna", "ben", "cleo", "dev"):
        (videos / f"{person}.mp4").symlink_to(REPO / "assets" / "video" / "sample.mp4")
    out = tmp_path / "set"
    invoke("build", "--videos", str(videos), "--out", str(out), "--method", "paste", "--frames", "2", "--size", "32",
           "--test-fraction", "0.5", "--no-progress")
    rows = rows_of(out)
    assert sorted({r["identity"] for r in rows}) == ["anna", "ben", "cleo", "dev"]
    assert sorted((r["target"], r["frame"]) for r in rows if r["label"] == "real") == \
        sorted((f"{p}.mp4", f) for p in ("anna", "ben", "cleo", "dev") for f in ("0", "1"))
    frames = [cv2.imread(str(out / r["path"])) for r in rows if r["label"] == "real" and r["target"] == "anna.mp4"]
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 1  # two different moments of the clip


# --- metrics -------------------------------------------------------------------------------------------

def test_metrics_on_a_hand_made_case():
    # Pairs (fake, real): (.4, .1) right, (.4, .6) wrong, (.8, .1) and (.8, .6) right -> AUC 3/4. Ranked:
    # .8 fake (precision 1), .6 real, .4 fake (precision 2/3) -> AP (1 + 2/3) / 2. Called fake: .6 and .8 ->
    # TP 1, FP 1, FN 1 -> F1 1/2. MSE (.01 + .36 + .36 + .04) / 4.
    m = detection_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.8]))
    assert m == pytest.approx({"auc": 0.75, "ap": 5 / 6, "f1": 0.5, "mse": 0.1925})


def test_metrics_of_a_perfect_and_a_constant_scorer():
    labels = np.array([0, 1, 1, 0, 1, 0])
    assert detection_metrics(labels, labels.astype(float)) == {"auc": 1.0, "ap": 1.0, "f1": 1.0, "mse": 0.0}
    constant = detection_metrics(labels, np.full(6, 0.5))
    assert constant == pytest.approx({"auc": 0.5, "ap": 0.5, "f1": 0.0, "mse": 0.25})
    with pytest.raises(InfoswapError, match="all 3 faces are real"):
        detection_metrics(np.zeros(3), np.full(3, 0.2))


def write_set(folder: Path, splits: dict[str, tuple[str, ...]], size: int = 16) -> Path:
    """A hand-made set: real crops dark, fake crops bright (plus a little noise), one identity per row pair."""
    rng = np.random.default_rng(0)
    rows = []
    for split, labels in splits.items():
        for i, label in enumerate(labels):
            path = f"{label}/{split}{i}.png"
            (folder / label).mkdir(parents=True, exist_ok=True)
            level = 200 if label == "fake" else 50
            cv2.imwrite(str(folder / path), np.clip(level + rng.normal(0, 10, (size, size, 3)), 0, 255).astype(np.uint8))
            rows.append(SetRow(path, label, split, identity=f"{split}-{i // 2}"))
    (folder / "manifest.csv").write_text(manifest_text(rows))
    return folder


BALANCED = {"train": ("real", "fake") * 4, "test": ("real", "fake") * 3}


class Oracle(nn.Module):
    """Logit = gain · mean pixel: on the hand-made set that is the label (bright fake), or nothing at gain 0."""

    cfg = DetectorConfig(size=16, depth=1)

    def __init__(self, gain: float):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(gain))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.gain * faces.mean((1, 2, 3)) * 2.5  # real ≈ −0.6, fake ≈ +0.6 before the gain


def test_scoring_a_detector_that_outputs_the_label_or_a_constant(tmp_path):
    data = read_set(write_set(tmp_path, BALANCED))
    perfect = score(LoadedDetector(Oracle(100.0), tmp_path / "oracle", 0, {}), data, "test")
    assert (perfect["auc"], perfect["ap"], perfect["f1"]) == (1.0, 1.0, 1.0) and perfect["mse"] < 1e-12
    constant = score(LoadedDetector(Oracle(0.0), tmp_path / "constant", 0, {}), data, "test")
    assert constant["auc"] == 0.5 and constant["mse"] == pytest.approx(0.25)
    assert (constant["real"], constant["fake"]) == (3, 3)


# --- split and resume ----------------------------------------------------------------------------------

def test_the_split_is_deterministic_disjoint_and_sources_stay_inside_it():
    names = [f"person{i}" for i in range(13)]
    splits = assign_splits(names, 0.3, seed=0)
    assert splits == assign_splits(list(reversed(names)), 0.3, seed=0)
    assert sum(s == "test" for s in splits.values()) == 4
    assert assign_splits(names, 0.3, seed=1) != splits
    sources = pair_sources(splits, seed=0)
    assert all(sources[n] != n and splits[sources[n]] == splits[n] for n in names)
    assert sorted(sources.values()) == sorted(names)  # every identity is a source once
    with pytest.raises(InfoswapError, match="found 3 identities; a set needs at least 4"):
        assign_splits(names[:3], 0.5, seed=0)


def test_training_resumes_bit_exactly_and_refuses_changed_settings(tmp_path):
    data = read_set(write_set(tmp_path / "set", BALANCED))
    arch = {"size": 16, "width": 4, "depth": 1}

    def run(folder: str, steps: int, **settings):
        return train_detector(data, "train", tmp_path / folder, arch=arch, settings={"steps": steps, "batch": 3,
                              **settings}, snapshot_every=2, progress=False, log=lambda _: None)

    straight = run("straight", 5)
    run("resumed", 2)
    resumed = run("resumed", 5)
    assert resumed.start == 2 and resumed.detector.step == straight.detector.step == 5
    for a, b in zip(straight.detector.model.state_dict().values(), resumed.detector.model.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(InfoswapError, match="--lr 0.5: the detector in .* was made with 0.001"):
        run("resumed", 6, lr=0.5)


# --- bad input: one line, non-zero exit, no traceback ----------------------------------------------------

def refused(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr, proc.stderr


def test_a_manifest_with_missing_files_is_refused(tmp_path):
    folder = write_set(tmp_path / "set", BALANCED)
    (folder / "fake" / "train1.png").unlink()
    (folder / "real" / "train2.png").unlink()
    refused(run_cli("train", "--manifest", str(folder / "manifest.csv"), "--out", str(tmp_path / "d")),
            "fake/train1.png does not exist (and 1 more)")
    assert not (tmp_path / "d").exists()


def test_a_split_with_one_class_is_refused(tmp_path):
    folder = write_set(tmp_path / "set", {"train": ("real", "fake"), "test": ("real",) * 3})
    refused(run_cli("eval", "--detector", str(tmp_path / "none"), "--set", str(folder)),
            "split test: all 3 faces are real; it needs both real and fake faces")


def test_an_unknown_detector_file_is_refused(tmp_path):
    from infoswap.train.checkpoint import write_network_snapshot

    folder = write_set(tmp_path / "set", BALANCED)
    text = tmp_path / "detector.safetensors"
    text.write_text("not weights")
    generator = tmp_path / "generator.safetensors"
    write_network_snapshot(generator, {"model": {"w": torch.zeros(2)}}, {"resolution": 128})
    for detector, message in ((text, "not a safetensors file"), (generator, "not a forgery detector")):
        refused(run_cli("eval", "--detector", str(detector), "--set", str(folder)), message)
    with pytest.raises(InfoswapError, match="nowhere: no such file or folder"):
        load_detector(tmp_path / "nowhere")
    with pytest.raises(InfoswapError, match="holds no complete checkpoint"):
        load_detector(folder)


def test_a_build_with_too_few_identities_is_refused_before_any_model_loads(tmp_path):
    for person in PEOPLE[:3]:
        (tmp_path / "faces" / person).mkdir(parents=True)
        (tmp_path / "faces" / person / "a.jpg").symlink_to(FACES / "identities" / person / "neutral.jpg")
    refused(run_cli("build", "--images", str(tmp_path / "faces"), "--out", str(tmp_path / "set")),
            "found 3 identities; a set needs at least 4")
    refused(run_cli("build", "--images", str(tmp_path / "faces"), "--videos", str(tmp_path), "--out", "x"),
            "give exactly one of --videos DIR or --images DIR")

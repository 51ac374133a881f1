"""The SSD MobileNet v1 port against face-api itself on the bundled photos, its NMS, and the FaceFinder."""

from __future__ import annotations

import csv
import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from infoswap.errors import InfoswapError
from infoswap.faces.detect import WEIGHTS, SsdFaceDetector, greedy_nms
from infoswap.io.images import read_image
from infoswap.weights import store

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "assets" / "faces"
REFERENCE = json.loads((REPO / "tests" / "fixtures" / "faceapi_reference.json").read_text())["images"]
BOX_TOLERANCE_PX = 2.0
SCORE_TOLERANCE = 0.01
# Faces a person counts in each real group photo (assets/README.md); composites list theirs in manifest.csv.
GROUP_FACES = {"human_group-3.jpg": 4, "human_group-4.jpg": 5, "human_group-5.jpg": 7}
# face-api's default 0.5 misses two of them (a studio portrait at 0.45, sunglasses under a hat at 0.28);
# no non-face in these photos scores above 0.1, so 0.25 is where "every face" is checked.
ALL_FACES_SCORE = 0.25
# A quick subset for the default run; the slow test covers every fixture image.
QUICK = [p for p in REFERENCE if "/groups/" in p] + ["assets/faces/identities/lisa/3.jpg"]


@cache
def detector(min_score: float = 0.5) -> SsdFaceDetector:
    shared = None if min_score == 0.5 else detector().net
    return SsdFaceDetector(min_score=min_score, net=shared)


@cache
def pixels(relative: str) -> np.ndarray:
    return read_image(REPO / relative).pixels


def worst_difference(relative: str) -> tuple[float, float]:
    """(worst box coordinate difference in px, worst score difference) against face-api on one photo."""
    boxes, scores = detector().detect(pixels(relative))
    reference = REFERENCE[relative]
    assert len(boxes) == len(reference), f"{relative}: {len(boxes)} faces, face-api found {len(reference)}"
    if not reference:
        return 0.0, 0.0
    # Both lists come best score first; match by order, which the score check then confirms.
    ref_boxes = np.array([f["box"] for f in reference])
    ref_scores = np.array([f["score"] for f in reference])
    return float(np.abs(boxes - ref_boxes).max()), float(np.abs(scores - ref_scores).max())


@pytest.mark.parametrize("relative", QUICK)
def test_matches_faceapi(relative: str) -> None:
    box, score = worst_difference(relative)
    assert box <= BOX_TOLERANCE_PX and score <= SCORE_TOLERANCE, (relative, box, score)


@pytest.mark.slow
def test_matches_faceapi_on_every_bundled_photo() -> None:
    worst = {relative: worst_difference(relative) for relative in REFERENCE}
    assert len(worst) >= 37
    assert max(b for b, _ in worst.values()) <= BOX_TOLERANCE_PX, worst
    assert max(s for _, s in worst.values()) <= SCORE_TOLERANCE, worst


def expected_group_faces() -> dict[str, int]:
    with open(FACES / "manifest.csv", newline="") as f:
        composites = {Path(r["path"]).name: len(r["identity"].split(";"))
                      for r in csv.DictReader(f) if Path(r["path"]).name.startswith("composite_")}
    return GROUP_FACES | composites


@pytest.mark.parametrize("name", sorted(expected_group_faces()))
def test_finds_every_face_of_each_group_photo(name: str) -> None:
    expected = expected_group_faces()[name]
    boxes, scores = detector(ALL_FACES_SCORE).detect(pixels(f"assets/faces/groups/{name}"))
    assert len(boxes) == expected, (name, scores.round(3))
    sizes = boxes[:, 2:] - boxes[:, :2]
    assert (sizes > 40).all(), "every group face is at least 40 px across"


def naive_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, max_results: int) -> list[int]:
    """face-api's loop, transcribed literally: visit by score, drop a box that overlaps a kept one too much."""
    def iou(a: np.ndarray, b: np.ndarray) -> float:
        area_a, area_b = np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2])
        if area_a <= 0 or area_b <= 0:
            return 0.0
        inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
        return inter / (area_a + area_b - inter)

    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if len(kept) < max_results and all(iou(boxes[i], boxes[j]) <= threshold for j in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_nms_equals_the_sequential_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 1, (300, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.02, 0.3, (300, 2))], axis=1)
    scores = rng.uniform(0, 1, 300).round(2)  # rounding makes ties, which must keep input order
    max_results = 1000 if seed < 2 else 7
    ours = greedy_nms(torch.from_numpy(boxes).float(), torch.from_numpy(scores).float(), 0.5, max_results)
    expected = naive_nms(boxes.astype(np.float32).astype(np.float64), scores.astype(np.float32), 0.5, max_results)
    assert ours.tolist() == expected
    assert len(expected) > 7 or max_results == 7


@pytest.mark.parametrize("shape", [(720, 1280), (600, 450), (488, 1026), (512, 512), (300, 200)])
def test_net_input_equals_pad_to_square_then_tf_resize(shape: tuple[int, int]) -> None:
    from infoswap.faces.tf_ops import pad_to_square, resize_bilinear

    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    square = pad_to_square(torch.from_numpy(image).permute(2, 0, 1)[None], centre=False)
    expected = resize_bilinear(square, 512, 512) / 127.5 - 1
    assert (detector().net_input(image) - expected).abs().max() < 0.02 / 127.5  # under 0.02 of a grey level


def test_conv_padding_equals_explicit_padding_of_every_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """SameConv2d pads through the conv where TF's padding is symmetric; padding every layer's input
    with F.pad first (the plain definition) must give the same detector output on a real photo."""
    import torch.nn.functional as F

    from infoswap.faces import tf_ops

    def padded_first(conv: tf_ops.SameConv2d, x: torch.Tensor) -> torch.Tensor:
        top, bottom = tf_ops._same_padding(x.shape[-2], conv.kernel_size[0], conv.stride[0])
        left, right = tf_ops._same_padding(x.shape[-1], conv.kernel_size[1], conv.stride[1])
        return torch.nn.Conv2d.forward(conv, F.pad(x, (left, right, top, bottom)))

    net_input = detector().net_input(pixels("assets/faces/groups/human_group-4.jpg")[120:840])
    with torch.no_grad():
        boxes, scores = detector().net(net_input)
        monkeypatch.setattr(tf_ops.SameConv2d, "forward", padded_first)
        plain_boxes, plain_scores = detector().net(net_input)
    assert (boxes - plain_boxes).abs().max() < 1e-5 and (scores - plain_scores).abs().max() < 1e-5


def test_blank_image_has_no_face() -> None:
    boxes, scores = detector().detect(np.full((240, 320, 3), 128, np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_rejects_non_rgb_input_and_bad_options() -> None:
    with pytest.raises(InfoswapError, match="uint8 RGB"):
        detector().detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(InfoswapError, match="min score"):
        SsdFaceDetector(min_score=1.0)


def test_corrupted_weights_name_the_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    shutil.copytree(store.SHIPPED_DIR, data)
    damaged = bytearray((data / WEIGHTS).read_bytes())
    damaged[-1] ^= 0xFF
    (data / WEIGHTS).write_bytes(bytes(damaged))
    monkeypatch.setattr(store, "SHIPPED_DIR", data)
    monkeypatch.setattr(store, "CHECKSUMS", data / "SHA256SUMS")
    store._expected_checksums.cache_clear()
    try:
        with pytest.raises(InfoswapError, match=r"corrupted: sha256"):
            _ = SsdFaceDetector().net
    finally:
        store._expected_checksums.cache_clear()


def test_finder_ranks_faces_left_to_right_with_landmarks_inside() -> None:
    from infoswap.faces.finder import FaceFinder

    faces = FaceFinder()(pixels("assets/faces/groups/human_group-4.jpg"))
    assert [f.index for f in faces] == list(range(5))
    centres = [(f.box[0] + f.box[2]) / 2 for f in faces]
    assert centres == sorted(centres)
    for face in faces:
        x1, y1, x2, y2 = face.box
        eyes, nose, mouth = face.landmarks5[:2], face.landmarks5[2], face.landmarks5[3:]
        assert x1 < nose[0] < x2 and y1 < nose[1] < y2
        assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()
        assert face.landmarks68.shape == (68, 2)

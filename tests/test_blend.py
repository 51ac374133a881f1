"""Paste-back: an unchanged crop comes back unchanged, nothing outside the mask moves, colours match."""

import cv2
import numpy as np
import pytest

from infoswap.faces.align import align_face
from infoswap.faces.blend import face_mask, match_colors, paste_back, region_mask
from infoswap.faces.face import Face
from tests.detected_faces import photo


def full_mask(aligned, shape) -> np.ndarray:
    """The warped mask on the whole image (H, W); its support is where paste-back may write."""
    (x0, y0, x1, y1), mask = region_mask(aligned, shape)
    full = np.zeros(shape[:2], np.float32)
    full[y0:y1, x0:x1] = mask
    return full


@pytest.mark.parametrize("relative, index, size", [
    ("identities/lisa/1.jpg", 0, 512),  # crop about as large as the face
    ("identities/london_036/neutral.jpg", 0, 256),  # crop smaller than the face
    ("groups/human_group-4.jpg", 2, 256),  # crop 2.5× the face: the way back shrinks
])
def test_round_trip_restores_the_face_and_leaves_the_rest(relative, index, size):
    pixels, faces = photo(relative)
    aligned = align_face(pixels, faces[index], size)
    out = paste_back(pixels, aligned, aligned.crop, color_match=False)
    mask = full_mask(aligned, pixels.shape)
    support = mask > 0
    assert support.sum() > 0.5 * faces[index].area  # the mask covers the face
    error = np.abs(out.astype(np.float32) - pixels)[support].mean() / 255
    assert error < 2 / 255
    assert np.array_equal(out[~support], pixels[~support])


def test_pixels_outside_the_support_are_untouched_whatever_is_pasted():
    pixels, faces = photo("groups/human_group-4.jpg")
    rng = np.random.default_rng(0)
    out = pixels
    for face in faces:  # several faces in a row, as the swap does
        aligned = align_face(pixels, face, 256)
        noise = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        pasted = paste_back(out, aligned, noise)
        support = full_mask(aligned, pixels.shape) > 0
        assert np.array_equal(pasted[~support], out[~support])
        assert not np.array_equal(pasted[support], out[support])
        out = pasted


def test_mask_is_the_face_up_to_the_brows():
    pixels, faces = photo("identities/london_036/neutral.jpg")
    aligned = align_face(pixels, faces[0], 256)
    mask = face_mask(aligned)
    points = aligned.landmarks68
    hull = cv2.convexHull(np.concatenate([points[:17], points[17:27]]).astype(np.float32))
    inside = np.zeros((256, 256), np.uint8)
    cv2.fillConvexPoly(inside, np.round(hull - 0.5).astype(np.int32), 1)
    inside = cv2.dilate(inside, np.ones((5, 5), np.uint8))  # two pixels of anti-aliased edge
    assert not (mask > 0)[inside == 0].any()  # hair, ears, neck and background keep mask 0
    nose, eyes = points[30], points[36:48].mean(0)
    for x, y in (nose, eyes):
        assert mask[int(y), int(x)] == pytest.approx(1.0)
    assert 0.12 < mask.mean() < 0.3  # the face, without hair and neck, is about a fifth of the FFHQ-style crop
    edge = mask[128, :]  # across the cheeks: a feathered ramp, not a step
    assert ((edge > 0.05) & (edge < 0.95)).sum() >= 6


def test_colour_matching_moves_the_face_to_the_target_colours():
    pixels, faces = photo("identities/lisa/1.jpg")
    aligned = align_face(pixels, faces[0], 256)
    mask = face_mask(aligned)
    inside = mask > 0.5
    same = match_colors(aligned.crop, aligned.crop, mask)
    assert np.abs(same - aligned.crop)[inside].max() < 1.0  # a face already matched stays as it is
    tinted = np.clip(aligned.crop * np.float32([1.25, 0.9, 0.75]) + 12, 0, 255).astype(np.uint8)
    matched = match_colors(tinted, aligned.crop, mask)
    before = np.abs(tinted[inside].mean(0) - aligned.crop[inside].mean(0))
    after = np.abs(matched[inside].mean(0) - aligned.crop[inside].mean(0))
    assert before.max() > 20 and after.max() < 1.5


def test_face_partly_outside_the_image():
    pixels, faces = photo("identities/lisa/1.jpg")
    shift = 200  # cut away the left part of the face
    cut = np.ascontiguousarray(pixels[:, shift:])
    face = faces[0]
    moved = Face(0, face.box - [shift, 0, shift, 0], face.score, face.landmarks68 - [shift, 0])
    aligned = align_face(cut, moved, 256)
    out = paste_back(cut, aligned, aligned.crop, color_match=False)
    support = full_mask(aligned, cut.shape) > 0
    assert support[:, 0].any()  # the mask runs off the image edge
    assert np.abs(out.astype(np.float32) - cut)[support].mean() < 2
    assert np.array_equal(out[~support], cut[~support])


def test_generated_face_of_the_wrong_size_is_refused():
    pixels, faces = photo("identities/lisa/1.jpg")
    aligned = align_face(pixels, faces[0], 256)
    with pytest.raises(ValueError, match=r"\(256, 256, 3\) uint8"):
        paste_back(pixels, aligned, np.zeros((128, 128, 3), np.uint8))

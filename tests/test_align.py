"""Alignment: 5 points onto the template at every size, one geometry for all sizes, exact inverse."""

import cv2
import numpy as np
import pytest

from infoswap.config import PRESETS
from infoswap.faces.align import align_face, image_region, transform_points, warp_affine, warp_to_image
from infoswap.faces.template import template_points
from tests.detected_faces import photo


@pytest.mark.parametrize("size", PRESETS)
def test_five_points_land_on_the_template(size):
    pixels, faces = photo("identities/london_036/neutral.jpg")
    aligned = align_face(pixels, faces[0], size)
    assert aligned.crop.shape == (size, size, 3) and aligned.crop.dtype == np.uint8
    error = np.linalg.norm(transform_points(aligned.matrix, faces[0].landmarks5) - template_points(size), axis=1)
    assert error.mean() < 0.03 * size  # a similarity fit of 5 points is not exact, but close


def test_all_sizes_cut_the_same_face():
    """A 1024 crop shrunk to 128 looks like the 128 crop: one geometry, and no aliasing at strong shrinks."""
    pixels, faces = photo("identities/lisa/1.jpg")
    small = align_face(pixels, faces[0], 128).crop.astype(np.float32)
    for size in (256, 512, 1024):
        big = align_face(pixels, faces[0], size).crop
        shrunk = cv2.resize(big, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
        assert np.abs(shrunk - small).mean() < 1.5, size  # half a pixel off gives 2.5 to 4.5


def test_inverse_maps_aligned_points_back():
    pixels, faces = photo("groups/human_group-4.jpg")
    aligned = align_face(pixels, faces[1], 256)
    back = transform_points(aligned.inverse, aligned.landmarks68)
    np.testing.assert_allclose(back, faces[1].landmarks68, atol=1e-6)


@pytest.mark.parametrize("scale", [0.15, 0.6, 3.0])
def test_warp_keeps_geometry_when_it_shrinks(scale):
    """A blob at p lands at M p, also on the area-shrink path used when M shrinks by more than 2×."""
    yy, xx = np.mgrid[:700, :900]
    p = np.array([412.3, 305.8])
    blob = np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * 15.0**2)).astype(np.float32)
    angle = 0.4
    matrix = np.array([[scale * np.cos(angle), -scale * np.sin(angle), 30.0],
                       [scale * np.sin(angle), scale * np.cos(angle), -50.0]])
    target = transform_points(matrix, p)
    out = warp_affine(blob, matrix, (int(target[0] * 2), int(target[1] * 2)), border=cv2.BORDER_CONSTANT)
    oy, ox = np.mgrid[: out.shape[0], : out.shape[1]]
    centroid = np.array([(out * ox).sum(), (out * oy).sum()]) / out.sum()
    np.testing.assert_allclose(centroid, target, atol=0.05)
    assert out.sum() / scale**2 == pytest.approx(blob.sum(), rel=1e-3)  # no energy lost or gained


def test_inverse_warp_restores_the_face_region():
    pixels, faces = photo("identities/lisa/1.jpg")
    aligned = align_face(pixels, faces[0], 512)
    x0, y0, x1, y1 = region = image_region(aligned, pixels.shape)
    assert 0 <= x0 < faces[0].box[0] and 0 <= y0 < faces[0].box[1]
    assert faces[0].box[2] < x1 <= pixels.shape[1] and faces[0].box[3] < y1 <= pixels.shape[0]
    back = warp_to_image(aligned.crop, aligned, region)
    fx0, fy0, fx1, fy1 = faces[0].box.astype(int)
    inside = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
    original = pixels[fy0:fy1, fx0:fx1].astype(np.float32)
    assert np.abs(back[inside].astype(np.float32) - original).mean() < 2.0

"""Tile finding in captioned figure grids (tools/grid_tiles.py) and the held-out rule of the data gatherer."""
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageDraw

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _load(name: str):
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(TOOLS))


grid_tiles = _load("grid_tiles")

TILE, GUTTER, CAPTION = 160, 6, 28


def _figure(extra_width: int = 0, flush: bool = False) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A 2 x 3 grid of noisy 'photos' on black with a title and two caption lines above each tile, the
    second 3 px above it (flush: touching it); extra_width leaves room on the right for a non-tile."""
    rng = np.random.default_rng(0)
    w = 3 * TILE + 4 * GUTTER + extra_width
    h = 40 + 2 * (CAPTION + TILE) + GUTTER
    fig = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(fig)
    draw.text((w // 3, 10), "Image textual search, condition: age", fill=(255, 255, 255))
    boxes = []
    for r in range(2):
        for c in range(3):
            x0, y0 = GUTTER + c * (TILE + GUTTER), 40 + r * (CAPTION + TILE) + CAPTION
            photo = rng.integers(40, 255, (TILE, TILE, 3), dtype=np.uint8)
            if (r, c) == (0, 1):  # a dark-haired head on a dark backdrop: near-background rows on top
                photo[:50] = rng.integers(0, 10, (50, TILE, 3), dtype=np.uint8)
            fig.paste(Image.fromarray(photo), (x0, y0))
            draw.text((x0 - 4, y0 - 26), "'10 month old baby'", fill=(255, 255, 255))
            draw.text((x0 - 4, y0 - (10 if flush else 14)), "FLUX1_schnell_image_0023461.jpg", fill=(255, 255, 255))
            boxes.append((x0, y0, x0 + TILE, y0 + TILE))
    return np.asarray(fig), boxes


def test_finds_every_tile_and_no_caption():
    fig, truth = _figure()
    found, rejected = grid_tiles.find_tiles(fig)
    inset = grid_tiles.INSET
    assert rejected == 0
    assert found == [(x0 + inset, y0 + inset, x1 - inset, y1 - inset) for x0, y0, x1, y1 in truth]
    bg = grid_tiles.background(fig)
    assert not any(grid_tiles.looks_captioned(fig[y0:y1, x0:x1], bg) for x0, y0, x1, y1 in found)


def test_caption_strip_is_flagged():
    fig, truth = _figure()
    x0, y0, x1, y1 = truth[3]
    with_caption = fig[y0 - CAPTION:y1, x0:x1]  # the tile plus the caption lines above it
    assert grid_tiles.looks_captioned(with_caption, grid_tiles.background(fig))


def test_caption_touching_a_tile_never_comes_out_inside_one():
    fig, truth = _figure(flush=True)
    found, rejected = grid_tiles.find_tiles(fig)
    for fx0, fy0, fx1, fy1 in found:  # a kept box lies inside one photo: no caption row in it
        assert any(x0 <= fx0 and y0 <= fy0 and fx1 <= x1 and fy1 <= y1 for x0, y0, x1, y1 in truth)
    assert len(found) + rejected == len(truth)


def test_irregular_box_is_rejected_not_guessed():
    fig, truth = _figure(extra_width=140)
    fig = fig.copy()
    fig[40:, -135:-5] = 200  # a legend beside the grid: as tall as the photo rows but narrower
    found, rejected = grid_tiles.find_tiles(fig)
    inset = grid_tiles.INSET
    assert found == [(x0 + inset, y0 + inset, x1 - inset, y1 - inset) for x0, y0, x1, y1 in truth]
    assert rejected == 2


def test_held_out_keeps_bundled_rule_and_is_deterministic():
    gather = _load("gather_training_data")
    london = [SimpleNamespace(source="london", identity=f"london_{i:03d}") for i in range(1, 143)]
    voteview = [SimpleNamespace(source="voteview_bioguide", identity=f"bioguide:X{i:06d}") for i in range(5000)]
    held = gather.held_out_identities(london + voteview)
    bundled = {f"london_{face_id}" for face_id, *_ in gather.LONDON}
    assert set(gather.HELD_OUT) <= held
    assert held & bundled == set(gather.HELD_OUT)  # the other bundled demo faces stay trainable
    assert len({i for i in held if i.startswith("london_")}) == 2 + gather.EXTRA_LONDON_HELD_OUT
    assert 50 < len({i for i in held if i.startswith("bioguide:")}) < 150  # about 2% of 5000
    assert gather.held_out_identities(list(reversed(london + voteview))) == held

"""The Swapper API on real bundled photos: where pixels change, the watermark, the source identity, and
every way loading a checkpoint must refuse."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from infoswap.errors import InfoswapError
from infoswap.io.images import read_image
from infoswap.swap import watermark
from infoswap.swap.pretrained import load_generator
from infoswap.swap.swapper import Swapper
from swap_fixtures import GROUP, SOURCE, TARGET, checkpoint, session_dir, source_identity, swapper


def _box_mask(shape, box, grow: float = 0.0) -> np.ndarray:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    mask = np.zeros(shape[:2], bool)
    mask[max(int(y1 - grow * h), 0):int(y2 + grow * h), max(int(x1 - grow * w), 0):int(x2 + grow * w)] = True
    return mask


def test_only_the_selected_face_changes_and_the_array_is_watermarked():
    s = swapper()
    group = read_image(GROUP).pixels
    faces = s.finder(group)
    assert len(faces) == 3
    result = s.swap(source_identity(), group, face_selector="index", face_index=1)
    assert result.swapped and result.faces == 1
    assert result.image.shape == group.shape and result.image.dtype == np.uint8
    diff = np.abs(result.image.astype(int) - group.astype(int))
    changed = [diff[_box_mask(group.shape, f.box, -0.3)].mean() for f in faces]
    # The kept faces move only by the watermark (≈ 2 levels); the swapped one by far more.
    assert changed[1] > 10 and changed[0] < 3 and changed[2] < 3
    # Far from every face the watermark changes chroma by a few levels and leaves luma alone.
    far = ~np.logical_or.reduce([_box_mask(group.shape, f.box, grow=0.5) for f in faces])
    luma = np.abs((result.image.astype(float) - group) @ np.array([0.299, 0.587, 0.114]))
    assert luma[far].max() <= 1.5 and diff[far].max() <= 12
    reading = watermark.read(result.image)
    assert reading.found and reading.payload == watermark.PAYLOAD


def test_target_without_a_face_comes_back_unchanged_and_flagged():
    background = np.ascontiguousarray(read_image(TARGET).pixels[:160, :320])  # grey studio wall
    result = swapper().swap(source_identity(), background)
    assert not result.swapped and result.faces == 0
    assert np.array_equal(result.image, background)
    assert not watermark.read(result.image).found


def test_index_past_the_last_face_selects_nothing():
    result = swapper().swap(source_identity(), GROUP, face_selector="index", face_index=3)  # faces 0, 1, 2
    assert not result.swapped


def test_several_sources_average_their_identities():
    s = swapper()
    other = SOURCE.parent / "smiling.jpg"
    both = s.source_identity([SOURCE, other])
    single = s.source_identity(other)
    assert both.sources == (str(SOURCE), str(other))
    # The mean of each photo's own identity: the order and the company of a photo do not change its part.
    torch.testing.assert_close(both.vector, (source_identity().vector + single.vector) / 2)


def test_source_without_a_face_is_refused():
    wall = np.ascontiguousarray(read_image(TARGET).pixels[:160, :320])
    with pytest.raises(InfoswapError, match="no face found in the source"):
        swapper().source_identity(wall)


def test_source_with_several_faces_needs_an_index():
    s = swapper()
    with pytest.raises(InfoswapError, match="shows 3 faces.*--source-face-index"):
        s.source_identity(GROUP)
    with pytest.raises(InfoswapError, match="out of range"):
        s.source_identity(GROUP, source_face_index=3)
    assert s.source_identity(GROUP, source_face_index=2).vector.shape == source_identity().vector.shape


def test_the_source_identity_is_computed_once_for_many_targets(monkeypatch):
    s = swapper()
    calls = []
    original = s.model.source_identity
    monkeypatch.setattr(s.model, "source_identity", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(s, "generate", lambda identity, crops: list(crops))  # the generator is not counted here
    identity = s.source_identity(SOURCE)
    for target in (TARGET, GROUP):
        assert s.swap(identity, target).swapped
    assert len(calls) == 1


def test_loaded_checkpoint_reproduces_the_saved_weights():
    model, path = load_generator(checkpoint(), preset=128, recognizer="dlib")
    saved = load_file(str(path))
    state = model.state_dict()
    assert {f"model.{k}" for k in state} == set(saved)
    assert all(torch.equal(state[k], saved[f"model.{k}"]) for k in state)
    assert not model.training and not any(p.requires_grad for p in model.parameters())


# --- checkpoints that must be refused, each with one clear line ----------------------------------------

def _refused(path, match: str, **kwargs) -> None:
    with pytest.raises(InfoswapError, match=match) as info:
        Swapper.from_pretrained(path, device="cpu", **kwargs)
    assert "\n" not in str(info.value)


def test_a_pickle_is_never_unpickled(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    _refused(path, "not a safetensors file; infoswap never unpickles weights.*pickle")
    legacy = tmp_path / "legacy.safetensors"  # a pickle renamed: the suffix does not matter
    legacy.write_bytes(b"\x80\x02}q\x00.")
    _refused(legacy, "not a safetensors file; infoswap never unpickles weights")


def test_other_files_are_refused(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    _refused(text, "not a safetensors file")
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(checkpoint().read_bytes()[:1000])
    _refused(truncated, "not a safetensors file|not a readable safetensors file")
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(plain))
    _refused(plain, "not an infoswap network snapshot")
    _refused(tmp_path / "absent.safetensors", "no such checkpoint file")
    _refused(tmp_path, "no complete checkpoint")


def test_a_checkpoint_for_another_preset_or_recogniser_is_refused():
    _refused(checkpoint(), "checkpoint is for the 128 px preset, not 256", preset=256)
    _refused(checkpoint(), "trained with the 'dlib' recogniser, not 'irse50'", recognizer="irse50")


def test_weights_that_do_not_fit_are_named(tmp_path):
    raw = checkpoint().read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    tensors = load_file(str(checkpoint()))
    dropped = sorted(tensors)[0]
    del tensors[dropped]
    tensors["model.extra.weight"] = torch.zeros(1)
    path = tmp_path / "edited.safetensors"
    save_file(tensors, str(path), metadata=meta)
    _refused(path, rf"do not fit InfoSwap: missing keys \['{dropped[len('model.'):]}'\]; "
                   r"unexpected keys \['extra.weight'\]")


def test_the_demo_checkpoint_missing_points_to_the_flag(monkeypatch):
    from infoswap.swap import pretrained

    monkeypatch.setattr(pretrained, "demo_checkpoint_path", lambda: session_dir() / "absent-demo.safetensors")
    for name in (None, "default"):
        _refused(name, "demo checkpoint .* is not installed.*--checkpoint")

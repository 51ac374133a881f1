"""The dlib ResNet-29 port (default recogniser f): agreement with face-api, identity quality, taps, gradients."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from infoswap.errors import InfoswapError
from infoswap.faces.align import alignment_matrix, warp_to_aligned
from infoswap.faces.face import landmarks5_from_68
from infoswap.io.images import read_image
from infoswap.recognition.dlib_resnet import DlibResNet, build
from infoswap.recognition.faceapi_crop import describe_like_faceapi, faceapi_input
from infoswap.recognition.registry import load_recognizer

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "fixtures" / "faceapi_reference.json"
# Tap shapes (C, H, W) for a 150 input, worked out by hand from face-api's layer list: 150 -7x7/2-> 72
# -maxpool 3/2-> 35; each 'valid' 3x3/2 block: 35 -> 17 -> 8 -> 3 (zero-padded to 4, the pooled size).
TAP_SHAPES = [(32, 35, 35)] + [(64, 17, 17)] * 4 + [(128, 8, 8)] * 3 + [(256, 4, 4)] * 2


@pytest.fixture(scope="module")
def recognizer() -> DlibResNet:
    return load_recognizer("dlib")


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())["images"]


@pytest.fixture(scope="module")
def identity_faces(reference) -> tuple[torch.Tensor, list[str]]:
    """Every bundled identity photo aligned (256 px) with face-api's landmarks, and its identity."""
    faces, ids = [], []
    for path, found in sorted(reference.items()):
        if "/identities/" not in path:
            continue
        pixels = read_image(REPO / path).pixels
        matrix = alignment_matrix(landmarks5_from_68(np.asarray(found[0]["landmarks68"])), 256)
        faces.append(torch.from_numpy(warp_to_aligned(pixels, matrix, 256)).permute(2, 0, 1).float() / 127.5 - 1)
        ids.append(Path(path).parent.name)
    return torch.stack(faces), ids


def test_port_matches_faceapi_descriptors(recognizer, reference):
    """Through face-api's own crop, every fixture face's descriptor matches face-api's (port error only)."""
    inputs, theirs = [], []
    for path, found in reference.items():
        pixels = read_image(REPO / path).pixels
        inputs += [faceapi_input(pixels, np.asarray(f["landmarks68"]), np.asarray(f["box"])) for f in found]
        theirs += [np.asarray(f["descriptor"]) / np.linalg.norm(f["descriptor"]) for f in found]
    with torch.inference_mode():
        ours = recognizer.describe_pixels(torch.cat(inputs)).numpy()
    cosines = (ours * np.stack(theirs)).sum(1)
    assert len(cosines) >= 40 and cosines.min() > 0.999
    # The one-face entry point is the same computation.
    face = reference[path][0]
    one = describe_like_faceapi(pixels, np.asarray(face["landmarks68"]), recognizer, np.asarray(face["box"]))
    assert np.abs(one - ours[-len(found)]).max() < 1e-5


def test_aligned_path_separates_identities(recognizer, identity_faces):
    faces, ids = identity_faces
    with torch.inference_mode():
        emb = recognizer(faces).numpy()
    upper = np.triu_indices(len(ids), 1)
    same = (np.array(ids)[:, None] == np.array(ids)[None])[upper]
    assert same.sum() >= 20 and (~same).sum() >= 200
    assert roc_auc_score(same, (emb @ emb.T)[upper]) >= 0.98


def test_features_give_the_tap_table(recognizer, identity_faces):
    faces = identity_faces[0][:2]
    with torch.inference_mode():
        z, taps = recognizer.features(faces)
        direct = recognizer(faces)
    assert [tuple(t.shape[1:]) for t in taps] == TAP_SHAPES
    assert all(t.shape[0] == 2 for t in taps)
    assert torch.allclose(z, direct, atol=1e-6)
    assert torch.allclose(z.norm(dim=1), torch.ones(2), atol=1e-5)


def test_continue_all_equals_separate_continuations(recognizer, identity_faces):
    faces = identity_faces[0][:3]
    with torch.inference_mode():
        _, taps = recognizer.features(faces)
        # Perturbed maps, so that every continuation differs from z_id and from each other.
        replaced = [t * (1 + 0.1 * i) + 0.01 * torch.randn(t.shape, generator=torch.Generator().manual_seed(i))
                    for i, t in enumerate(taps)]
        staircase = recognizer.continue_all(replaced)
        loop = [recognizer.continue_from(i, z) for i, z in enumerate(replaced)]
    assert len(staircase) == 10
    assert max((a - b).abs().max().item() for a, b in zip(staircase, loop)) < 1e-5


def test_unperturbed_continuations_return_z_id(recognizer, identity_faces):
    with torch.inference_mode():
        z, taps = recognizer.features(identity_faces[0][:2])
        for z_i in recognizer.continue_all(taps):
            assert (z_i - z).abs().max().item() < 1e-5


def test_gradients_reach_every_replacement(recognizer, identity_faces):
    with torch.no_grad():
        _, taps = recognizer.features(identity_faces[0][:2])
    replaced = [t.clone().requires_grad_(True) for t in taps]
    target = torch.randn(2, 128, generator=torch.Generator().manual_seed(0))
    sum((z * target).sum() for z in recognizer.continue_all(replaced)).backward()
    for i, z in enumerate(replaced):
        assert z.grad is not None and z.grad.abs().sum() > 0, f"no gradient at tap {i}"


def test_gradients_reach_the_image_through_the_crop(recognizer, identity_faces):
    faces = identity_faces[0][:1].clone().requires_grad_(True)
    (recognizer(faces) * torch.randn(1, 128, generator=torch.Generator().manual_seed(1))).sum().backward()
    grad = faces.grad.abs().sum(1)[0]  # (H, W)
    x0, y0, x1, y1 = (round(v * 256) for v in recognizer.crop)
    assert (grad[y0:y1, x0:x1] > 0).float().mean() > 0.9  # (nearly) every pixel the network sees
    outside = grad.clone()
    outside[y0:y1, x0:x1] = 0
    assert outside.sum() == 0  # and none it does not


def test_loaded_recognizer_is_frozen(recognizer):
    assert not recognizer.training
    assert all(not p.requires_grad for p in recognizer.parameters())


def test_checkpoint_loads_strictly(recognizer, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in recognizer.state_dict().items()}
    save_file(state, tmp_path / "ok.safetensors")
    again = load_recognizer("dlib", str(tmp_path / "ok.safetensors"))
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), state.values()))
    del state["head.fc.weight"]
    save_file(state, tmp_path / "short.safetensors")
    with pytest.raises(InfoswapError, match="head.fc.weight"):
        build(str(tmp_path / "short.safetensors"))

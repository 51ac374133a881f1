"""IR-SE-50 / iresnet50: public checkpoint layouts round-trip through `infoswap convert`, taps, continuations."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from infoswap.errors import InfoswapError
from infoswap.faces.template import TEMPLATE_5
from infoswap.recognition.convert import convert_checkpoint
from infoswap.recognition.irse50 import CROPS, IResNet50, IRConfig, IRSE50, build, input_size_of, make_random
from infoswap.recognition.registry import load_recognizer

# A shortened net of the same classes for the compute-heavy checks: stem + 11 units, still 10 taps.
SMALL = dict(units=(3, 4, 3, 1), widths=(16, 32, 64, 128))
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def insightface_pytorch_keys() -> set[str]:
    """state_dict keys of TreB1eN/InsightFace_Pytorch Backbone(50, ·, 'ir_se'), written out from its model.py."""
    keys = {"input_layer.0.weight", "input_layer.2.weight", "output_layer.3.weight", "output_layer.3.bias"}
    keys |= {f"{p}.{b}" for p in ("input_layer.1", "output_layer.0", "output_layer.4") for b in BN}
    n = 0
    for units, cin, cout in ((3, 64, 64), (4, 64, 128), (14, 128, 256), (3, 256, 512)):
        for u in range(units):
            unit = f"body.{n}"
            if u == 0 and cin != cout:
                keys |= {f"{unit}.shortcut_layer.0.weight"} | {f"{unit}.shortcut_layer.1.{b}" for b in BN}
            keys |= {f"{unit}.res_layer.{i}.{b}" for i in (0, 4) for b in BN}
            keys |= {f"{unit}.res_layer.{i}.weight" for i in (1, 2, 3)}
            keys |= {f"{unit}.res_layer.5.fc1.weight", f"{unit}.res_layer.5.fc2.weight"}
            n += 1
    return keys


def arcface_torch_keys() -> set[str]:
    """state_dict keys of insightface arcface_torch iresnet50, written out from backbones/iresnet.py."""
    keys = {"conv1.weight", "prelu.weight", "fc.weight", "fc.bias"}
    keys |= {f"{p}.{b}" for p in ("bn1", "bn2", "features") for b in BN}
    for layer, units in enumerate((3, 4, 14, 3), 1):
        for u in range(units):
            block = f"layer{layer}.{u}"
            keys |= {f"{block}.{c}.weight" for c in ("conv1", "conv2", "prelu")}
            keys |= {f"{block}.{bn}.{b}" for bn in ("bn1", "bn2", "bn3") for b in BN}
            if u == 0:  # stride 2 on every stage's first block, layer1 included
                keys |= {f"{block}.downsample.0.weight"} | {f"{block}.downsample.1.{b}" for b in BN}
    return keys


def randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random, distinct values in every parameter and BN statistic, so that a swapped tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.ndim != 1 or not t.is_floating_point():
                continue  # conv and linear weights keep PyTorch's seeded initialisation
            if name.endswith(("weight", "running_var")):  # BN scales and variances, PReLU slopes
                t.copy_(0.5 + 0.5 * torch.rand(t.shape, generator=g))
            else:  # BN shifts and means, linear biases
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
    return model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads contend and run 5-20× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    return torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("arch, cls, expected", [
    ("irse50", IRSE50, insightface_pytorch_keys),
    ("iresnet50", IResNet50, arcface_torch_keys),
])
def test_public_layout_round_trips_through_convert(tmp_path, faces, arch, cls, expected):
    model = randomise(make_random(arch, 112, seed=3), seed=4)
    state = model.state_dict()
    assert set(state) == expected()
    if arch == "irse50":  # model_ir_se50.pth predates BatchNorm's num_batches_tracked (PyTorch 0.4.0)
        public = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    else:  # as a DataParallel training checkpoint
        public = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}
    torch.save(public, tmp_path / "public.pth")

    meta = convert_checkpoint(tmp_path / "public.pth", arch, tmp_path / "out.safetensors")
    assert meta["arch"] == arch and meta["input_size"] == "112" and len(meta["source_sha256"]) == 64
    loaded = load_recognizer("irse50", str(tmp_path / "out.safetensors"))

    assert type(loaded) is cls and not any(p.requires_grad for p in loaded.parameters())
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, state[k]), k
    with torch.no_grad():
        z = model(faces)
        assert torch.isfinite(z).all() and torch.equal(loaded(faces), z)


def test_head_width_sets_input_size():
    """The official InfoSwap variant's Linear(512·8·8 → 512) means 128 × 128 input and the 438/512 crop."""
    assert input_size_of("irse50", {"output_layer.3.weight": torch.empty(512, 512 * 8 * 8)}) == 128
    assert input_size_of("iresnet50", {"fc.weight": torch.empty(512, 512 * 7 * 7)}) == 112
    with pytest.raises(InfoswapError, match=r"output_layer.3.weight has shape \(512, 18432\)"):
        input_size_of("irse50", {"output_layer.3.weight": torch.empty(512, 512 * 6 * 6)})
    with torch.device("meta"):
        model = IRSE50(IRConfig(input_size=128))
    assert model.output_layer[3].in_features == 512 * 8 * 8
    assert model.crop == (37 / 512, 37 / 512, 475 / 512, 475 / 512)


def test_renamed_key_is_named(tmp_path):
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in IRSE50().state_dict().items()}
    state = {k: torch.zeros(s) for k, s in shapes.items()}
    state["body.5.res_layer.5.fc_1.weight"] = state.pop("body.5.res_layer.5.fc1.weight")
    torch.save(state, tmp_path / "renamed.pth")
    with pytest.raises(InfoswapError) as e:
        convert_checkpoint(tmp_path / "renamed.pth", "irse50", tmp_path / "x.safetensors")
    assert "body.5.res_layer.5.fc1.weight" in str(e.value) and "body.5.res_layer.5.fc_1.weight" in str(e.value)
    assert not (tmp_path / "x.safetensors").exists()


def test_wrong_arch_names_the_right_one(tmp_path):
    torch.save({"fc.weight": torch.zeros(512, 25088)}, tmp_path / "backbone.pth")
    with pytest.raises(InfoswapError, match="--arch iresnet50"):
        convert_checkpoint(tmp_path / "backbone.pth", "irse50", tmp_path / "x.safetensors")


@pytest.mark.parametrize("size, side", [(112, 112), (128, 128)])
@pytest.mark.parametrize("cls", [IRSE50, IResNet50])
def test_tap_shapes(cls, size, side):
    with torch.device("meta"):
        model = cls(IRConfig(input_size=size)).eval()
        z, taps = model.features(torch.empty(2, 3, 512, 512))
    q = side // 2
    expected = [(64, side, side)] + [(64, q, q)] * 3 + [(128, q // 2, q // 2)] * 4 + [(256, q // 4, q // 4)] * 2
    assert [tuple(t.shape[1:]) for t in taps] == expected and z.shape == (2, 512)


def test_crop_112_fits_insightface_template():
    """CROPS[112] is insightface's 112 template mapped onto ours by least-squares scale + shift."""
    arcface = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]]) / 112
    a, t = arcface - arcface.mean(0), TEMPLATE_5 - TEMPLATE_5.mean(0)
    scale = (a * t).sum() / (a * a).sum()
    x0, y0 = TEMPLATE_5.mean(0) - scale * arcface.mean(0)
    assert np.allclose(CROPS[112], (x0, y0, x0 + scale, y0 + scale), atol=1e-5)


@pytest.mark.parametrize("cls", [IRSE50, IResNet50])
def test_continuations_match_taps_and_staircase(cls):
    torch.manual_seed(0)
    model = randomise(cls(IRConfig(**SMALL)), seed=5).eval().requires_grad_(False)
    faces = torch.rand(2, 3, 128, 128) * 2 - 1
    z, taps = model.features(faces)
    # Continuing from an unchanged tap reproduces the embedding: the tap indices and blocks line up.
    for i, r in enumerate(taps):
        assert (model.continue_from(i, r) - z).abs().max() < 1e-5, i
    zs = [r + 0.3 * torch.randn_like(r) for r in taps]
    stairs = model.continue_all(zs)
    for i, z_i in enumerate(zs):
        assert (stairs[i] - model.continue_from(i, z_i)).abs().max() < 1e-5, i


@pytest.mark.parametrize("cls", [IRSE50, IResNet50])
def test_gradients_reach_replacements_and_faces_not_weights(cls):
    torch.manual_seed(0)
    model = randomise(cls(IRConfig(**SMALL)), seed=6).eval().requires_grad_(False)
    faces = (torch.rand(2, 3, 128, 128) * 2 - 1).requires_grad_()
    z, taps = model.features(faces)
    zs = [r.detach().clone().requires_grad_() for r in taps]
    loss = sum((1 - (e * z.detach()).sum(-1)).sum() for e in model.continue_all(zs)) + z.sum()
    loss.backward()
    for i, z_i in enumerate(zs):
        assert z_i.grad is not None and torch.isfinite(z_i.grad).all() and z_i.grad.abs().sum() > 0, i
    assert all(p.grad is None for p in model.parameters())
    # The face gradient lives inside the crop box and is zero outside it (differentiable crop + resize).
    x0, y0, x1, y1 = (round(c * 128) for c in model.crop)
    inside = faces.grad[..., y0:y1, x0:x1]
    assert inside.abs().sum() > 0 and faces.grad.abs().sum() == inside.abs().sum()


def test_channel_order_follows_layout():
    faces = torch.rand(1, 3, 112, 112)
    irse, iresnet = IRSE50(IRConfig(**SMALL)), IResNet50(IRConfig(**SMALL))
    assert torch.equal(irse.to_network_input(faces), iresnet.to_network_input(faces).flip(1))


def test_build_without_checkpoint_explains_how_to_get_one():
    with pytest.raises(InfoswapError, match="infoswap convert model_ir_se50.pth --arch irse50 --out ir_se50"):
        build(None)


def test_convert_rejects_non_checkpoints(tmp_path):
    (tmp_path / "notes.pth").write_text("not a checkpoint\n")
    with pytest.raises(InfoswapError, match="is not a PyTorch checkpoint"):
        convert_checkpoint(tmp_path / "notes.pth", "irse50", tmp_path / "x.safetensors")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")  # a whole pickled module needs code to load
    with pytest.raises(InfoswapError, match=r"Python objects \(torch.nn.modules.linear.Linear\)"):
        convert_checkpoint(tmp_path / "module.pth", "irse50", tmp_path / "x.safetensors")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(InfoswapError, match="holds no state_dict"):
        convert_checkpoint(tmp_path / "list.pth", "irse50", tmp_path / "x.safetensors")
    # Through the console script: one line on stderr, exit status 2, no traceback.
    done = subprocess.run([sys.executable, "-c", "from infoswap.cli import main; main()", "convert",
                           str(tmp_path / "notes.pth"), "--arch", "irse50", "--out", str(tmp_path / "x.st")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not a PyTorch checkpoint" in done.stderr

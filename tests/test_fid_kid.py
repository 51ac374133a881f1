"""FID and KID (issue 9): the statistics against closed forms, the FID Inception against pytorch-fid's
architecture (parameter count, key names, its TF pooling), its loader's refusals, and `evaluate --inception`
end to end on bundled photos with seeded random weights (the real weights cannot be downloaded here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sklearn.metrics.pairwise import polynomial_kernel
from test_evaluate import IDENTITIES, CachedJudge, write_manifest
from typer.testing import CliRunner

from infoswap.cli.app import app
from infoswap.errors import InfoswapError
from infoswap.evaluate import judge as judge_module
from infoswap.evaluate.distribution import fid, frechet_distance, kid
from infoswap.evaluate.fidkid import fid_kid_of
from infoswap.evaluate.inception import FIDInception, MixedA, MixedE
from infoswap.evaluate.inception_weights import load_inception
from infoswap.evaluate.manifest import SwapPair

# torchvision's Inception-v3 has 27,161,264 parameters; less its aux classifier (conv 768->128 1x1 and
# 128->768 5x5 with batch norm, fc 768->1000: 3,326,696) and its 1000-class fc (2,049,000). pytorch-fid's
# network has neither aux classifier nor that fc, and a 1008-class fc instead, which FID does not use.
PYTORCH_FID_PARAMETERS = 27_161_264 - 3_326_696 - 2_049_000 + (2048 * 1008 + 1008)
FC_1008 = 2048 * 1008 + 1008
# Keys (and shapes) of pt_inception-2015-12-05-6726825d.pth, from torchvision's Inception3 layer definitions.
PYTORCH_FID_KEYS = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_4a_3x3.bn.running_var": (192,),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7dbl_5.conv.weight": (192, 128, 1, 7),
    "Mixed_6e.branch7x7_3.conv.weight": (192, 192, 7, 1),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch1x1.conv.weight": (320, 1280, 1, 1),
    "Mixed_7c.branch3x3dbl_3b.bn.bias": (384,),
}
TARGETS = [IDENTITIES / person / "smiling.jpg" for person in ("london_021", "london_024", "london_025")]
SOURCES = [IDENTITIES / "lisa" / f"{i}.jpg" for i in range(1, 4)]  # other light, framing and camera


def closed_form_kid_of_a_set_with_itself(x: np.ndarray) -> float:
    """Unbiased MMD² of a set against itself: 2 (mean of K - mean of diag K) / (n - 1), never above 0."""
    k = polynomial_kernel(x, degree=3, gamma=1 / x.shape[1], coef0=1)
    return 2 * (k.mean() - np.diag(k).mean()) / (len(x) - 1)


def test_fid_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    few, many = rng.normal(size=(6, 32)), rng.normal(size=(200, 8))  # covariance singular, and full rank
    assert abs(fid(few, few)) < 1e-6 and abs(fid(many, many)) < 1e-6


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    assert frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(7.25 + 4 + 1 + 0)


def test_fid_exact_low_rank_path_agrees_with_sqrtm():
    """Fewer samples than dimensions: the nuclear-norm trace equals scipy's sqrtm of the singular product."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 12)), rng.normal(size=(7, 12)) * 2 + 0.3
    stats = [(x.mean(axis=0), np.cov(x, rowvar=False)) for x in (a, b)]
    assert fid(a, b) == pytest.approx(frechet_distance(*stats[0], *stats[1]), rel=1e-6)
    assert fid(a, b) > 10


def test_kid_is_unbiased_and_grows_with_a_shift():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))  # two draws from one distribution
    shifted, _ = kid(a, b + 0.5, subsets=5)
    same, spread = kid(a, a, subsets=3)  # every subset is the whole set
    assert same == pytest.approx(closed_form_kid_of_a_set_with_itself(a), rel=1e-9) and spread < 1e-12
    assert -0.05 * shifted < same <= 0
    # Subsets of 50 from independent draws: the unbiased mean sits near 0; the biased (V-statistic) estimate
    # of the same subsets would sit near 2 (mean diag K - mean K) / 50, far above it.
    mean, spread = kid(a, b, subset_size=50)
    biased_offset = -closed_form_kid_of_a_set_with_itself(a) * 299 / 50
    assert abs(mean) < 0.1 * biased_offset and spread > 0 and shifted > 0.5


def random_inception(seed: int = 0) -> FIDInception:
    """Seeded weights that keep activations at unit scale (He init, random batch-norm statistics)."""
    torch.manual_seed(seed)
    net = FIDInception()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.8, 1.2)
    return net.eval()


@pytest.fixture(scope="module")
def network() -> FIDInception:
    return random_inception()


@pytest.fixture(scope="module")
def weights(network, tmp_path_factory) -> Path:
    """The random network as a safetensors file: its state_dict under pytorch-fid's key names."""
    path = tmp_path_factory.mktemp("inception") / "inception.safetensors"
    save_file({k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}, path)
    return path


def test_architecture_is_pytorch_fids(network):
    assert sum(p.numel() for p in network.parameters()) == PYTORCH_FID_PARAMETERS - FC_1008 == 21_785_568
    state = {k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert len(state) == 94 * 5  # 94 convolutions, each with weight + batch norm weight, bias, mean, var
    assert {k: tuple(state[k].shape) for k in PYTORCH_FID_KEYS} == PYTORCH_FID_KEYS
    assert all(m.eps == 0.001 for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_pool_branches_pool_as_the_tf_graph_did():
    """Mean pools leave the zero padding out (a constant map stays constant at the border); Mixed_7c's pool
    branch takes a max (one hot pixel spreads to its 3×3 neighbourhood at full height)."""
    block = MixedA(4, pool_features=1).eval()
    torch.nn.init.constant_(block.branch_pool.conv.weight, 0.25)  # the mean of the 4 channels
    with torch.no_grad():
        pooled = block(torch.ones(1, 4, 5, 5))[0, -1]
    assert torch.allclose(pooled, torch.ones(5, 5), atol=1e-3)  # bn eps 0.001: 1/sqrt(1.001)

    last = MixedE(1, max_pool=True).eval()
    torch.nn.init.constant_(last.branch_pool.conv.weight, 1.0)
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1
    with torch.no_grad():
        spread = last(x)[0, -192]
    assert torch.allclose(spread[1:4, 1:4], torch.ones(3, 3), atol=1e-3) and spread.sum() == pytest.approx(9, 1e-3)


def test_weights_load_and_give_pool3_features(network, weights):
    loaded = load_inception(weights)
    images = torch.rand(2, 3, 120, 90, generator=torch.Generator().manual_seed(0))  # resized to 299 inside
    with torch.inference_mode():
        features = loaded(images)
        assert features.shape == (2, 2048) and torch.isfinite(features).all()
        assert torch.equal(features, network(images)) and features.std() > 0.01


@pytest.mark.parametrize("damage, message", [
    ("missing", r"missing keys \['Mixed_6c.branch7x7_2.conv.weight'\]"),
    ("shape", r"shape mismatch for Mixed_6c.branch7x7_2.conv.weight: "
              r"file \(160, 160, 7, 1\), model \(160, 160, 1, 7\)"),
    ("nan", r"Mixed_6c.branch7x7_2.conv.weight holds non-finite values"),
    ("extra", r"unexpected keys \['AuxLogits.fc.weight'\]"),
])
def test_loader_refuses_damaged_weights_in_one_line(network, tmp_path, damage, message):
    state = {k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    key = "Mixed_6c.branch7x7_2.conv.weight"
    if damage == "missing":
        del state[key]
    elif damage == "shape":
        state[key] = state[key].transpose(2, 3).contiguous()
    elif damage == "nan":
        state[key] = state[key].clone()
        state[key][0, 0, 0, 0] = float("nan")
    else:  # torchvision's ImageNet Inception, not the FID one
        state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    save_file(state, tmp_path / "w.safetensors")
    with pytest.raises(InfoswapError, match=message) as caught:
        load_inception(tmp_path / "w.safetensors")
    assert "\n" not in str(caught.value)


def test_loader_names_a_missing_file_and_a_pickle(tmp_path):
    with pytest.raises(InfoswapError, match="Inception weights .*nowhere.safetensors not found"):
        load_inception(tmp_path / "nowhere.safetensors")
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, tmp_path / "pt_inception.pth")
    with pytest.raises(InfoswapError, match="not a safetensors file.*infoswap convert .*pt_inception.pth --arch incep"):
        load_inception(tmp_path / "pt_inception.pth")


def test_convert_copies_pytorch_fids_file(network, tmp_path):
    """pytorch-fid's layout (1008-class fc head, batch counters) -> safetensors that loads to the same network."""
    state = dict(network.state_dict(), **{"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)})
    torch.save(state, tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    out = tmp_path / "inception.safetensors"
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "pt_inception-2015-12-05-6726825d.pth"),
                                      "--arch", "inception", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "FID Inception-v3" in result.output and "pt_inception-2015-12-05-6726825d.pth" in result.output
    loaded = load_inception(out).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in network.state_dict().items())

    help_text = CliRunner().invoke(app, ["convert", "--help"], terminal_width=200).output
    assert "inception" in help_text and "pytorch-fid" in help_text
    wrong = CliRunner().invoke(app, ["convert", str(out), "--arch", "vgg", "--out", str(tmp_path / "x.st")])
    assert isinstance(wrong.exception, InfoswapError) and "inception" in str(wrong.exception)
    as_recogniser = CliRunner().invoke(app, ["convert", str(tmp_path / "pt_inception-2015-12-05-6726825d.pth"),
                                             "--arch", "irse50", "--out", str(tmp_path / "r.safetensors")])
    assert "use --arch inception" in str(as_recogniser.exception)


@pytest.fixture(scope="module")
def judge() -> CachedJudge:
    return CachedJudge()


def pairs(swap_is: str) -> list[tuple[Path, Path, Path]]:
    """Three (source, target, 'swap') rows whose swap is the target itself, or the source photo."""
    return [(source, target, target if swap_is == "target" else source) for source, target in zip(SOURCES, TARGETS)]


def evaluate_json(tmp_path: Path, swap_is: str, weights: Path) -> dict:
    folder = tmp_path / swap_is
    folder.mkdir()
    manifest, out = write_manifest(folder, pairs(swap_is)), folder / "report.json"
    result = CliRunner().invoke(app, ["evaluate", "--manifest", str(manifest), "--json", str(out),
                                      "--inception", str(weights)])
    assert result.exit_code == 0, result.output
    assert "KID" in result.output and "3 swaps vs 3 targets" in result.output
    return json.loads(out.read_text())


def test_evaluate_scores_fid_and_kid_and_they_can_fail(tmp_path, weights, judge, monkeypatch):
    monkeypatch.setattr(judge_module, "IndependentJudge", lambda: judge)
    same, other = evaluate_json(tmp_path, "target", weights), evaluate_json(tmp_path, "source", weights)
    for report in (same, other):
        assert all(isinstance(report[k], float) and np.isfinite(report[k]) for k in ("fid", "kid", "kid_std"))
        assert report["fid_kid_images"] == {"swap": 3, "target": 3} and "kid" in report["definitions"]
        assert any("strongly biased" in note for note in report["notes"])
        assert not any("not computed" in note for note in report["notes"])
    assert abs(same["fid"]) < 1e-3 and other["fid"] > 1
    # Identical sets: the unbiased KID is slightly below 0 (see test_kid_is_unbiased_and_grows_with_a_shift).
    assert -0.1 * other["kid"] < same["kid"] <= 0 < other["kid"]


def test_one_distinct_swap_gives_no_fid_and_says_why(network):
    one_swap = [SwapPair(source, target, TARGETS[0], row) for row, (source, target, _) in enumerate(pairs("source"))]
    scores = fid_kid_of(one_swap, network)
    assert (scores.fid, scores.kid, scores.kid_std, scores.swaps, scores.targets) == (None, None, None, 1, 3)
    assert "at least 2 distinct swap" in scores.notes[0]


def test_evaluate_refuses_bad_weights_before_analysing(tmp_path, monkeypatch):
    manifest = write_manifest(tmp_path, pairs("target"))
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")

    def no_analysis():
        raise AssertionError("the per-pair analysis started before the weights were checked")

    monkeypatch.setattr(judge_module, "IndependentJudge", no_analysis)
    result = CliRunner().invoke(app, ["evaluate", "--manifest", str(manifest),
                                      "--inception", str(tmp_path / "corrupt.safetensors")])
    assert isinstance(result.exception, InfoswapError), result.exception
    done = subprocess.run([sys.executable, "-c", "from infoswap.cli import main; main()", "evaluate", "--manifest",
                           str(manifest), "--inception", str(tmp_path / "corrupt.safetensors")],
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("infoswap: error: ") and "corrupt.safetensors" in lines[0]

"""The MobileFace identity judge: its MXNet reader, the batch-norm folding, and the shipped port on real faces."""

from __future__ import annotations

import struct
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from infoswap.errors import InfoswapError
from infoswap.recognition import mobileface
from infoswap.recognition.registry import load_identity_judge
from infoswap.weights.mxnet.params import read_params
from model_fixtures import real_faces

PEOPLE = ("london_006", "london_021", "london_024", "london_025", "london_036", "london_038", "london_061")


def _mxnet_file(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A params file as `mx.nd.save` writes it (v2 arrays, float32, CPU context)."""
    out = struct.pack("<QQQ", 0x112, 0, len(arrays))
    for values in arrays.values():
        out += struct.pack("<Iii", 0xF993FAC9, 0, values.ndim) + struct.pack(f"<{values.ndim}q", *values.shape)
        out += struct.pack("<iii", 1, 0, 0) + values.astype(np.float32).tobytes()
    out += struct.pack("<Q", len(arrays))
    for name in arrays:
        out += struct.pack("<Q", len(name)) + name.encode()
    path.write_bytes(out)
    return path


def _random_params(seed: int = 0) -> dict[str, np.ndarray]:
    """MobileFace V2's parameter names and shapes with random values (running variances positive)."""
    rng = np.random.default_rng(seed)
    params = {"conv1_bias": rng.normal(0, 0.1, 32)}
    for layer, name, norm in mobileface.mxnet_layers(mobileface.MobileFace()):
        params[f"{name}_weight"] = rng.normal(0, 0.3, tuple(layer.weight.shape))
        width = layer.weight.shape[0]
        params |= {f"{norm}_gamma": rng.uniform(0.5, 1.5, width), f"{norm}_beta": rng.normal(0, 0.1, width),
                   f"{norm}_moving_mean": rng.normal(0, 0.1, width), f"{norm}_moving_var": rng.uniform(0.5, 2, width)}
    return {k: v.astype(np.float32) for k, v in params.items()}


def _unfolded_forward(params: dict[str, np.ndarray], x: torch.Tensor) -> torch.Tensor:
    """The MXNet graph run layer by layer with its batch norms as they are stored (eval mode)."""
    p = {k: torch.from_numpy(v) for k, v in params.items()}

    def conv_bn(h, name, norm, stride=1, groups=1, relu=True, bias=None):
        w = p[f"{name}_weight"]
        h = F.conv2d(h, w, bias, stride, w.shape[-1] // 2, groups=groups)
        h = F.batch_norm(h, p[f"{norm}_moving_mean"], p[f"{norm}_moving_var"], p[f"{norm}_gamma"],
                         p[f"{norm}_beta"], eps=mobileface.BN_EPS)
        return h.clamp(0, 6) if relu else h

    h = conv_bn(x, "conv1", "bn1", stride=2, bias=p["conv1_bias"])
    k = 0
    for cin, cout in mobileface.STAGES:
        for stride, c in ((2, cin), (1, cout), (1, cout)):
            wide = c * mobileface.EXPANSION
            y = conv_bn(h, f"convolution{k}", f"batchnorm{k}")
            y = conv_bn(y, f"convolution{k + 1}", f"batchnorm{k + 1}", stride=stride, groups=wide)
            y = conv_bn(y, f"convolution{k + 2}", f"batchnorm{k + 2}", relu=False)
            h, k = (h + y if stride == 1 else y), k + 3
    e = F.linear(h.flatten(1), p["fc5_weight"])
    e = F.batch_norm(e, p["fc5_bn_moving_mean"], p["fc5_bn_moving_var"], p["fc5_bn_gamma"], p["fc5_bn_beta"],
                     eps=mobileface.BN_EPS)
    return F.normalize(e, dim=-1)


def test_reader_returns_the_arrays_by_name_and_refuses_damaged_files(tmp_path):
    arrays = {"arg:conv_weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), "aux:bn_var": np.ones(3)}
    read = read_params(_mxnet_file(tmp_path / "ok.params", arrays))
    assert list(read) == ["conv_weight", "bn_var"]
    assert np.array_equal(read["conv_weight"], arrays["arg:conv_weight"]) and read["bn_var"].dtype == np.float32
    cut = tmp_path / "cut.params"
    cut.write_bytes((tmp_path / "ok.params").read_bytes()[:60])
    with pytest.raises(InfoswapError, match="ends early"):
        read_params(cut)
    other = tmp_path / "other.params"
    other.write_bytes(b"\x00" * 64)
    with pytest.raises(InfoswapError, match="not an MXNet params file"):
        read_params(other)


def test_folded_batch_norms_compute_what_the_mxnet_graph_computes(tmp_path):
    params = _random_params()
    model = mobileface.MobileFace()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in mobileface.convert(params).items()})
    x = torch.rand(3, 3, 112, 112) * 2 - 1  # already the network's input: crop and channel order bypassed
    with torch.no_grad():
        folded = model._embed(_through(model, x))
        reference = _unfolded_forward(params, x)
    assert (folded - reference).abs().max() < 1e-4


def _through(model: mobileface.MobileFace, x: torch.Tensor) -> torch.Tensor:
    h = model.stem(x)
    for block in model.blocks:
        h = block(h)
    return h


def test_convert_names_unused_and_mis_shaped_parameters():
    params = _random_params()
    with pytest.raises(ValueError, match="left unused: \\['extra_weight'\\]"):
        mobileface.convert(params | {"extra_weight": np.zeros(1, np.float32)})
    with pytest.raises(ValueError, match="fc5_weight: shape"):
        mobileface.convert(params | {"fc5_weight": np.zeros((256, 10), np.float32)})


def test_shipped_port_tells_the_bundled_people_apart():
    """On real photos, aligned as the trainer aligns them: the same person scores far above different people."""
    names = [f"{person}/{kind}" for person in PEOPLE for kind in ("neutral", "smiling")]
    judge = load_identity_judge("mobileface")
    assert not any(p.requires_grad for p in judge.parameters())
    with torch.no_grad():
        e = judge(real_faces(tuple(names), 128))
    assert e.shape == (len(names), mobileface.EMBEDDING_DIM)
    pairs = list(combinations(range(len(names)), 2))
    cos = np.array([float(e[i] @ e[j]) for i, j in pairs])
    same = np.array([names[i].split("/")[0] == names[j].split("/")[0] for i, j in pairs])
    assert roc_auc_score(same, cos) == 1.0
    assert cos[same].mean() > 0.7 and cos[~same].mean() < 0.2  # not dlib's narrow cone (0.83 apart)

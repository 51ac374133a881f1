"""bf16 training and swapping under CUDA's autocast rules, checked on the CPU.

CI has no GPU, and CPU autocast keeps fewer ops in float32 than CUDA's: a bf16 GPU run once crashed in
the AII (an fp32 map from a bilinear resize met a bf16 gate) where CPU autocast ran clean. `CudaAutocast`
gives the CPU CUDA's float32 list (torch docs, "CUDA Ops that can autocast to float32"): those ops take
fp32 inputs and return fp32 under autocast, the rest stay as CPU autocast runs them.
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

from infoswap.config import TrainConfig
from infoswap.recognition.registry import load_recognizer
from infoswap.train.calibrate import tap_statistics
from infoswap.train.distributed import Process
from infoswap.train.trainer import Precision, Trainer
from model_fixtures import real_faces

CUDA_FLOAT32_OPS = frozenset({
    "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log1p", "log2", "reciprocal", "rsqrt",
    "sinh", "tan", "pow", "__pow__", "__rpow__", "__rdiv__", "__rtruediv__", "softplus", "layer_norm",
    "group_norm", "norm", "normalize", "cosine_similarity", "nll_loss", "cross_entropy", "kl_div", "l1_loss",
    "smooth_l1_loss", "mse_loss", "binary_cross_entropy_with_logits", "cdist", "dist", "pdist", "renorm",
    "logsumexp", "interpolate", "softmax", "log_softmax", "sum", "prod", "cumsum", "cumprod",
})


class CudaAutocast(TorchFunctionMode):
    """Inside CPU autocast, runs CUDA's float32 ops in float32; records which ran that way."""

    def __init__(self):
        super().__init__()
        self.widened: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name not in CUDA_FLOAT32_OPS or not torch.is_autocast_enabled("cpu"):
            return func(*args, **kwargs)
        self.widened.add(name)
        wide = lambda x: x.float() if isinstance(x, torch.Tensor) and x.is_floating_point() else x  # noqa: E731
        with torch.autocast("cpu", enabled=False):
            return func(*(wide(a) for a in args), **{k: wide(v) for k, v in kwargs.items()})


def test_a_bf16_step_and_swap_run_under_cuda_autocast_rules():
    cfg = TrainConfig(preset=128, batch=2, ema=0.99, r1_gamma=1.0,
                      model={"identity_centre": True, "identity_input": "centred", "beta_id": 1.0})
    recognizer = load_recognizer("dlib")
    faces = real_faces(("london_006/neutral", "london_021/smiling", "lisa/1", "london_006/smiling"), 128)
    stats = tap_statistics([faces], recognizer, 128, "dlib")
    torch.manual_seed(0)
    trainer = Trainer(cfg.model_config(), cfg, recognizer, stats, Process(0, 1, torch.device("cpu")),
                      Precision(torch.bfloat16))
    with CudaAutocast() as rules:
        losses = trainer.step(faces[:2], faces[2:])
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            swapped = trainer.ema.swap(faces[:1], faces[1:2])
            cached = trainer.ema.swap(None, faces[1:2], z_src=trainer.ema.source_identity(faces[:1]))
    assert {"interpolate", "normalize"} <= rules.widened  # the rules did apply where the crash was
    assert "loss/R1" in losses  # the R1 penalty's double backward under autocast too
    assert all(torch.isfinite(torch.tensor(v)) for k, v in losses.items() if k.startswith("loss/"))
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in trainer.model.parameters())
    for y in (swapped, cached):
        assert y.shape == (1, 3, 128, 128) and torch.isfinite(y.float()).all()

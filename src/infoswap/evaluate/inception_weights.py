"""The FID Inception's weights: converted once from pytorch-fid's file, then loaded from safetensors only.

infoswap never downloads them. The user fetches pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`
(the TF 2015-12-05 Inception graph in PyTorch naming) and runs `infoswap convert FILE --arch inception`,
which reads it with `torch.load(weights_only=True)` and copies its tensors under the same names, less the
1008-class `fc` head (FID reads the pool3 features before it) and BatchNorm's `num_batches_tracked`
counters. A safetensors file that still has those keys loads too; any other missing, extra, mis-shaped or
non-finite tensor is refused with one line that names it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from infoswap.errors import InfoswapError
from infoswap.evaluate.inception import FIDInception
from infoswap.recognition.irse50 import fill_batch_counters
from infoswap.weights.store import load_into, load_state, require_finite

ARCH = "inception"
PYTORCH_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"
HEAD = ("fc.weight", "fc.bias")  # the logits layer of the TF graph (1008 classes): not part of FID


def _network_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` as float32, without the classifier head and the BatchNorm batch counters."""
    return {k: v.float() for k, v in state.items() if k not in HEAD and not k.endswith(".num_batches_tracked")}


def _fitted(state: dict[str, torch.Tensor], source: str) -> FIDInception:
    """A FIDInception holding `state` (strictly: every key, every shape, finite values), in eval mode."""
    require_finite(state, source)
    model = FIDInception()
    load_into(model, fill_batch_counters(model, state), source)
    return model.eval().requires_grad_(False)


def load_inception(path: Path) -> FIDInception:
    """The FID Inception from a safetensors file; every problem with the file is one InfoswapError line."""
    from infoswap.swap.pretrained import check_safetensors_header

    path = Path(path)
    if not path.is_file():
        raise InfoswapError(f"Inception weights {path} not found")
    try:
        check_safetensors_header(path)
    except InfoswapError as e:
        raise InfoswapError(f"{e}; for pytorch-fid's {PYTORCH_FID_FILE} run: infoswap convert {path} "
                            f"--arch {ARCH} --out {path.with_suffix('.safetensors').name}") from None
    return _fitted(_network_tensors(load_state(path)), str(path))


def convert_inception(source: Path, out: Path) -> dict[str, str]:
    """Reads pytorch-fid's .pth, checks it fits FIDInception, writes `out` (float32); returns the metadata."""
    from infoswap.recognition.convert import read_convertible, write_converted

    state = _network_tensors(read_convertible(source, out))
    _fitted(state, str(source))
    return write_converted(out, state, source, {"arch": "fid-inception-v3-2015-12-05"})

"""Exponential moving average of the generator's weights (rosinality's g_ema), used for samples and export."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay · ema + (1 − decay) · model for floating tensors; other buffers (masks) are copied."""
    current = model.state_dict()
    for name, value in ema.state_dict().items():
        source = current[name]
        if value.is_floating_point():
            value.lerp_(source.to(value.dtype), 1 - decay)
        else:
            value.copy_(source)

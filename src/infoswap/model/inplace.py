"""Writing an element-wise result over a fresh input when no graph is recorded (swapping, sampling).

At 512 px each full-size map is 64 MiB; allocating (and zero-filling) one more per element-wise op set the
memory peak of a CPU swap and cost much of its time. Without autograd, `torch.op(…, out=x)` over an
input x gives the same values as `torch.op(…)`, so the decoder and the AII reuse their own intermediate
maps there. With autograd recording, they allocate as usual (the graph keeps the inputs).
"""

from __future__ import annotations

import torch


def reusable(fresh: torch.Tensor) -> torch.Tensor | None:
    """`fresh` as the `out=` of an element-wise op when no graph is recorded, else None (a new tensor).

    Only for tensors the caller made itself and reads no more after that op.
    """
    return None if torch.is_grad_enabled() else fresh

"""infoswap: trainable InfoSwap identity swapping (Gao et al., CVPR 2021).

`from infoswap import Swapper` is the Python API (SPEC). The names below load on first use (PEP 562), so
`import infoswap` and `infoswap --help` stay fast: neither imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "Swapper": "infoswap.swap.swapper",
    "SwapResult": "infoswap.swap.swapper",
    "SourceIdentity": "infoswap.swap.swapper",
    "InfoswapError": "infoswap.errors",
}
__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # what type checkers and IDEs see
    from infoswap.errors import InfoswapError  # noqa: F401
    from infoswap.swap.swapper import SourceIdentity, SwapResult, Swapper  # noqa: F401


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'infoswap' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

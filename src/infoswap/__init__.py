"""infoswap: trainable InfoSwap identity swapping (Gao et al., CVPR 2021)."""

__version__ = "0.1.0"

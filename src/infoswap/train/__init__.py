"""Training: data, calibration, checkpoints and the Algorithm 1 loop (SPEC section 7)."""

"""Weights that ship with infoswap: reading the tfjs originals, storing and verifying safetensors."""

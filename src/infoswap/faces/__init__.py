"""Pixels <-> aligned faces: detection, landmarks, alignment, paste-back (SPEC section 2)."""

"""Frozen face recognisers with tapped internal feature maps (SPEC section 3), selected by name."""

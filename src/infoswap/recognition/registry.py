"""Recognisers selected by name (like insightface's backbone registry); each returns a frozen module."""

from __future__ import annotations

import importlib

from infoswap.errors import InfoswapError
from infoswap.recognition.base import Recognizer

# name -> "module:builder"; a builder takes an optional checkpoint path and returns a loaded Recognizer.
TRAINING_RECOGNIZERS = {
    "dlib": "infoswap.recognition.dlib_resnet:build",
    "irse50": "infoswap.recognition.irse50:build",
}


def load_recognizer(name: str = "dlib", checkpoint: str | None = None) -> Recognizer:
    """A frozen recogniser (eval mode, no parameter requires grad) by registry name."""
    if name not in TRAINING_RECOGNIZERS:
        raise InfoswapError(f"unknown recogniser {name!r}; choose one of {sorted(TRAINING_RECOGNIZERS)}")
    module_name, builder = TRAINING_RECOGNIZERS[name].split(":")
    recognizer = getattr(importlib.import_module(module_name), builder)(checkpoint)
    return recognizer.eval().requires_grad_(False)

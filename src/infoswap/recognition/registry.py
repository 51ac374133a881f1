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


# Recognisers that only judge the swap's identity (ModelConfig.identity_judges: more terms of L_id); no IIB
# reads their maps, so none can be the model's f.
IDENTITY_JUDGES = {
    "mobileface": "infoswap.recognition.mobileface:build",
}


def load_recognizer(name: str = "dlib", checkpoint: str | None = None) -> Recognizer:
    """A frozen recogniser (eval mode, no parameter requires grad) by registry name."""
    return _load(TRAINING_RECOGNIZERS, "recogniser", name, checkpoint)


def load_identity_judge(name: str) -> Recognizer:
    """A frozen identity judge (its shipped weights) by registry name."""
    return _load(IDENTITY_JUDGES, "identity judge", name)


def _load(registry: dict[str, str], kind: str, name: str, *build_args: str | None) -> Recognizer:
    """The registry's builder for `name`, called with `build_args` (a judge's builder takes none)."""
    if name not in registry:
        raise InfoswapError(f"unknown {kind} {name!r}; choose one of {sorted(registry)}")
    module_name, builder = registry[name].split(":")
    recognizer = getattr(importlib.import_module(module_name), builder)(*build_args)
    return recognizer.eval().requires_grad_(False)

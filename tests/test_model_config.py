"""ModelConfig: presets (one level per doubling from 4 px), asdict round trip, clear errors."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from infoswap.config import ModelConfig, preset
from infoswap.errors import InfoswapError


@pytest.mark.parametrize("resolution, levels", [(128, 6), (256, 7), (512, 8), (1024, 9)])
def test_presets_have_one_level_per_doubling(resolution, levels):
    cfg = preset(resolution)
    assert cfg.levels == levels
    assert cfg.level_sizes[0] == 4 and cfg.level_sizes[-1] == resolution
    assert len(cfg.channels) == len(cfg.decoder_channels) == len(cfg.disc_channels) == levels
    assert cfg.channels[-1] == 3


def test_512_preset_is_the_official_width():
    cfg = preset(512)
    assert cfg.channels == (1024, 1024, 1024, 512, 256, 128, 64, 3)
    assert cfg.iib_hidden == 768
    assert (cfg.alpha, cfg.beta, cfg.beta1, cfg.beta2, cfg.beta3) == (1, 5, 1, 5, 1)
    assert (cfg.smooth_kernel, cfg.smooth_sigma, cfg.icl_neg_against) == (1, 0.25, "target")


@pytest.mark.parametrize("resolution", [128, 256, 512, 1024])
def test_asdict_round_trips_also_through_json(resolution):
    cfg = preset(resolution)
    assert ModelConfig(**asdict(cfg)) == cfg
    assert ModelConfig.from_dict(json.loads(json.dumps(asdict(cfg)))) == cfg  # lists come back as tuples


def test_unknown_and_missing_keys_are_named():
    d = asdict(preset(128))
    with pytest.raises(InfoswapError, match="unknown ModelConfig field.*lr"):
        ModelConfig.from_dict({**d, "lr": 1e-4})
    del d["channels"]
    with pytest.raises(InfoswapError, match="missing field.*channels"):
        ModelConfig.from_dict(d)
    with pytest.raises(TypeError, match="lr"):
        ModelConfig(**asdict(preset(128)), lr=1e-4)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"resolution": 100}, "resolution"),
        ({"channels": (8, 8, 8, 8, 3)}, "channels"),  # one level short for 128 px
        ({"channels": (256, 256, 128, 64, 32, 4)}, "channels"),
        ({"smooth_kernel": 2}, "smooth_kernel"),
        ({"icl_neg_against": "both"}, "icl_neg_against"),
    ],
)
def test_inconsistent_fields_are_rejected(change, field):
    d = asdict(preset(128))
    with pytest.raises(InfoswapError, match=field):
        ModelConfig(**{**d, **change})


def test_unknown_preset_lists_the_choices():
    with pytest.raises(InfoswapError, match="128, 256, 512, 1024"):
        preset(300)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"identity_judges": ["arcface"], "beta_id": 1.0}, "unknown judge 'arcface'; choose from \\['mobileface'\\]"),
        ({"identity_judges": ["mobileface"]}, "beta_id 0 leaves out"),
        ({"identity_judges": ["mobileface", "mobileface"], "beta_id": 1.0}, "names a judge twice"),
    ],
)
def test_identity_judges_are_checked(change, message):
    with pytest.raises(InfoswapError, match=message):
        ModelConfig.from_dict({**asdict(preset(128)), **change})
    judged = ModelConfig.from_dict(json.loads(json.dumps({**asdict(preset(128)), "beta_id": 1.0,
                                                          "identity_judges": ["mobileface"]})))
    assert judged.identity_judges == ("mobileface",)  # a list from JSON comes back a tuple

"""`infoswap inspect`: the JSON schema for an image and a video, the text report, and a clean error."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from infoswap.cli import app, main
from infoswap.swap import watermark
from infoswap.swap.provenance import save_marked_image
from infoswap.swap.video import transcode

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "assets" / "faces" / "identities" / "london_036" / "neutral.jpg"
SAMPLE = REPO / "assets" / "video" / "sample.mp4"


def _inspect(*args: str) -> dict:
    result = CliRunner().invoke(app, ["inspect", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def _check_image_schema(report: dict) -> None:
    assert set(report) == {"watermark", "metadata"}
    assert set(report["watermark"]) == {"found", "payload"}
    assert isinstance(report["watermark"]["found"], bool)
    assert report["watermark"]["payload"] is None or isinstance(report["watermark"]["payload"], str)
    assert isinstance(report["metadata"], dict) and isinstance(report["metadata"]["ai_generated"], bool)


def test_image_json(tmp_path):
    marked = save_marked_image(tmp_path / "swap.jpg", np.asarray(Image.open(PHOTO).convert("RGB")))
    report = _inspect(str(marked), "--json")
    _check_image_schema(report)
    assert report["watermark"] == {"found": True, "payload": watermark.PAYLOAD}
    assert report["metadata"]["ai_generated"] is True
    plain = _inspect(str(PHOTO), "--json")
    _check_image_schema(plain)
    assert plain["watermark"]["found"] is False and plain["metadata"]["ai_generated"] is False
    text = _inspect(str(marked))
    assert "watermark: found" in text and watermark.PAYLOAD in text and "AI-generated" in text


def test_video_json(tmp_path):
    out = tmp_path / "swap.mp4"
    transcode(SAMPLE, out, lambda frames: frames, preset="ultrafast", progress=False)
    report = _inspect(str(out), "--json", "--frames", "5")
    assert set(report) == {"watermark", "metadata"}
    mark = report["watermark"]
    assert set(mark) == {"found", "payload", "frames_checked", "frames_found", "share"}
    assert mark == {"found": True, "payload": watermark.PAYLOAD, "frames_checked": 5, "frames_found": 5, "share": 1.0}
    assert report["metadata"]["ai_generated"] is True
    assert report["metadata"]["video"] == {"frames": 75, "fps": 25.0, "width": 512, "height": 512, "rotation": 0,
                                           "has_audio": True}
    assert "in 5 of 5 sampled frames" in _inspect(str(out), "--frames", "5")


def test_missing_file_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["infoswap", "inspect", str(tmp_path / "none.png")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"infoswap: error: {tmp_path / 'none.png'}: no such file"]

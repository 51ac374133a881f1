"""Writes the bad- and awkward-input corpus into a folder at test time (nothing binary is committed).

Every file is made from the bundled faces (assets/faces) or from nothing: broken and awkward images,
small videos made with PyAV, weights and configs, and folders. `tests/corpus/cases.py` says what each
command must do with them. The 20000 × 20000 PNG bomb is written with zlib directly: a 1-bit grey image
whose rows are all zero compresses to ~50 KB while it would decode to 400 MB.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "assets" / "faces"
PORTRAIT = FACES / "identities" / "london_006" / "neutral.jpg"  # 600 × 600, one frontal face
OTHER = FACES / "identities" / "london_021" / "neutral.jpg"
REFERENCE = REPO / "tests" / "fixtures" / "faceapi_reference.json"  # face boxes of every bundled photo
UNICODE_DIR = "ünï cødé dir"
UNICODE_PHOTO = "фото лица 1.jpg"
# Narrow widths: loading the model and generating one face cost little next to the CLI's start-up.
TINY_MODEL = {"channels": [32, 32, 16, 16, 8, 3], "decoder_channels": [32, 32, 16, 16, 8, 8],
              "disc_channels": [8, 16, 32, 32, 32, 32], "iib_hidden": 16}


def _portrait(size: int = 320) -> Image.Image:
    with Image.open(PORTRAIT) as image:
        return image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def _jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **kwargs)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(path: Path, side: int = 20_000) -> None:
    """A valid side × side 1-bit grey PNG of zeros, written row by row through zlib (~50 KB on disk)."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    squeeze = zlib.compressobj(9)
    body = b"".join(squeeze.compress(row * 1000) for _ in range(side // 1000)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))


def exif_rotated(path: Path) -> None:
    """The portrait stored turned 90° counter-clockwise with Orientation 6 ("turn 90° clockwise to view"),
    so a reader that honours EXIF sees it upright and one that does not sees a sideways face."""
    stored = _portrait().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path.write_bytes(_jpeg_bytes(stored, exif=exif))


def crowd(path: Path, count: int = 30, columns: int = 6, tile: int = 150) -> None:
    """`count` bundled faces (head crops from the reference boxes) tiled on a grey canvas."""
    boxes = json.loads(REFERENCE.read_text())["images"]
    photos = [(p, f[0]["box"]) for p, f in sorted(boxes.items()) if "/identities/" in p and len(f) == 1]
    rows = -(-count // columns)
    canvas = Image.new("RGB", (columns * tile, rows * tile), (212, 212, 208))
    for i in range(count):
        name, (x1, y1, x2, y2) = photos[i % len(photos)]
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 0.8 * max(x2 - x1, y2 - y1)
        with Image.open(REPO / name) as photo:
            head = photo.convert("RGB").crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
        canvas.paste(head.resize((tile - 10, tile - 10), Image.Resampling.LANCZOS),
                     (i % columns * tile + 5, i // columns * tile + 5))
    canvas.save(path, quality=92)


def images(root: Path) -> None:
    """Broken and awkward stills."""
    portrait = _portrait()
    whole_jpeg, png = _jpeg_bytes(portrait), io.BytesIO()
    portrait.save(png, "PNG")
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("This is a note, not a photo.\n")
    (root / "truncated.jpg").write_bytes(whole_jpeg[: len(whole_jpeg) // 2])
    (root / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    png_bomb(root / "bomb.png")
    (root / "cmyk.jpg").write_bytes(_jpeg_bytes(portrait.convert("CMYK")))
    pixels = np.asarray(portrait)
    cv2.imwrite(str(root / "rgb16.png"), cv2.cvtColor(pixels.astype(np.uint16) * 257, cv2.COLOR_RGB2BGR))
    gray16 = (np.asarray(portrait.convert("L")).astype(np.uint16) * 257)
    Image.fromarray(gray16).save(root / "gray16.png")  # mode I;16
    alpha = np.full(pixels.shape[:2], 255, np.uint8)
    alpha[:40], alpha[:, :40] = 0, 0  # transparent border
    Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(root / "rgba.png")
    portrait.convert("L").save(root / "gray.jpg", quality=90)
    exif_rotated(root / "exif_rotated.jpg")
    Image.new("RGB", (1, 1), (128, 64, 32)).save(root / "one_pixel.png")
    ramp = np.linspace(0, 255, 320, dtype=np.uint8)
    Image.fromarray(np.dstack([np.tile(ramp, (240, 1))] * 3)).save(root / "no_face.png")
    crowd(root / "crowd30.jpg")
    large = portrait.resize((1400, 1400), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(0).integers(0, 12, (1400, 1400, 3), dtype=np.uint8)  # defeats PNG compression
    Image.fromarray(np.asarray(large) // 2 + noise + 60).save(root / "large.png")  # 3 MB: more than a full disk takes
    unicode_dir = root / UNICODE_DIR
    unicode_dir.mkdir()
    (unicode_dir / UNICODE_PHOTO).write_bytes(whole_jpeg)
    with Image.open(OTHER) as other:
        (root / "source.jpg").write_bytes(_jpeg_bytes(other.convert("RGB").resize((320, 320))))
    (root / "portrait.jpg").write_bytes(whole_jpeg)


def _video(path: Path, frames: list[np.ndarray], *, pts: list[int] | None = None,
           time_base: Fraction = Fraction(1, 25), audio: bool = False, pix_fmt: str = "yuv420p") -> None:
    """An H.264 clip of `frames` (timestamps `pts` in `time_base`, default one per 1/25 s), optionally with a
    440 Hz AAC tone."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as sink:
        video = sink.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "20"})
        video.width, video.height, video.pix_fmt = w, h, pix_fmt
        video.time_base = video.codec_context.time_base = time_base
        sound = None
        if audio:
            sound = sink.add_stream("aac", rate=48_000)
            sound.layout = "mono"
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = (pts[i] if pts else i), time_base
            sink.mux(video.encode(frame))
        sink.mux(video.encode(None))
        if sound is not None:
            _tone(sink, sound, seconds=len(frames) / 25)


def _tone(sink, sound, seconds: float) -> None:
    import av

    t = np.arange(int(seconds * 48_000)) / 48_000
    tone = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None],
                                      format="fltp", layout="mono")
    tone.sample_rate, tone.pts, tone.time_base = 48_000, 0, Fraction(1, 48_000)
    sink.mux(sound.encode(tone))
    sink.mux(sound.encode(None))


def videos(root: Path) -> None:
    """Four 224 × 224 frames of the portrait, drifting a little, in each awkward form (the watermark needs
    ≥ 176 px; fewer, smaller frames keep a swap cheap)."""
    import av

    base = np.asarray(_portrait(256))
    frames = [np.ascontiguousarray(base[16 - i: 240 - i, 16 + i: 240 + i]) for i in range(0, 8, 2)]
    _video(root / "no_audio.mp4", frames)
    _video(root / "with_audio.mp4", frames, audio=True)
    # Variable frame rate: millisecond timestamps with uneven gaps (40, 80, 10 ms).
    _video(root / "vfr.mp4", frames, pts=[0, 40, 120, 130], time_base=Fraction(1, 1000))
    _video(root / "ten_bit.mp4", frames, pix_fmt="yuv420p10le")
    with av.open(str(root / "audio_only.mp4"), "w") as sink:
        sound = sink.add_stream("aac", rate=48_000)
        sound.layout = "mono"
        _tone(sink, sound, seconds=0.5)
    whole = (root / "with_audio.mp4").read_bytes()
    junk = np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    (root / "corrupt.mp4").write_bytes(whole[:32] + junk)  # an ftyp box, then noise
    (root / "truncated.mp4").write_bytes(whole[: len(whole) * 2 // 3])  # the index (moov) comes last: lost
    (root / "empty.mp4").write_bytes(b"")


def _snapshot(path: Path, *, poison: bool = False, extra_config: dict | None = None) -> None:
    """A network snapshot of an untrained tiny 128 px model, as `infoswap train` writes them."""
    import torch

    from infoswap.config import ModelConfig, preset
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.checkpoint import write_network_snapshot

    torch.manual_seed(0)
    cfg = ModelConfig.from_dict({**asdict(preset(128)), **TINY_MODEL})
    state = InfoSwap(cfg, load_recognizer(cfg.recognizer)).state_dict()
    if poison:
        state["aii.blocks.0.conv1.weight"] = torch.full_like(state["aii.blocks.0.conv1.weight"], float("nan"))
    config = {**asdict(cfg), **(extra_config or {})}
    write_network_snapshot(path, {"model": state}, config, {"step": "1"})


def evil_pickle(path: Path, marker: Path) -> None:
    """A pickle that, if anything ever unpickled it, would call os.mkdir(marker): proof of a code path."""
    marker_bytes = str(marker).encode()
    path.write_bytes(b"\x80\x02" + b"cos\nmkdir\n" + b"X" + struct.pack("<I", len(marker_bytes)) + marker_bytes
                     + b"\x85" + b"R" + b".")  # PROTO 2, GLOBAL, BINUNICODE, TUPLE1, REDUCE, STOP


def weights(root: Path) -> None:
    """Checkpoints and configs, good and bad."""
    import torch

    _snapshot(root / "tiny-128.safetensors")
    _snapshot(root / "nan.safetensors", poison=True)
    _snapshot(root / "unknown-config.safetensors", extra_config={"wings": 2})
    whole = (root / "tiny-128.safetensors").read_bytes()
    (root / "truncated.safetensors").write_bytes(whole[: len(whole) // 2])
    torch.save({"weight": torch.zeros(4, 4)}, root / "pickle.pth")  # a real PyTorch pickle (zip)
    (root / "pickle.safetensors").write_bytes((root / "pickle.pth").read_bytes())  # same, misnamed
    evil_pickle(root / "evil.pth", root / "pwned")
    truncated = (root / "pickle.pth").read_bytes()
    (root / "truncated.pth").write_bytes(truncated[: len(truncated) // 2])
    (root / "empty.safetensors").write_bytes(b"")
    (root / "unknown-keys.json").write_text(json.dumps({"preset": 128, "data": str(root / "aligned"),
                                                        "learning_rate": 0.1, "epochs": 3}))
    (root / "not-json.json").write_text("preset: 128\ndata: faces\n")  # YAML, not JSON
    (root / "list.json").write_text("[128, 256]")
    tiny_run = {"preset": 128, "model": TINY_MODEL, "batch": 2, "workers": 0, "calibrate_num": 2, "max_steps": 1,
                "snapshot_every": 100, "sample_every": 100, "grid": 2, "tensorboard": False, "device": "cpu"}
    (root / "tiny-train.json").write_text(json.dumps(tiny_run))
    nan_detector(root / "detector-nan")


def folders(root: Path) -> None:
    """Folders: non-images only, aligned faces for train/calibrate, awkward photos with Unicode names."""
    junk = root / "non_images"
    junk.mkdir()
    (junk / "notes.txt").write_text("not an image\n")
    (junk / "photo.jpg").write_text("a text file named like a photo\n")
    (junk / "face.png").write_bytes(b"")
    (junk / "clip.mp4").write_bytes(b"\x00" * 64)
    junk_aligned = root / "non_images_aligned"  # looks like `infoswap align` output, but nothing is an image
    junk_aligned.mkdir()
    (junk_aligned / "a.png").write_text("not a png\n")
    (junk_aligned / "b.png").write_bytes(b"")
    with open(junk_aligned / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([["crop", "source", "face_index", "box", "landmarks", "source_sha256"],
                                 ["a.png", "a.jpg", 0, "[]", "[]", ""], ["b.png", "b.jpg", 0, "[]", "[]", ""]])
    awkward = root / "awkward photos"
    awkward.mkdir()
    for name in ("cmyk.jpg", "rgb16.png", "rgba.png", "gray.jpg", "exif_rotated.jpg", "truncated.jpg", "text.jpg"):
        (awkward / name).write_bytes((root / name).read_bytes())
    (awkward / UNICODE_PHOTO).write_bytes((root / UNICODE_DIR / UNICODE_PHOTO).read_bytes())
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from aligned_faces import write_aligned_faces  # the training tests' aligned faces: same helper

    write_aligned_faces(root / "aligned", size=128, count=4)
    (root / "empty_dir").mkdir()
    (root / "dir.png").mkdir()  # a folder named like an output file
    (root / "a_file.txt").write_text("a file where a folder is expected\n")
    with open(root / "manifest-bad-columns.csv", "w", newline="") as f:
        csv.writer(f).writerows([["src", "tgt", "out"], ["portrait.jpg", "portrait.jpg", "portrait.jpg"]])
    with open(root / "manifest-text-images.csv", "w", newline="") as f:
        csv.writer(f).writerows([["source", "target", "swap"], ["text.jpg", "portrait.jpg", "truncated.jpg"]])
    (root / "manifest-empty.csv").write_bytes(b"")
    labelled_set(root / "forensic_set", sorted((root / "aligned").glob("*.png")))


def labelled_set(folder: Path, crops: list[Path]) -> None:
    """A 4-crop real/fake set (both classes in both splits) for `forensics train/eval`."""
    folder.mkdir()
    rows = [["path", "label", "split"]]
    for i, crop in enumerate(crops[:4]):
        (folder / crop.name).write_bytes(crop.read_bytes())
        rows.append([crop.name, ("real", "fake")[i % 2], ("train", "test")[i // 2]])
    with open(folder / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)


def nan_detector(path: Path) -> None:
    """A small forgery-detector run folder whose first layer is all NaN, written by the detector's own code."""
    import torch

    from infoswap.forensics.detector import DetectorConfig, ForgeryDetector
    from infoswap.forensics.snapshot import save_detector

    model = ForgeryDetector(DetectorConfig(size=32, width=4, depth=2))
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    path.mkdir()
    save_detector(path, 1, model, {"step": 1}, {})


def make_corpus(root: Path) -> Path:
    """Fills `root` (created) with every corpus file; returns it."""
    root.mkdir(parents=True, exist_ok=True)
    images(root)
    videos(root)
    weights(root)
    folders(root)
    return root


if __name__ == "__main__":
    import sys

    print(make_corpus(Path(sys.argv[1])))

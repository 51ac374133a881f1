"""The bad-input corpus: what every `infoswap` command must do with each broken or awkward input.

A case is the command line (after `infoswap`) with placeholders, the exit code, a regex, and the paths that
must not exist afterwards (failures) or must exist, whole (successes). Placeholders:
  {c}     the corpus folder written by `make_corpus.py` (read-only by convention: nothing may appear in it)
  {o}     a fresh, empty output folder for this case
  {ro}    a folder no file can be created in: a read-only tmpfs as root, else a chmod 555 folder
  {full}  a folder on a nearly full disk: a 1 MiB tmpfs with 64 KiB free as root, else a plain folder
          with the child's file-size limit (RLIMIT_FSIZE) at 64 KiB, which fails writes with EFBIG
For a failure, `match` must match the one `infoswap: error:` line, the last line on stderr; for a success
it must match somewhere in stderr (a note or warning), and `stdout` somewhere in stdout.
`known` marks a case the product still mishandles: it runs as xfail(strict=True) with that reason, so it
shows in every run and turns into a failure the day it is fixed (then drop `known`).
"""

from __future__ import annotations

from dataclasses import dataclass

from make_corpus import UNICODE_DIR, UNICODE_PHOTO


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    exit: int
    match: str = ""
    absent: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    stdout: str = ""
    known: str = ""

    @property
    def fixtures(self) -> set[str]:
        return {name for name in ("ro", "full") if any(f"{{{name}}}" in a for a in self.argv)}


def fail(id: str, argv: list[str], match: str, absent: tuple[str, ...] = (), known: str = "") -> Case:
    return Case(id, tuple(argv), 2, match, absent=absent, known=known)


def ok(id: str, argv: list[str], present: tuple[str, ...] = (), stdout: str = "", match: str = "") -> Case:
    return Case(id, tuple(argv), 0, match, present=present, stdout=stdout)


UNICODE = f"{{c}}/{UNICODE_DIR}/{UNICODE_PHOTO}"
TINY = ["--checkpoint", "{c}/tiny-128.safetensors"]
SWAP = ["swap", "-s", "{c}/source.jpg", *TINY, "--no-progress"]
SWAP_OUT = "{o}/swap.png"


def swap_with(checkpoint: str) -> list[str]:
    return ["swap", "-s", "{c}/source.jpg", "-t", "{c}/portrait.jpg", "-o", SWAP_OUT, "--checkpoint", checkpoint,
            "--no-progress"]


TRAIN = ["train", "--config", "{c}/tiny-train.json"]
DETECTOR = ["--size", "32", "--depth", "2", "--steps", "1", "--batch", "2", "--no-progress"]
NO_SPACE = r"(No space left on device|File too large)"
CANNOT_WRITE = r"(Read-only file system|Permission denied)"

CASES: list[Case] = [
    # --- faces: broken files --------------------------------------------------------------------------------
    fail("faces-0-byte", ["faces", "{c}/empty.jpg"], r"empty\.jpg: not a readable image"),
    fail("faces-text-named-jpg", ["faces", "{c}/text.jpg", "--draw", "{o}/d.png"], r"text\.jpg: not a readable image",
         absent=("{o}/d.png",)),
    fail("faces-truncated-jpeg", ["faces", "{c}/truncated.jpg"], r"truncated\.jpg: damaged or truncated image"),
    fail("faces-truncated-png", ["faces", "{c}/truncated.png"], r"truncated\.png: damaged or truncated image"),
    fail("faces-png-bomb-20000x20000", ["faces", "{c}/bomb.png", "--draw", "{o}/d.png"],
         r"bomb\.png: .*(DecompressionBomb|exceeds the limit)", absent=("{o}/d.png",)),
    fail("faces-missing-file", ["faces", "{c}/nowhere.jpg"], r"nowhere\.jpg: no such file"),
    # --- faces: awkward images --------------------------------------------------------------------------
    ok("faces-cmyk-jpeg", ["faces", "{c}/cmyk.jpg"], stdout=r"cmyk\.jpg: 1 face\n", match=r"converted CMYK to RGB"),
    ok("faces-16-bit-grey-png", ["faces", "{c}/gray16.png"], stdout=r": 1 face\n", match=r"converted I;16"),
    ok("faces-exif-rotated", ["faces", "{c}/exif_rotated.jpg"], stdout=r": 1 face\n",
       match=r"applied EXIF orientation 6"),
    ok("faces-1x1", ["faces", "{c}/one_pixel.png"], stdout=r"no face found"),
    ok("faces-no-face-drawn", ["faces", "{c}/no_face.png", "--draw", "{o}/d.png"], present=("{o}/d.png",),
       stdout=r"no face found"),
    ok("faces-30-faces", ["faces", "{c}/crowd30.jpg"], stdout=r"crowd30\.jpg: 30 faces\n"),
    ok("faces-unicode-and-spaces", ["faces", UNICODE, "--draw", "{o}/выход с пробелом.png"],
       present=("{o}/выход с пробелом.png",), stdout=r"фото лица 1\.jpg: 1 face"),
    # --- faces: output paths ----------------------------------------------------------------------------
    fail("faces-draw-is-a-folder", ["faces", "{c}/portrait.jpg", "--draw", "{c}/dir.png"], r"dir\.png is a folder"),
    fail("faces-draw-read-only", ["faces", "{c}/portrait.jpg", "--draw", "{ro}/d.png"], CANNOT_WRITE,
         absent=("{ro}/d.png",)),
    fail("faces-draw-under-proc", ["faces", "{c}/portrait.jpg", "--draw", "/proc/infoswap-corpus.png"],
         r"--draw: cannot write in folder /proc"),
    fail("faces-draw-disk-full", ["faces", "{c}/large.png", "--draw", "{full}/d.png"], NO_SPACE,
         absent=("{full}/d.png",)),
    # --- align --------------------------------------------------------------------------------------------
    ok("align-folder-of-non-images", ["align", "{c}/non_images", "{o}/aligned", "--size", "128", "--no-progress"],
       stdout=r"read 0 images, wrote 0 faces .*2 unreadable", match=r"skipped photo\.jpg: not a readable image"),
    ok("align-awkward-photos-unicode", ["align", "{c}/awkward photos", "{o}/выход aligned", "--size", "128",
                                        "--no-progress"],
       present=("{o}/выход aligned/manifest.csv", f"{{o}}/выход aligned/{UNICODE_PHOTO}_0.png",
                "{o}/выход aligned/cmyk.jpg_0.png", "{o}/выход aligned/exif_rotated.jpg_0.png"),
       stdout=r"read 6 images, wrote 6 faces .*skipped 2 files", match=r"skipped truncated\.jpg: damaged"),
    fail("align-out-is-a-file", ["align", "{c}/non_images", "{c}/a_file.txt"], r"OUT_DIR .*exists and is not a folder"),
    fail("align-out-read-only", ["align", "{c}/awkward photos", "{ro}/aligned", "--size", "128"], CANNOT_WRITE,
         absent=("{ro}/aligned",)),
    fail("align-disk-full", ["align", "{c}/awkward photos", "{full}/aligned", "--size", "256", "--no-progress"],
         NO_SPACE),
    # --- inspect ------------------------------------------------------------------------------------------
    fail("inspect-0-byte-image", ["inspect", "{c}/empty.jpg"], r"empty\.jpg: not a readable image"),
    fail("inspect-0-byte-video", ["inspect", "{c}/empty.mp4"], r"empty\.mp4: not a readable video"),
    fail("inspect-corrupt-mp4", ["inspect", "{c}/corrupt.mp4"], r"corrupt\.mp4: not a readable video"),
    fail("inspect-truncated-mp4", ["inspect", "{c}/truncated.mp4"], r"truncated\.mp4: not a readable video"),
    fail("inspect-mp4-audio-only", ["inspect", "{c}/audio_only.mp4"], r"audio_only\.mp4: has no video stream"),
    fail("inspect-png-bomb", ["inspect", "{c}/bomb.png"], r"bomb\.png: .*(DecompressionBomb|exceeds the limit)"),
    ok("inspect-video-without-audio", ["inspect", "{c}/no_audio.mp4"], stdout=r"4 frames at 25\.000 fps.*no audio"),
    ok("inspect-variable-frame-rate", ["inspect", "{c}/vfr.mp4", "--json"], stdout=r'"frames": 4'),
    ok("inspect-10-bit-video", ["inspect", "{c}/ten_bit.mp4"], stdout=r"watermark: not found"),
    ok("inspect-rgba-png", ["inspect", "{c}/rgba.png"], stdout=r"metadata:  no AI-generated marking"),
    # --- convert ------------------------------------------------------------------------------------------
    fail("convert-pickle-with-code", ["convert", "{c}/evil.pth", "--arch", "irse50", "--out", "{o}/r.safetensors"],
         r"evil\.pth (is not a PyTorch checkpoint|holds Python objects)", absent=("{o}/r.safetensors", "{c}/pwned")),
    fail("convert-truncated-pth", ["convert", "{c}/truncated.pth", "--arch", "irse50", "--out", "{o}/r.safetensors"],
         r"truncated\.pth is not a PyTorch checkpoint", absent=("{o}/r.safetensors",)),
    fail("convert-0-byte", ["convert", "{c}/empty.safetensors", "--arch", "iresnet50", "--out", "{o}/r.safetensors"],
         r"empty\.safetensors is not a PyTorch checkpoint", absent=("{o}/r.safetensors",)),
    fail("convert-another-network", ["convert", "{c}/pickle.pth", "--arch", "irse50", "--out", "{o}/r.safetensors"],
         r"do not fit IRSE50: missing keys", absent=("{o}/r.safetensors",)),
    # --- swap: inputs -------------------------------------------------------------------------------------
    fail("swap-source-0-byte", ["swap", "-s", "{c}/empty.jpg", "-t", "{c}/portrait.jpg", "-o", SWAP_OUT, *TINY],
         r"empty\.jpg: not a readable image", absent=(SWAP_OUT,)),
    fail("swap-target-truncated-png", [*SWAP, "-t", "{c}/truncated.png", "-o", SWAP_OUT],
         r"truncated\.png: damaged or truncated image", absent=(SWAP_OUT,)),
    fail("swap-target-corrupt-mp4", [*SWAP, "-t", "{c}/corrupt.mp4", "-o", "{o}/v.mp4"],
         r"corrupt\.mp4: not a readable video", absent=("{o}/v.mp4",)),
    fail("swap-target-mp4-audio-only", [*SWAP, "-t", "{c}/audio_only.mp4", "-o", "{o}/v.mp4"],
         r"audio_only\.mp4: has no video stream", absent=("{o}/v.mp4",)),
    fail("swap-target-folder-of-non-images", [*SWAP, "-t", "{c}/non_images", "-o", "{o}/swapped"],
         r"2 of 2 images failed", absent=("{o}/swapped/photo.jpg", "{o}/swapped/face.png")),
    ok("swap-target-without-face", [*SWAP, "-t", "{c}/no_face.png", "-o", SWAP_OUT], present=(SWAP_OUT,),
       match=r"no face selected; copied through unchanged"),
    ok("swap-exif-rotated-to-unicode-path", [*SWAP, "-t", "{c}/exif_rotated.jpg", "-o", "{o}/swapped ü 1.png"],
       present=("{o}/swapped ü 1.png",), stdout=r"swapped 1 face"),
    ok("swap-variable-frame-rate-video", [*SWAP, "-t", "{c}/vfr.mp4", "-o", "{o}/vfr out.mp4"],
       present=("{o}/vfr out.mp4",), stdout=r"of 4 frames had a face"),
    ok("swap-10-bit-video", [*SWAP, "-t", "{c}/ten_bit.mp4", "-o", "{o}/ten_bit.mkv"], present=("{o}/ten_bit.mkv",),
       stdout=r"of 4 frames had a face"),
    # --- swap: weights ------------------------------------------------------------------------------------
    fail("swap-checkpoint-is-pickle", swap_with("{c}/pickle.safetensors"),
         r"not a safetensors file; infoswap never unpickles", absent=(SWAP_OUT,)),
    fail("swap-checkpoint-pickle-with-code", swap_with("{c}/evil.pth"), r"never unpickles weights",
         absent=(SWAP_OUT, "{c}/pwned")),
    fail("swap-checkpoint-truncated", swap_with("{c}/truncated.safetensors"),
         r"truncated\.safetensors: not a readable safetensors", absent=(SWAP_OUT,)),
    fail("swap-checkpoint-other-preset", [*swap_with("{c}/tiny-128.safetensors"), "--preset", "256"],
         r"checkpoint is for the 128 px preset, not 256", absent=(SWAP_OUT,)),
    fail("swap-checkpoint-unknown-config-keys", swap_with("{c}/unknown-config.safetensors"),
         r"unknown ModelConfig field\(s\) wings", absent=(SWAP_OUT,)),
    fail("swap-checkpoint-nan-weights", swap_with("{c}/nan.safetensors"),
         r"nan\.safetensors: .*(NaN|not finite|non-finite)", absent=(SWAP_OUT,)),
    # --- swap: output paths -------------------------------------------------------------------------------
    fail("swap-output-is-a-folder", [*SWAP, "-t", "{c}/portrait.jpg", "-o", "{c}/dir.png"], r"dir\.png: is a folder"),
    fail("swap-output-read-only", [*SWAP, "-t", "{c}/portrait.jpg", "-o", "{ro}/s.png"], CANNOT_WRITE,
         absent=("{ro}/s.png",)),
    fail("swap-output-under-a-file", [*SWAP, "-t", "{c}/portrait.jpg", "-o", "{c}/a_file.txt/s.png"],
         r"a_file\.txt is not a folder"),
    fail("swap-output-disk-full", [*SWAP, "-t", "{c}/large.png", "-o", "{full}/s.png"], NO_SPACE,
         absent=("{full}/s.png",)),
    # --- train --------------------------------------------------------------------------------------------
    fail("train-config-unknown-keys", ["train", "--config", "{c}/unknown-keys.json", "--outdir", "{o}"],
         r"unknown key\(s\) epochs, learning_rate", absent=("{o}/00000-*",)),
    fail("train-config-not-json", ["train", "--config", "{c}/not-json.json", "--outdir", "{o}"],
         r"not-json\.json: cannot be read as JSON", absent=("{o}/00000-*",)),
    fail("train-config-not-an-object", ["train", "--config", "{c}/list.json", "--outdir", "{o}"],
         r"list\.json: must hold a JSON object", absent=("{o}/00000-*",)),
    fail("train-data-of-non-images", [*TRAIN, "--data", "{c}/non_images_aligned", "--outdir", "{o}"],
         r"0 usable aligned face\(s\) \(2 damaged or missing", absent=("{o}/00000-*",)),
    fail("train-data-not-aligned", [*TRAIN, "--data", "{c}/non_images", "--outdir", "{o}"],
         r"no manifest\.csv, so these are not aligned faces", absent=("{o}/00000-*",)),
    fail("train-outdir-under-a-file", [*TRAIN, "--data", "{c}/aligned", "--outdir", "{c}/a_file.txt"],
         r"a_file\.txt/00000-\S+: Not a directory"),
    fail("train-disk-full", [*TRAIN, "--data", "{c}/aligned", "--outdir", "{full}"], NO_SPACE),
    # --- calibrate ----------------------------------------------------------------------------------------
    fail("calibrate-data-of-non-images", ["calibrate", "--data", "{c}/non_images_aligned", "--out",
                                          "{o}/s.safetensors"],
         r"0 usable aligned face", absent=("{o}/s.safetensors",)),
    fail("calibrate-out-is-a-folder", ["calibrate", "--data", "{c}/aligned", "--out", "{c}/dir.png"],
         r"--out .*dir\.png: the statistics file is written as \.safetensors"),
    fail("calibrate-out-read-only", ["calibrate", "--data", "{c}/aligned", "--num", "2", "--out", "{ro}/s.safetensors"],
         CANNOT_WRITE, absent=("{ro}/s.safetensors",)),
    fail("calibrate-disk-full", ["calibrate", "--data", "{c}/aligned", "--num", "2", "--out", "{full}/s.safetensors"],
         NO_SPACE, absent=("{full}/s.safetensors",)),
    ok("calibrate-unicode-output", ["calibrate", "--data", "{c}/aligned", "--num", "2", "--out",
                                    "{o}/статистика 1.safetensors"],
       present=("{o}/статистика 1.safetensors",), stdout=r"statistics of 10 taps over 2 faces"),
    # --- evaluate -----------------------------------------------------------------------------------------
    fail("evaluate-manifest-0-byte", ["evaluate", "--manifest", "{c}/manifest-empty.csv"], r"lacks column\(s\)"),
    fail("evaluate-manifest-wrong-columns", ["evaluate", "--manifest", "{c}/manifest-bad-columns.csv"],
         r"lacks column\(s\) source, target, swap"),
    fail("evaluate-manifest-of-broken-images", ["evaluate", "--manifest", "{c}/manifest-text-images.csv", "--json",
                                                "{o}/r.json"], r"text\.jpg: not a readable image",
         absent=("{o}/r.json",)),
    fail("evaluate-plot-not-png", ["evaluate", "--manifest", "{c}/manifest-text-images.csv", "--plot", "{o}/p.jpg"],
         r"--plot .*p\.jpg: .*name it \*\.png", absent=("{o}/p.jpg",)),
    # --- forensics ----------------------------------------------------------------------------------------
    fail("forensics-build-from-non-images", ["forensics", "build", "--images", "{c}/non_images", "--out", "{o}/set",
                                             "--method", "paste", "--no-progress"], r"a set needs at least 4",
         absent=("{o}/set",)),
    fail("forensics-eval-pickle-detector", ["forensics", "eval", "--detector", "{c}/pickle.pth", "--set",
                                            "{c}/forensic_set"], r"not a safetensors file"),
    fail("forensics-eval-truncated-detector", ["forensics", "eval", "--detector", "{c}/truncated.safetensors",
                                               "--set", "{c}/forensic_set"], r"not a readable safetensors"),
    fail("forensics-eval-generator-as-detector", ["forensics", "eval", "--detector", "{c}/tiny-128.safetensors",
                                                  "--set", "{c}/forensic_set"], r"not a forgery detector"),
    fail("forensics-eval-nan-detector", ["forensics", "eval", "--detector", "{c}/detector-nan", "--set",
                                         "{c}/forensic_set", "--json", "{o}/r.json"], r"(NaN|not finite|non-finite)",
         absent=("{o}/r.json",)),
    fail("forensics-train-disk-full", ["forensics", "train", "--manifest", "{c}/forensic_set", "--out", "{full}/det",
                                       *DETECTOR], NO_SPACE),
    ok("forensics-train-unicode-run-folder", ["forensics", "train", "--manifest", "{c}/forensic_set", "--out",
                                              "{o}/детектор 1", "--width", "4", *DETECTOR],
       present=("{o}/детектор 1/checkpoint-00000001.json",
                "{o}/детектор 1/network-snapshot-00000001.safetensors")),
    # --- ui (no server is started: every case fails before one would be) ---------------------------------
    fail("ui-checkpoint-is-pickle", ["ui", "--checkpoint", "{c}/evil.pth"], r"never unpickles weights",
         absent=("{c}/pwned",)),
    fail("ui-checkpoint-missing", ["ui", "--checkpoint", "{c}/nowhere.safetensors"], r"nowhere\.safetensors: no such"),
    # --- explain ------------------------------------------------------------------------------------------
    fail("explain-text-named-jpg", ["explain", "--image", "{c}/text.jpg", *TINY, "--out", "{o}/e.png"],
         r"text\.jpg: not a readable image", absent=("{o}/e.png",)),
    fail("explain-image-without-face", ["explain", "--image", "{c}/no_face.png", *TINY, "--out", "{o}/e.png"],
         r"no_face\.png: no face found", absent=("{o}/e.png",)),
]

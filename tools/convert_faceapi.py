"""Rebuilds the shipped face-network weights from the npm package @vladmandic/face-api 1.7.15 (MIT).

    python tools/convert_faceapi.py                 # runs `npm pack` in a temp folder
    python tools/convert_faceapi.py --tarball X.tgz # or uses a tarball you already have

Checks the tarball's sha256, reads each tfjs model, maps it onto the PyTorch port's parameter names
(each port's mapping lives in `infoswap.weights.faceapi.<net>`), and writes quantised safetensors plus
SHA256SUMS into src/infoswap/weights/data/.
"""

from __future__ import annotations

import importlib

from npm_tarball import converter_arguments, unpacked  # same folder

from infoswap.weights.store import CHECKSUMS, save_state, sha256_of
from infoswap.weights.tfjs import read_tfjs_weights

PACKAGE = "@vladmandic/face-api@1.7.15"
TARBALL_SHA256 = "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
# Each module defines MANIFEST (tfjs model name), OUTPUT (file name) and convert(tfjs) -> PyTorch tensors.
NETS = ("detector", "landmarks", "recognition")


def main() -> None:
    args = converter_arguments(__doc__, "face-api 1.7.15 tarball")
    with unpacked(PACKAGE, TARBALL_SHA256, args.tarball, lambda name: name.startswith("package/model/")) as package:
        args.out.mkdir(parents=True, exist_ok=True)
        for net in NETS:
            port = importlib.import_module(f"infoswap.weights.faceapi.{net}")
            tfjs = read_tfjs_weights(package / "model" / f"{port.MANIFEST}-weights_manifest.json")
            tensors = port.convert(tfjs)
            metadata = {"origin": f"npm {PACKAGE} model/{port.MANIFEST}", "licence": "MIT", "net": net}
            save_state(args.out / port.OUTPUT, tensors, metadata)
            print(f"{port.OUTPUT}: {len(tensors)} tensors from {len(tfjs)} tfjs tensors")

    files = sorted(p for p in args.out.glob("*.safetensors"))
    (args.out / CHECKSUMS.name).write_text("".join(f"{sha256_of(p)}  {p.name}\n" for p in files))
    print(f"wrote {args.out / CHECKSUMS.name}")


if __name__ == "__main__":
    main()

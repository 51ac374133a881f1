"""Measures which box of the aligned face the dlib recogniser should see (DlibResNet.crop).

For every face in tests/fixtures/faceapi_reference.json: align it with face-api's own landmarks to the
FFHQ-style template, and for each square crop (side, vertical centre; centred horizontally) compare the
aligned-path embedding with face-api's descriptor of the same face (cosine), and score same/different
identity AUC on the identity photos. Prints one line per crop, best mean cosine first.

    .venv/bin/python tools/reference/choose_dlib_crop.py [--size 256] [--sides 0.6,0.64] [--centres 0.58,0.6]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from infoswap.faces.align import alignment_matrix, warp_to_aligned
from infoswap.faces.face import landmarks5_from_68
from infoswap.io.images import read_image
from infoswap.recognition.dlib_resnet import build

FIXTURE = Path("tests/fixtures/faceapi_reference.json")


def load_faces(size: int) -> tuple[torch.Tensor, np.ndarray, list[str | None]]:
    """Aligned faces (N, 3, size, size) in [-1, 1], face-api descriptors (N, 128), identity or None."""
    images = json.loads(FIXTURE.read_text())["images"]
    faces, refs, ids = [], [], []
    for path, found in images.items():
        pixels = read_image(path).pixels
        identity = Path(path).parent.name if "/identities/" in path else None
        for face in found:
            matrix = alignment_matrix(landmarks5_from_68(np.array(face["landmarks68"])), size)
            aligned = warp_to_aligned(pixels, matrix, size)
            faces.append(torch.from_numpy(aligned).permute(2, 0, 1).float() / 127.5 - 1)
            refs.append(np.array(face["descriptor"]) / np.linalg.norm(face["descriptor"]))
            ids.append(identity)
    return torch.stack(faces), np.stack(refs), ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--sides", default="0.56,0.6,0.64,0.68,0.72")
    parser.add_argument("--centres", default="0.56,0.58,0.6,0.62,0.64")
    args = parser.parse_args()

    model = build()
    faces, refs, ids = load_faces(args.size)
    labelled = np.array([i is not None for i in ids])
    names = np.array([i or "" for i in ids])[labelled]
    upper = np.triu_indices(len(names), 1)
    same = (names[:, None] == names[None])[upper]
    rows = []
    for side in map(float, args.sides.split(",")):
        for centre in map(float, args.centres.split(",")):
            model.crop = (0.5 - side / 2, centre - side / 2, 0.5 + side / 2, centre + side / 2)
            with torch.inference_mode():
                emb = model(faces).numpy()
            cos = (emb * refs).sum(1)
            auc = roc_auc_score(same, (emb[labelled] @ emb[labelled].T)[upper])
            rows.append((cos.mean(), cos.min(), auc, side, centre))
    for mean, worst, auc, side, centre in sorted(rows, reverse=True):
        print(f"side {side:.3f} centre {centre:.3f}: cosine to face-api mean {mean:.4f} worst {worst:.4f}, "
              f"AUC {auc:.4f}")


if __name__ == "__main__":
    main()

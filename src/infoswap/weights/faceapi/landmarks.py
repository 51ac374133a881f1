"""face-api's `face_landmark_68_model` -> `infoswap.faces.landmarks.Landmark68Net` names.

tfjs `denseK/convJ/...` become `denseK.convJ...`: the first block's plain conv keeps `weight`/`bias`, the
separable convs split into `depthwise.weight` and `pointwise.weight`/`pointwise.bias` (tfjs adds the bias
after the pointwise conv, which is where a PyTorch conv adds it). `fc/weights` (in, out) is transposed.
"""

from __future__ import annotations

from infoswap.weights.tfjs import TfjsTensor, conv2d_kernel, depthwise_kernel

MANIFEST = "face_landmark_68_model"
OUTPUT = "landmarks.safetensors"

BLOCKS = 4
CONVS_PER_BLOCK = 4


def convert(tfjs: dict[str, TfjsTensor]) -> dict[str, TfjsTensor]:
    """tfjs tensors by name -> PyTorch tensors by parameter name (OIHW kernels, fc as (out, in))."""
    out = {
        "dense0.conv0.weight": conv2d_kernel(tfjs["dense0/conv0/filters"]),
        "dense0.conv0.bias": tfjs["dense0/conv0/bias"],
    }
    for block in range(BLOCKS):
        for conv in range(CONVS_PER_BLOCK):
            if block == 0 and conv == 0:
                continue
            tf_prefix, prefix = f"dense{block}/conv{conv}", f"dense{block}.conv{conv}"
            out[f"{prefix}.depthwise.weight"] = depthwise_kernel(tfjs[f"{tf_prefix}/depthwise_filter"])
            out[f"{prefix}.pointwise.weight"] = conv2d_kernel(tfjs[f"{tf_prefix}/pointwise_filter"])
            out[f"{prefix}.pointwise.bias"] = tfjs[f"{tf_prefix}/bias"]
    out["fc.weight"] = tfjs["fc/weights"].transposed((1, 0))
    out["fc.bias"] = tfjs["fc/bias"]
    if len(out) != len(tfjs):
        raise ValueError(f"{MANIFEST}: mapped {len(out)} of {len(tfjs)} tfjs tensors")
    return out

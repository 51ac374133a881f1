"""face-api's `ssd_mobilenetv1_model` -> `infoswap.faces.detect.SsdMobilenetV1` names.

tfjs `MobilenetV1/Conv2d_0_pointwise` (a full 3×3 conv) becomes `backbone.conv0`; each later
`Conv2d_K_depthwise` + `Conv2d_K_pointwise` pair becomes `backbone.blocks.{K-1}.{depthwise,pointwise}`,
the depthwise BatchNorm keeping its four vectors (`bn_scale`, `bn_offset`, `bn_mean`, `bn_variance`);
`Prediction/Conv2d_K_pointwise` becomes `head.extra.K`; `BoxPredictor_K` becomes `head.box.K` / `head.cls.K`;
`Output/extra_dim` (the anchors) becomes `anchors`.
A pointwise conv's `convolution_bn_offset` is added after the conv, which is where a PyTorch bias goes.
The other entries (int32 shapes and axes left over from the TF export, and the Preprocessor constants
1/127.5 and 1 that the port applies as literals) are not weights and are dropped.
"""

from __future__ import annotations

from infoswap.weights.tfjs import TfjsTensor, conv2d_kernel, depthwise_kernel

MANIFEST = "ssd_mobilenetv1_model"
OUTPUT = "detector.safetensors"

BACKBONE_BLOCKS = 13
HEAD_CONVS = 8
PREDICTORS = 6
_WEIGHT_SUFFIXES = ("weights", "biases", "convolution_bn_offset", "gamma", "beta", "moving_mean",
                    "moving_variance", "extra_dim")
_BN = {"bn_scale": "gamma", "bn_offset": "beta", "bn_mean": "moving_mean", "bn_variance": "moving_variance"}


def _conv(tfjs: dict[str, TfjsTensor], tf_prefix: str, prefix: str,
          bias: str = "convolution_bn_offset") -> dict[str, TfjsTensor]:
    return {f"{prefix}.weight": conv2d_kernel(tfjs[f"{tf_prefix}/weights"]),
            f"{prefix}.bias": tfjs[f"{tf_prefix}/{bias}"]}


def convert(tfjs: dict[str, TfjsTensor]) -> dict[str, TfjsTensor]:
    """tfjs tensors by name -> PyTorch tensors by parameter name (OIHW kernels, (C, 1, 3, 3) depthwise)."""
    out = _conv(tfjs, "MobilenetV1/Conv2d_0_pointwise", "backbone.conv0")
    for k in range(1, BACKBONE_BLOCKS + 1):
        tf_dw, dw = f"MobilenetV1/Conv2d_{k}_depthwise", f"backbone.blocks.{k - 1}.depthwise"
        out[f"{dw}.weight"] = depthwise_kernel(tfjs[f"{tf_dw}/depthwise_weights"])
        out.update({f"{dw}.{name}": tfjs[f"{tf_dw}/BatchNorm/{tf_name}"] for name, tf_name in _BN.items()})
        out.update(_conv(tfjs, f"MobilenetV1/Conv2d_{k}_pointwise", f"backbone.blocks.{k - 1}.pointwise"))
    for k in range(HEAD_CONVS):
        out.update(_conv(tfjs, f"Prediction/Conv2d_{k}_pointwise", f"head.extra.{k}"))
    for k in range(PREDICTORS):
        predictor = f"Prediction/BoxPredictor_{k}"
        out.update(_conv(tfjs, f"{predictor}/BoxEncodingPredictor", f"head.box.{k}", bias="biases"))
        out.update(_conv(tfjs, f"{predictor}/ClassPredictor", f"head.cls.{k}", bias="biases"))
    out["anchors"] = tfjs["Output/extra_dim"].reshaped((-1, 4))
    dropped = [name for name in tfjs if not name.endswith(_WEIGHT_SUFFIXES)]
    if len(out) + len(dropped) != len(tfjs):
        raise ValueError(f"{MANIFEST}: mapped {len(out)} and dropped {len(dropped)} of {len(tfjs)} tfjs tensors")
    return out

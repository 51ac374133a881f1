"""face-api's `face_recognition_model` (dlib ResNet-29) -> `infoswap.recognition.dlib_resnet.DlibResNet` names.

Each tfjs conv layer is a conv (filters, bias) followed by a per-channel scale layer (weights, biases);
they become `<layer>.weight`, `.bias`, `.scale`, `.shift` of one `ConvScale`. Some filters are stored as
plain float32 in the package; they pass through unquantised.
"""

from __future__ import annotations

from infoswap.weights.tfjs import TfjsTensor, conv2d_kernel

MANIFEST = "face_recognition_model"
OUTPUT = "recognition.safetensors"

# tfjs residual layer prefixes in network order; position j becomes `blocks.j`.
BLOCKS = (
    "conv32_1", "conv32_2", "conv32_3",
    "conv64_down", "conv64_1", "conv64_2", "conv64_3",
    "conv128_down", "conv128_1", "conv128_2",
    "conv256_down", "conv256_1", "conv256_2", "conv256_down_out",
)


def _conv_layer(tfjs: dict[str, TfjsTensor], tf_prefix: str, torch_prefix: str) -> dict[str, TfjsTensor]:
    return {
        f"{torch_prefix}.weight": conv2d_kernel(tfjs[f"{tf_prefix}/conv/filters"]),
        f"{torch_prefix}.bias": tfjs[f"{tf_prefix}/conv/bias"],
        f"{torch_prefix}.scale": tfjs[f"{tf_prefix}/scale/weights"],
        f"{torch_prefix}.shift": tfjs[f"{tf_prefix}/scale/biases"],
    }


def convert(tfjs: dict[str, TfjsTensor]) -> dict[str, TfjsTensor]:
    """tfjs tensors by name -> PyTorch tensors by parameter name (OIHW kernels, fc as (out, in))."""
    out = _conv_layer(tfjs, "conv32_down", "stem.conv")
    for j, name in enumerate(BLOCKS):
        for k in ("conv1", "conv2"):
            out.update(_conv_layer(tfjs, f"{name}/{k}", f"blocks.{j}.{k}"))
    out["head.fc.weight"] = tfjs["fc"].transposed((1, 0))
    used = 4 + 8 * len(BLOCKS) + 1
    if used != len(tfjs):
        raise ValueError(f"{MANIFEST}: mapped {used} of {len(tfjs)} tfjs tensors")
    return out

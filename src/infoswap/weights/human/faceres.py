"""human-models' `faceres` graph -> `infoswap.evaluate.faceres.FaceRes` names.

The graph is read op by op rather than by weight names alone, so that a package whose network differs
from the port (strides, padding, activation limits, head wiring) fails at conversion, not silently later.
Each conv layer in the graph is the chain conv -> [Mul (depthwise only)] -> Add -> Relu -> Minimum(6) ->
Maximum(0); then Mean over H, W and three fused MatMuls (feats + ReLU, age, gender).
"""

from __future__ import annotations

import numpy as np

from infoswap.evaluate.faceres import BLOCKS
from infoswap.weights.tfjs import TfjsTensor, conv2d_kernel, depthwise_kernel
from infoswap.weights.tfjs_graph import GraphNode, TfjsGraph

MODEL = "faceres"
OUTPUT = "faceres.safetensors"
_CONV_OPS = ("Conv2D", "DepthwiseConv2dNative")
_HEADS = {"feats": ["BiasAdd", "Relu"], "age_pred": ["BiasAdd"], "gender_pred": ["BiasAdd"]}
_TORCH_HEAD = {"feats": "feats", "age_pred": "age", "gender_pred": "gender"}


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"{MODEL}: {message}")


def _conv_layers(ops: list[GraphNode]) -> tuple[list[dict], list[GraphNode]]:
    """Groups the leading conv chains into layers {op, kernel, stride, scale?, shift, clip}; returns the rest."""
    layers: list[dict] = []
    previous = None
    for i, node in enumerate(ops):
        if node.op not in (*_CONV_OPS, "Mul", "Add", "Relu", "Minimum", "Maximum"):
            return layers, ops[i:]
        _expect(previous is None or node.inputs[0] == previous, f"{node.name} does not follow {previous}")
        if node.op in _CONV_OPS:
            _expect(node.text("padding") == "SAME", f"{node.name}: padding {node.text('padding')}")
            _expect(set(node.ints("dilations")) == {1}, f"{node.name}: dilated conv")
            layers.append({"op": node.op, "kernel": node.inputs[1], "stride": node.ints("strides")[1]})
        elif node.op == "Mul":
            layers[-1]["scale"] = node.inputs[1]
        elif node.op == "Add":
            layers[-1]["shift"] = node.inputs[1]
        elif node.op in ("Minimum", "Maximum"):
            layers[-1][node.op] = node.inputs[1]
        previous = node.name
    return layers, []


def _scalar(graph: TfjsGraph, name: str) -> float:
    return float(graph.weights[name].dequantise())


def convert(graph: TfjsGraph) -> dict[str, TfjsTensor]:
    """Graph weights -> PyTorch tensors by parameter name (OIHW kernels, linear weights as (out, in))."""
    w = graph.weights
    layers, rest = _conv_layers(graph.ops)
    kinds = [layer["op"] for layer in layers]
    _expect(kinds == ["Conv2D"] + ["DepthwiseConv2dNative", "Conv2D"] * len(BLOCKS), f"layer sequence {kinds}")
    strides = [layers[1 + 2 * j]["stride"] for j in range(len(BLOCKS))]
    _expect(layers[0]["stride"] == 2 and strides == [s for _, s in BLOCKS], f"strides {strides}")
    for layer in layers:
        _expect(_scalar(graph, layer["Minimum"]) == 6 and _scalar(graph, layer["Maximum"]) == 0, "not ReLU6")
        _expect(("scale" in layer) == (layer["op"] == "DepthwiseConv2dNative"), f"{layer['kernel']}: BN layout")

    out = {"stem.weight": conv2d_kernel(w[layers[0]["kernel"]]), "stem.bias": w[layers[0]["shift"]]}
    for j in range(len(BLOCKS)):
        dw, pw = layers[1 + 2 * j], layers[2 + 2 * j]
        out[f"blocks.{j}.depthwise.weight"] = depthwise_kernel(w[dw["kernel"]])
        out[f"blocks.{j}.scale"] = w[dw["scale"]]
        out[f"blocks.{j}.shift"] = w[dw["shift"]]
        out[f"blocks.{j}.pointwise.weight"] = conv2d_kernel(w[pw["kernel"]])
        out[f"blocks.{j}.pointwise.bias"] = w[pw["shift"]]

    _expect([n.op for n in rest[:1]] == ["Mean"], f"after the convs: {[n.op for n in rest[:1]]}")
    _expect(sorted(np.asarray(w[rest[0].inputs[1]].values).tolist()) == [1, 2], "pooling axes are not H, W")
    matmuls = {n.name.split("/")[0]: n for n in rest if n.op == "_FusedMatMul"}
    _expect(set(matmuls) == set(_HEADS), f"heads {sorted(matmuls)}")
    for head, fused in _HEADS.items():
        node = matmuls[head]
        _expect(node.texts("fused_ops") == fused, f"{head}: fused ops {node.texts('fused_ops')}")
        source = rest[0].name if head == "feats" else matmuls["feats"].name
        _expect(node.inputs[0] == source, f"{head} reads {node.inputs[0]}")
        out[f"{_TORCH_HEAD[head]}.weight"] = w[node.inputs[1]].transposed((1, 0))
        out[f"{_TORCH_HEAD[head]}.bias"] = w[node.inputs[2]]

    used = 4 * len(layers) + sum(1 for layer in layers if "scale" in layer) + 1 + 2 * len(_HEADS)
    _expect(used == len(w), f"used {used} of {len(w)} graph tensors")
    return out

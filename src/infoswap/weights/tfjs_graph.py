"""Reads tfjs *graph* models (`model.json` with a `modelTopology` node list, plus `weightsManifest` shards).

A graph model is a frozen TensorFlow graph: a list of nodes (op, inputs, attributes) in which every weight
is a `Const` node whose values sit in the `.bin` shards, described by the same manifest groups as the
layers format (`infoswap.weights.tfjs`). Graph models are often stored float16 ("quantization": float16);
those tensors stay float16 here (`TfjsTensor` without an affine pair), so converted files keep the original
precision and size.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path


from infoswap.weights.tfjs import TfjsTensor, read_weight_groups



@dataclass(frozen=True)
class GraphNode:
    """One node of the frozen graph; `inputs` are node names (output index and control edges dropped)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict, repr=False)

    def ints(self, key: str) -> list[int]:
        """An int-list attribute, e.g. `strides` -> [1, 2, 2, 1]."""
        return [int(i) for i in self.attrs[key]["list"].get("i", [])]

    def text(self, key: str) -> str:
        """A string attribute (base64 in the JSON), e.g. `padding` -> "SAME"."""
        return base64.b64decode(self.attrs[key]["s"]).decode()

    def texts(self, key: str) -> list[str]:
        """A string-list attribute, e.g. `fused_ops` -> ["BiasAdd", "Relu"]."""
        return [base64.b64decode(s).decode() for s in self.attrs[key]["list"].get("s", [])]


@dataclass
class TfjsGraph:
    """A graph model: nodes in file order and the weights of its `Const` nodes by node name."""

    nodes: list[GraphNode]
    weights: dict[str, TfjsTensor]
    signature: dict

    @property
    def ops(self) -> list[GraphNode]:
        """The computing nodes (neither constants nor inputs), in file order (a topological order)."""
        return [n for n in self.nodes if n.op not in ("Const", "Placeholder")]


def _input_name(edge: str) -> str:
    return edge.split(":")[0]


def read_tfjs_graph(model_json: str | Path) -> TfjsGraph:
    """Parses a tfjs graph model; every `Const` node must have its weights in the manifest."""
    model_json = Path(model_json)
    model = json.loads(model_json.read_text())
    if model.get("format") != "graph-model":
        raise ValueError(f"{model_json.name}: not a tfjs graph model (format {model.get('format')!r})")
    nodes = [
        GraphNode(
            name=n["name"],
            op=n["op"],
            inputs=tuple(_input_name(i) for i in n.get("input", []) if not i.startswith("^")),
            attrs=n.get("attr", {}),
        )
        for n in model["modelTopology"]["node"]
    ]
    weights = read_weight_groups(model["weightsManifest"], model_json.parent, model_json.name)
    missing = [n.name for n in nodes if n.op == "Const" and n.name not in weights]
    if missing:
        raise ValueError(f"{model_json.name}: constants without weights: {missing[:5]}")
    return TfjsGraph(nodes=nodes, weights=weights, signature=model.get("signature", {}))

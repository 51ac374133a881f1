"""The faceres port (independent recogniser): agreement with the original tfjs graph, quality, isolation."""

import base64
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from infoswap.errors import InfoswapError
from infoswap.evaluate.judge import IndependentJudge, crop_square, load_faceres, square_around
from infoswap.io.images import read_image
from infoswap.recognition.registry import TRAINING_RECOGNIZERS, load_recognizer
from infoswap.weights.human.faceres import convert
from infoswap.weights.tfjs_graph import read_tfjs_graph

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "fixtures" / "faceres_reference.json"
FACEAPI_REFERENCE = REPO / "tests" / "fixtures" / "faceapi_reference.json"


@pytest.fixture(scope="module")
def judge() -> IndependentJudge:
    return IndependentJudge(model=load_faceres())


def test_port_matches_tfjs_on_bundled_crops(judge):
    """Same 224 crops as Node saw (rebuilt from the stored squares): descriptor, age and gender agree."""
    faces = json.loads(REFERENCE.read_text())["faces"]
    crops = np.stack([crop_square(read_image(REPO / f["image"]).pixels, f["square"]) for f in faces])
    with torch.inference_mode():
        descriptor = judge.model(torch.from_numpy(crops).permute(0, 3, 1, 2).float())
        age, male = judge.model.heads(descriptor)
    expected = torch.tensor([f["descriptor"] for f in faces])
    cosine = torch.nn.functional.cosine_similarity(descriptor, expected)
    assert cosine.min() > 0.999
    assert (descriptor - expected).abs().max() < 1e-3  # fixture rounded to 4 decimals
    assert (age - torch.tensor([f["age_probs"] for f in faces])).abs().max() < 1e-3
    assert (male - torch.tensor([f["male"] for f in faces])).abs().max() < 1e-3


def test_same_person_scores_above_different_people(judge):
    """ROC AUC ≥ 0.98 on every bundled identity photo; boxes are face-api's own (our detector matches them)."""
    detections = json.loads(FACEAPI_REFERENCE.read_text())["images"]
    crops, ids = [], []
    for path, found in sorted(detections.items()):
        if "/identities/" in path:
            box = max(found, key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]))["box"]
            crops.append(crop_square(read_image(REPO / path).pixels, square_around(np.array(box))))
            ids.append(Path(path).parent.name)
    descriptors = judge.embed_crops(np.stack(crops))
    assert np.allclose(np.linalg.norm(descriptors, axis=1), 1, atol=1e-5)
    pairs = list(combinations(range(len(ids)), 2))
    same = np.array([ids[i] == ids[j] for i, j in pairs])
    cosine = np.array([descriptors[i] @ descriptors[j] for i, j in pairs])
    assert len(ids) >= 30 and same.sum() >= 30
    assert roc_auc_score(same, cosine) >= 0.98


def test_square_is_human_crop():
    """1.4 × the longer side about the box centre, corners rounded half up as JavaScript's Math.round."""
    assert square_around(np.array([100.0, 50.0, 200.0, 130.0])) == (80, 20, 140)
    assert square_around(np.array([0.0, 0.0, 10.0, 10.0]), scale=1.0) == (0, 0, 10)
    image = np.full((20, 20, 3), 200, np.uint8)
    crop = crop_square(image, (-10, -10, 40), size=40)  # the photo fills the middle, zeros around it
    assert crop[0, 0].tolist() == [0, 0, 0] and crop[20, 20].tolist() == [200, 200, 200]


def test_never_a_training_recogniser():
    assert not any("faceres" in name or "faceres" in target for name, target in TRAINING_RECOGNIZERS.items())
    with pytest.raises(InfoswapError, match="unknown recogniser"):
        load_recognizer("faceres")


def _tiny_graph(folder: Path, padding: str) -> Path:
    """A one-conv graph model: float16 kernel, uint8-quantised bias, int32 constant, base64 attributes."""
    kernel = np.arange(3 * 3 * 3 * 2, dtype=np.float16).reshape(3, 3, 3, 2) / 8
    bias_q = np.array([0, 255], np.uint8)
    axes = np.array([1, 2], np.int32)
    (folder / "tiny.bin").write_bytes(kernel.tobytes() + bias_q.tobytes() + axes.tobytes())
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    conv = {"name": "conv1/Conv2D", "op": "Conv2D", "input": ["input_1", "conv1/kernel", "^ctrl"],
            "attr": {"padding": {"s": b64(padding)}, "strides": {"list": {"i": ["1", "2", "2", "1"]}},
                     "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}}
    model = {
        "format": "graph-model",
        "modelTopology": {"node": [
            {"name": "input_1", "op": "Placeholder"},
            {"name": "conv1/kernel", "op": "Const"}, {"name": "conv1/bias", "op": "Const"},
            {"name": "pool/axes", "op": "Const"}, conv,
            {"name": "conv1/add", "op": "Add", "input": ["conv1/Conv2D", "conv1/bias"]},
        ]},
        "weightsManifest": [{"paths": ["tiny.bin"], "weights": [
            {"name": "conv1/kernel", "shape": [3, 3, 3, 2], "dtype": "float32",
             "quantization": {"dtype": "float16", "original_dtype": "float32"}},
            {"name": "conv1/bias", "shape": [2], "dtype": "float32",
             "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
            {"name": "pool/axes", "shape": [2], "dtype": "int32"},
        ]}],
    }
    (folder / "tiny.json").write_text(json.dumps(model))
    return folder / "tiny.json"


def test_graph_reader_decodes_nodes_and_weights(tmp_path):
    graph = read_tfjs_graph(_tiny_graph(tmp_path, "SAME"))
    assert [n.op for n in graph.ops] == ["Conv2D", "Add"]
    conv = graph.ops[0]
    assert conv.inputs == ("input_1", "conv1/kernel") and conv.text("padding") == "SAME"
    assert conv.ints("strides") == [1, 2, 2, 1]
    kernel = graph.weights["conv1/kernel"]
    assert kernel.values.dtype == np.float16 and not kernel.quantised and kernel.dequantise()[2, 2, 2, 1] == 53 / 8
    assert graph.weights["conv1/bias"].dequantise().tolist() == [-1.0, 126.5]
    assert graph.weights["pool/axes"].values.tolist() == [1, 2]


def test_conversion_refuses_a_different_network(tmp_path):
    with pytest.raises(ValueError, match="padding VALID"):
        convert(read_tfjs_graph(_tiny_graph(tmp_path, "VALID")))
    with pytest.raises(ValueError, match="layer sequence"):
        convert(read_tfjs_graph(_tiny_graph(tmp_path, "SAME")))

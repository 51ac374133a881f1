"""Security promises of issue 14: nothing unpickles code, the web app stays on this computer unless told
otherwise and enforces its limits, and output file names are made by infoswap, never taken from an upload.

The loading check reads the source as Python syntax trees (not text), so a comment or a string that
mentions pickle does not trip it, and an aliased import does not slip past it; a self-test feeds it
known-bad code so that it is seen to catch what it is meant to.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPO / "src").rglob("*.py")) + sorted((REPO / "tools").rglob("*.py"))
PICKLING_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal",
                    "torch.package"}
HARMLESS = {"UnpicklingError", "PicklingError"}  # exception classes: catching them unpickles nothing
TORCH_LOAD_ALLOWED = {REPO / "src" / "infoswap" / "recognition" / "convert.py"}  # `infoswap convert` only


def _dotted(node: ast.AST) -> str:
    """"torch.load" for the expression torch.load, "" for anything that is not a plain dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def unsafe_loading(source: str, path: Path, torch_load_allowed: bool = False) -> list[str]:
    """Every way `source` could run code hidden in a file it reads; each as "path:line: what"."""
    tree = ast.parse(source)
    found: list[str] = []
    aliases: dict[str, str] = {}  # local name -> module or dotted object it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:  # `import a.b` binds a; `import a.b as c` binds c to a.b
                bound = alias.asname or alias.name.split(".")[0]
                aliases[bound] = alias.name if alias.asname else bound
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                if node.module in PICKLING_MODULES and alias.name not in HARMLESS:
                    found.append(f"{path}:{node.lineno}: from {node.module} import {alias.name}")
    pickling_names = {name for name, target in aliases.items() if target in PICKLING_MODULES}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in pickling_names:
            if node.attr not in HARMLESS:
                found.append(f"{path}:{node.lineno}: {aliases[node.value.id]}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in pickling_names and not _used_as_attribute_base(tree, node):
            found.append(f"{path}:{node.lineno}: {aliases[node.id]} used as a whole")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        head, _, rest = name.partition(".")
        name = f"{aliases.get(head, head)}{'.' + rest if rest else ''}"
        keywords = {k.arg: k.value for k in node.keywords}
        if name in ("torch.load", "torch.serialization.load"):
            safe = isinstance(keywords.get("weights_only"), ast.Constant) and keywords["weights_only"].value is True
            if not safe:
                found.append(f"{path}:{node.lineno}: torch.load without weights_only=True")
            elif not torch_load_allowed:
                found.append(f"{path}:{node.lineno}: torch.load outside `infoswap convert`")
        elif name in ("numpy.load", "np.load"):
            flag = keywords.get("allow_pickle")
            if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
                found.append(f"{path}:{node.lineno}: numpy.load with allow_pickle")
        elif name in ("torch.jit.load", "yaml.load", "yaml.unsafe_load"):
            found.append(f"{path}:{node.lineno}: {name}")
    return found


def _used_as_attribute_base(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Attribute) and n.value is name for n in ast.walk(tree))


def test_the_checker_catches_each_way_of_unpickling() -> None:
    bad = {
        "import pickle\npickle.load(open('f', 'rb'))": "pickle.load",
        "import pickle as p\np.loads(b'')": "pickle.loads",
        "from pickle import Unpickler": "import Unpickler",
        "import dill\ndill.load(f)": "dill.load",
        "import joblib\njoblib.load('m')": "joblib.load",
        "import torch\ntorch.load('m.pt')": "without weights_only",
        "import torch\ntorch.load('m.pt', weights_only=False)": "without weights_only",
        "from torch import load\nload('m.pt')": "without weights_only",
        "import torch as t\nt.load('m.pt', map_location='cpu')": "without weights_only",
        "import torch\ntorch.load('m.pt', weights_only=True)": "outside `infoswap convert`",
        "import numpy as np\nnp.load('a.npy', allow_pickle=True)": "allow_pickle",
        "import torch\ntorch.jit.load('m.pt')": "torch.jit.load",
        "import pickle\nhandler = pickle": "used as a whole",
    }
    for source, what in bad.items():
        found = unsafe_loading(source, Path("x.py"))
        assert found and what in found[0], (source, found)
    fine = ("import pickle\ntry:\n    pass\nexcept pickle.UnpicklingError:\n    pass\n"
            "import numpy as np\nnp.load('a.npy')\n# torch.load('x') in a comment\ns = 'pickle.load'\n")
    assert unsafe_loading(fine, Path("x.py")) == []


def test_nothing_in_the_source_tree_loads_pickled_code() -> None:
    found = [hit for path in SOURCES
             for hit in unsafe_loading(path.read_text(encoding="utf-8"), path.relative_to(REPO),
                                       torch_load_allowed=path in TORCH_LOAD_ALLOWED)]
    assert found == [], "\n".join(found)
    assert len(SOURCES) > 50  # the walk found the package


# --- the web app --------------------------------------------------------------------------------------


def test_the_ui_listens_on_this_computer_unless_told_otherwise() -> None:
    from typer.testing import CliRunner

    from infoswap.cli import app
    from infoswap.cli.ui import _is_loopback, ui

    assert inspect.signature(ui).parameters["host"].default.default == "127.0.0.1"
    shown = CliRunner().invoke(app, ["ui", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).output
    assert re.search(r"--host\b.*\[default: 127\.0\.0\.1\]", shown), shown
    assert all(map(_is_loopback, ("127.0.0.1", "::1", "localhost")))
    assert not any(map(_is_loopback, ("0.0.0.0", "192.168.1.5", "::", "example.org")))

    serve = next(n for n in ast.walk(ast.parse((REPO / "src/infoswap/ui/app.py").read_text()))
                 if isinstance(n, ast.FunctionDef) and n.name == "serve")
    names = [a.arg for a in serve.args.args]
    defaults = dict(zip(names[-len(serve.args.defaults):], serve.args.defaults))
    assert ast.literal_eval(defaults["host"]) == "127.0.0.1"
    launch = next(n for n in ast.walk(serve) if isinstance(n, ast.Call) and _dotted(n.func).endswith(".launch"))
    options = {k.arg: k.value for k in launch.keywords}
    assert ast.literal_eval(options["share"]) is False  # no public share link
    assert _dotted(options["server_name"]) == "host"
    assert "max_file_size" in options  # the web server refuses over-limit uploads before storing them


def test_upload_limits_refuse_oversize_empty_and_non_image_files(tmp_path: Path) -> None:
    from PIL import Image

    from infoswap.errors import InfoswapError
    from infoswap.ui.limits import Limits, check_image, check_media

    small, empty, notes = tmp_path / "small.png", tmp_path / "empty.jpg", tmp_path / "notes.jpg"
    Image.new("RGB", (64, 64), (90, 120, 150)).save(small)
    empty.write_bytes(b"")
    notes.write_text("not an image\n")
    for check, path, words in ((check_image, empty, "the file is empty"), (check_media, notes, "neither an image")):
        with pytest.raises(InfoswapError, match=words) as caught:
            check(path, Limits())
        assert str(tmp_path) not in str(caught.value)  # named as the user knows it, not by a server path
    with pytest.raises(InfoswapError, match="image uploads are limited to"):
        check_image(small, Limits(image_bytes=100))
    with pytest.raises(InfoswapError, match="images are limited to 0.001 megapixels"):
        check_image(small, Limits(image_pixels=1000))
    check_image(small, Limits())


def test_upload_limits_name_a_decompression_bomb(tmp_path: Path) -> None:
    import sys

    from infoswap.errors import InfoswapError
    from infoswap.ui.limits import Limits, check_media

    sys.path.insert(0, str(REPO / "tests" / "corpus"))
    from make_corpus import png_bomb

    bomb = tmp_path / "bomb.png"
    png_bomb(bomb)  # 20000 × 20000 in ~50 KB
    with pytest.raises(InfoswapError, match="400.0 megapixels"):
        check_media(bomb, Limits())


class _StubSwapper:
    """Stands in for a loaded model: swaps by returning the target, so only the file handling is tested."""

    resolution = 128

    def source_identity(self, paths):
        return object()

    def face_selector(self, mode, index=None, reference=None):
        return object()

    def swap(self, identity, pixels, face_selector=None, mark=False):
        from infoswap.swap.swapper import SwapResult

        return SwapResult(image=np.asarray(pixels), faces=1, seconds=0.01)


def test_output_names_are_made_by_the_app_never_taken_from_uploads(tmp_path: Path) -> None:
    from PIL import Image

    from infoswap.ui.backend import Backend
    from infoswap.ui.outputs import OutputFolder

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    hostile = uploads / "..;$(touch pwned) ünï.png"  # what a browser may call its file
    Image.new("RGB", (256, 256), (120, 100, 90)).save(hostile)
    outputs = OutputFolder()
    backend = Backend(_StubSwapper(), outputs=outputs)
    made = backend.swap_image([str(hostile)], str(hostile)).path
    assert made.parent == outputs.path
    assert re.fullmatch(r"infoswap-swap-\d{8}-\d{6}-[0-9a-f]{6}\.png", made.name), made.name
    assert made.is_file() and not (tmp_path / "pwned").exists()
    assert sorted(p.name for p in uploads.iterdir()) == [hostile.name]  # nothing written beside the upload
    names = {outputs.new("swap", ".png").name for _ in range(50)}
    assert len(names) == 50  # every result gets a fresh name: none overwrites another user's

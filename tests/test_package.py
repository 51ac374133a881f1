"""The package's front door: `from infoswap import Swapper` works, and importing infoswap (or asking the
CLI for help) does not import torch, so both stay fast."""

from __future__ import annotations

import subprocess
import sys

import pytest

import infoswap


def _modules_after(code: str) -> set[str]:
    """Modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_swapper_is_importable_from_the_package():
    from infoswap import Swapper, SwapResult
    from infoswap.swap.swapper import Swapper as Defined

    assert Swapper is Defined and hasattr(Swapper, "from_pretrained") and SwapResult.__name__ == "SwapResult"
    assert "Swapper" in dir(infoswap) and "Swapper" in infoswap.__all__
    with pytest.raises(AttributeError, match="no attribute 'Swaper'"):
        infoswap.Swaper  # noqa: B018


def test_import_loads_the_api_only_when_it_is_used():
    bare = _modules_after("import infoswap; infoswap.__version__")
    assert "torch" not in bare and "infoswap.swap.swapper" not in bare
    assert "infoswap.swap.swapper" in _modules_after("from infoswap import Swapper")


def test_help_runs_without_torch():
    code = ("import sys; from infoswap.cli import main; sys.argv = ['infoswap', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "swap" in done.stdout and done.stderr.strip().endswith("NO-TORCH"), done.stderr

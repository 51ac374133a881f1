"""Every bad or awkward input of the corpus through the real CLI, as a subprocess (issue 14).

For each case of `tests/corpus/cases.py`: the exit code is the expected one, no Python traceback reaches
stderr, a failure ends in one `infoswap: error:` line that names the problem, and nothing half-written
is left: no temp file anywhere the command could write, no output of a failed run, every file left in
an output folder whole (it decodes / parses to the end). The last test prints the tally.
"""

from __future__ import annotations

import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from cases import CASES, Case  # noqa: E402
from make_corpus import make_corpus  # noqa: E402

FREE_BYTES = 64 * 1024  # what the "full" disk has left
TEMP_NAME = re.compile(r"^\.|\.tmp\b|\.partial|^tmp|^\.tmp-")  # atomic writers' temp names (all hidden or tmp)
TIMEOUT = 300


def _command() -> list[str]:
    script = Path(sys.executable).with_name("infoswap")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "infoswap"]


@dataclass
class Tally:
    """What the corpus run saw; printed at the end and asserted by the last test."""

    tried: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    half_written: list[str] = field(default_factory=list)
    known: set[str] = field(default_factory=set)
    cpu: dict[str, float] = field(default_factory=dict)


TALLY = Tally()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


def _mount_tmpfs(folder: Path, options: str) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@dataclass
class Setting:
    """A case and the places it runs with: the placeholders' paths, the child's file-size limit, how they
    were made (for the failure message)."""

    case: Case
    paths: dict[str, str]
    limit: int | None
    how: str


@pytest.fixture
def setting(request: pytest.FixtureRequest, tmp_path: Path, corpus: Path):
    """{c}, {o}, and {ro} / {full} when the case uses them."""
    case: Case = request.param
    paths = {"c": str(corpus), "o": str(tmp_path / "out")}
    (tmp_path / "out").mkdir()
    mounted, limit, how = [], None, []
    if "ro" in case.fixtures:
        ro = tmp_path / "ro"
        if _can_mount() and _mount_tmpfs(ro, "ro,size=64k"):
            mounted.append(ro)
            how.append("read-only tmpfs")
        elif os.geteuid() != 0:
            ro.mkdir()
            ro.chmod(0o555)
            how.append("chmod 555 folder")
        else:
            pytest.skip("root without mount: no folder here that root cannot write to")
        paths["ro"] = str(ro)
    if "full" in case.fixtures:
        disk = tmp_path / "disk"
        if _can_mount() and _mount_tmpfs(disk, "size=1m"):
            mounted.append(disk)
            free = shutil.disk_usage(disk).free
            (disk / "filler").write_bytes(b"\0" * (free - FREE_BYTES))
            how.append(f"1 MiB tmpfs, {FREE_BYTES // 1024} KiB free")
        else:
            disk.mkdir(exist_ok=True)  # a failed mount may have made it
            limit = FREE_BYTES
            how.append(f"RLIMIT_FSIZE {FREE_BYTES // 1024} KiB")
        (disk / "full").mkdir()
        paths["full"] = str(disk / "full")
    try:
        yield Setting(case, paths, limit, ", ".join(how) or "no special folders")
    finally:
        for folder in mounted:
            _unmount(folder)
        if (tmp_path / "ro").is_dir():
            (tmp_path / "ro").chmod(0o755)


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def is_whole(path: Path) -> bool:
    """True when the file reads to its end as what its suffix says it is."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".png", ".jpg", ".jpeg", ".webp"):
            from PIL import Image

            with Image.open(path) as image:
                image.load()
        elif suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as f:
                for key in f.keys():
                    f.get_tensor(key)
        elif suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                json.loads(line)
        elif suffix in (".csv", ".txt"):
            text = path.read_text(encoding="utf-8")
            return text == "" or text.endswith("\n")
        elif suffix in (".mp4", ".mkv", ".mov"):
            import av

            with av.open(str(path)) as container:
                return sum(1 for _ in container.decode(video=0)) > 0
    except Exception:
        return False
    return True


def _leftovers(case: Case, paths: dict[str, str], before: set[str]) -> list[str]:
    """Temp files anywhere it could write, new files in the corpus, outputs of a failure, broken files."""
    corpus = Path(paths["c"])
    found = [f"new in corpus: {name}" for name in sorted(_listing(corpus) - before)]
    for key in ("o", "ro", "full"):
        if key not in paths:
            continue
        for p in sorted(Path(paths[key]).rglob("*")):
            if TEMP_NAME.search(p.name):
                found.append(f"temp file: {p}")
            elif p.is_file() and not is_whole(p):
                found.append(f"not whole: {p}")
    if case.exit != 0:
        found += [f"output of a failed run: {hit}" for pattern in case.absent
                  for hit in glob.glob(pattern.format(**paths))]
    return found


def _params() -> list:
    return [pytest.param(case, id=case.id, marks=[pytest.mark.xfail(strict=True, reason=case.known)]
                         if case.known else []) for case in CASES]


@pytest.mark.parametrize("setting", _params(), indirect=True)
def test_case(setting: Setting) -> None:
    case, paths, limit, how = setting.case, setting.paths, setting.limit, setting.how
    argv = [a.format(**paths) for a in case.argv]
    before = _listing(Path(paths["c"]))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([*_command(), *argv], capture_output=True, text=True, env=env, cwd=paths["o"],
                          timeout=TIMEOUT, preexec_fn=limit_file_size if limit else None)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    TALLY.tried.append(case.id)
    TALLY.cpu[case.id] = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    if case.known:
        TALLY.known.add(case.id)
    leftovers = _leftovers(case, paths, before)
    if "Traceback (most recent call last)" in done.stderr:
        TALLY.tracebacks.append(case.id)
    TALLY.half_written += [f"{case.id}: {item}" for item in leftovers]
    shown = f"infoswap {' '.join(argv)} ({how})\nexit {done.returncode}\nstdout:\n{done.stdout[-2000:]}\nstderr:\n" \
            f"{done.stderr[-3000:]}"

    assert "Traceback" not in done.stderr, shown
    assert done.returncode == case.exit, shown
    assert not leftovers, f"{leftovers}\n{shown}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("infoswap: error: ")]
    if case.exit:
        assert len(errors) == 1 and lines[-1] == errors[0], f"not one error line at the end\n{shown}"
        assert re.search(case.match, errors[0]), f"{case.match!r} not in {errors[0]!r}"
    else:
        assert not errors, shown
        assert re.search(case.match, done.stderr), f"{case.match!r} not in stderr\n{shown}"
        assert re.search(case.stdout, done.stdout), f"{case.stdout!r} not in stdout\n{shown}"
        missing = [p for p in (p.format(**paths) for p in case.present) if not Path(p).exists()]
        assert not missing, f"missing outputs {missing}\n{shown}"


def test_corpus_tally(capsys: pytest.CaptureFixture) -> None:
    """Runs last: the counts issue 14 asks for, over the cases this session ran."""
    if not TALLY.tried:
        pytest.skip("no corpus case ran in this session")
    tracebacks = [c for c in TALLY.tracebacks if c not in TALLY.known]
    half = [h for h in TALLY.half_written if h.split(":")[0] not in TALLY.known]
    slowest = sorted(TALLY.cpu.items(), key=lambda kv: -kv[1])[:5]
    with capsys.disabled():
        print(f"\ncorpus: {len(TALLY.tried)} cases tried over {len({c.argv[0] for c in CASES})} commands, "
              f"tracebacks {len(tracebacks)}, half-written files {len(half)}; {len(TALLY.known)} known failures "
              f"(xfail: {', '.join(sorted(TALLY.known)) or 'none'}); CLI CPU {sum(TALLY.cpu.values()):.1f} s, "
              f"slowest {', '.join(f'{k} {v:.1f} s' for k, v in slowest)}")
    assert not tracebacks and not half, (tracebacks, half)

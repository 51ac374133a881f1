"""infoswap against the official InfoSwap inference code at 512 px on this machine: swaps/s, per-frame
rate with the source cached, GMAC per swap and peak memory, side by side in one run.

    python bench/official_reference.py --official-repo PATH [--quick] [--threads N]
                                       [--device cuda] [--precision bf16]

PATH is a checkout of github.com/GGGHSL/InfoSwap-master (CC BY-NC-SA 4.0: it stays outside this
repository and nothing of it is copied in). Its files are copied to a temporary folder and patched there;
the patches are printed. Both models get random weights (seed 0, no weight file exists for either at
this point): the official `Backbone128(50, 0.6, 'ir_se')`, `IIB(…, smooth=True, kernel_size=1)`,
`UnetDecoder512`, `AII512` as its `inference_demo.py` builds them, with random readout statistics in
place of `modules/weights128/*.pth`; ours the 512 preset with the IR-SE-50 recogniser at 128 px input
(`irse50.make_random(…, 128, seed=0)`, the official f's shape).

Inputs: bundled identity photos aligned to 512 × 512 from the reference landmarks (tests/aligned_faces),
8 sources and 8 targets, the same pixels for both (BGR for the official code, which feeds cv2.imread
pixels; ours reverses the channels itself). A swap is one (source, target) pair with nothing kept from
earlier swaps: the official code runs the full "(2) generate Y" step of its inference loop (recogniser
on source and target, 10 IIB readouts and continuations for both, decoder, AII, and its logging pass of
the recogniser on Y); ours `InfoSwap.swap(source, target)`. Per video frame, the source identity is
computed once: ours `swap(None, target, z_src=cached)`; the official code keeps nothing between swaps,
so its per-frame cost is its swap.

Each model runs in its own fresh subprocess (so peak memory is its own: VmHWM of the whole process,
weights included), driven round by round so that load from other jobs hits both alike; times are
medians over rounds after a warm-up, wall clock and CPU seconds of the worker (all threads). GMAC are
counted with torch.utils.flop_counter.FlopCounterMode (multiply-adds of convs and matmuls; 1 MAC = 2 FLOP)
on a last call, after the memory peaks are taken (the counter adds to them); ours on a meta-device copy
of the model (shapes only, the same code path). The
matmul rate is a 2048³ fp32 matmul at the same thread count, best of 5. Environment variables (e.g.
MALLOC_MMAP_MAX_, MALLOC_TRIM_THRESHOLD_) pass to both workers unchanged and are printed. The last
line is the headline `name: value`: ours over official swaps/s at batch 1.

With --device cuda both models and the inputs live on the GPU; each timed call is bracketed by
torch.cuda.synchronize, batch 8 gets a warm-up too, the matmul rate is an 8192³ matmul on the GPU in the
chosen precision (fp32: torch's default, no TF32, while cuDNN's convs may use TF32 by default), and
each worker also reports torch.cuda.max_memory_allocated. --precision bf16 (CUDA only) runs each timed
call, both codes, under torch.autocast("cuda", dtype=torch.bfloat16), inside their own no_grad /
inference_mode; GMAC are still counted in fp32, without autocast.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import torch
from common import bench_parser, headline, machine_label, parse_args, peak_rss_mib

REPO = Path(__file__).resolve().parents[1]
SEED = 0
RESOLUTION = 512
OFFICIAL_FILES = ("inference_demo.py", "modules/encoder128.py", "modules/iib.py", "modules/decoder512.py",
                  "modules/aii_generator.py")
SWAP_MODULE = "bench_official_swap"  # written into the temporary copy
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
MATMUL_SIDE = {"cpu": 2048, "cuda": 8192}  # the rate's square matmul; 8192 to fill a GPU


# --- the official code, patched in a temporary copy -------------------------------------------------

def _generate_step(demo: str) -> tuple[list[ast.stmt], list[str]]:
    """The statements of inference_demo.inference() from its "(2) generate Y" marker to the end of that
    `with torch.no_grad()` block, with the notes on what was changed."""
    inference = next(n for n in ast.parse(demo).body if isinstance(n, ast.FunctionDef) and n.name == "inference")
    block = next(n for n in ast.walk(inference) if isinstance(n, ast.With)
                 and any(isinstance(s, ast.Expr) and "generate Y" in str(getattr(s.value, "value", ""))
                         for s in n.body))
    start = next(i for i, s in enumerate(block.body)
                 if isinstance(s, ast.Expr) and "generate Y" in str(getattr(s.value, "value", "")))
    kept, notes = [], []
    for stmt in block.body[start + 1:]:
        text = ast.unparse(stmt)
        if text.startswith("Xt = TRANSFORMS("):
            notes.append(f"dropped `{text}` (line {stmt.lineno}): Xt arrives as the tensor it makes")
            continue
        if text == "B = 1":
            stmt = ast.parse("B = Xt.shape[0]").body[0]
            notes.append(f"`B = 1` (line {block.body[start + 1].lineno}) -> `B = Xt.shape[0]`, for batches of pairs")
        kept.append(stmt)
    return kept, notes


def prepare_official(repo: Path, folder: Path) -> list[str]:
    """Copies the official model files into `folder`, patches them there; returns what was changed."""
    missing = [name for name in OFFICIAL_FILES if not (repo / name).is_file()]
    if missing:
        raise SystemExit(f"{repo} is not an InfoSwap-master checkout: missing {', '.join(missing)}")
    for name in OFFICIAL_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo / name, folder / name)
    changes = []
    aii = folder / "modules" / "aii_generator.py"
    text = aii.read_text()
    if "from utils import ConvexUpsample\n" in text:
        aii.write_text(text.replace("from utils import ConvexUpsample\n", ""))
        changes.append("modules/aii_generator.py: removed `from utils import ConvexUpsample` (the name is never "
                       "used; utils.py imports torchvision and matplotlib and builds an MTCNN at import)")
    body, notes = _generate_step((repo / "inference_demo.py").read_text())
    function = ast.FunctionDef(
        name="official_swap", args=ast.arguments(posonlyargs=[], args=[ast.arg("Xs"), ast.arg("Xt")], kwonlyargs=[],
                                                 kw_defaults=[], defaults=[]),
        body=body + [ast.parse("return Y").body[0]], decorator_list=[], returns=None)
    source = ("import torch\nimport torch.nn.functional as F\n"
              "encoder = iib = decoder = G = param_dict = N = device = logger = None  # set by the benchmark\n\n"
              + ast.unparse(ast.fix_missing_locations(ast.Module(body=[function], type_ignores=[]))) + "\n")
    (folder / f"{SWAP_MODULE}.py").write_text(source)
    changes.append(f"{SWAP_MODULE}.py (new): inference_demo.py's inference() statements from "
                   "\"'''(2) generate Y: '''\" to the end of that torch.no_grad() block (Y and its logging pass) "
                   "as official_swap(Xs, Xt) -> Y, module globals set as its __main__ sets them")
    return changes + [f"{SWAP_MODULE}.py: {note}" for note in notes]


def official_model(folder: Path, device: torch.device) -> dict:
    """{"swap": official_swap(Xs, Xt)} with the models built as inference_demo.py's __main__ does, random
    weights, on `device`."""
    import logging

    sys.path.insert(0, str(folder))
    from modules.aii_generator import AII512
    from modules.decoder512 import UnetDecoder512
    from modules.encoder128 import Backbone128
    from modules.iib import IIB

    swap = __import__(SWAP_MODULE)
    torch.manual_seed(SEED)
    encoder = Backbone128(50, 0.6, "ir_se").eval().to(device)
    n = 10
    encoder(torch.rand(1, 3, 128, 128, device=device), cache_feats=True)
    readout_feats = encoder.features[: n + 1]
    in_c = sum(f.shape[-3] for f in readout_feats)
    iib = IIB(in_c, [readout_feats[i].shape[-3] for i in range(n)], device, smooth=True, kernel_size=1).eval()
    # Readout statistics (m, s, active units) as its __main__ derives them from weights128/*.pth, random here.
    param_dict = []
    for f in readout_feats:
        shape = f.shape[1:]
        param_dict.append([0.1 * torch.randn(shape, device=device), 0.5 + torch.rand(shape, device=device),
                           torch.rand(shape, device=device) > 0.05])
    logger = logging.getLogger("official-inference")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    swap.__dict__.update(encoder=encoder, iib=iib, decoder=UnetDecoder512().eval().to(device),
                         G=AII512().eval().to(device), param_dict=param_dict, N=n, device=device, logger=logger)

    def run(xs: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return swap.official_swap(xs, xt)

    return {"swap": run}


def ours_model(faces: torch.Tensor) -> dict:
    """{"swap": full swap, "frame": swap with the identity of source faces[0] cached} of our 512 preset with
    a seeded random IR-SE-50 at 128 px input; on faces' device (the meta device counts without computing)."""
    from infoswap.config import preset
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.irse50 import make_random

    cfg = preset(RESOLUTION)
    cfg.recognizer = "irse50"
    torch.manual_seed(SEED)
    with torch.device(faces.device):
        model = InfoSwap(cfg, make_random("irse50", 128, seed=SEED).requires_grad_(False)).eval()
    with torch.inference_mode():
        z_src = model.source_identity(faces[:1])  # the clip's source identity, computed once

    def full(xs: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model.swap(xs, xt)

    def cached(xs: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model.swap(None, xt, z_src=z_src)

    return {"swap": full, "frame": cached}


def aligned_inputs(count: int) -> torch.Tensor:
    """(count, 3, 512, 512) in [-1, 1], RGB: bundled identity photos aligned with their reference landmarks."""
    sys.path.insert(0, str(REPO / "tests"))
    from aligned_faces import identity_photos

    from infoswap.faces.align import alignment_matrix, warp_to_aligned
    from infoswap.faces.face import landmarks5_from_68
    from infoswap.io.images import read_image

    faces = []
    for path, landmarks68 in identity_photos()[:count]:
        pixels = read_image(REPO / path).pixels
        m = alignment_matrix(landmarks5_from_68(landmarks68), RESOLUTION)
        faces.append(torch.from_numpy(warp_to_aligned(pixels, m, RESOLUTION)).permute(2, 0, 1))
    return torch.stack(faces).float() / 127.5 - 1


# --- a worker: one model in a fresh process, driven command by command ------------------------------

def worker(side: str, folder: Path, device: torch.device, precision: str) -> None:
    """Reads commands from stdin and answers each with one JSON line: `<call> <batch> time` the wall and
    CPU seconds of one call, `<call> <batch> count` its GMAC per item, `peak` the peak RSS (and on CUDA
    the peak allocated GPU memory) so far.

    The official call is counted as it runs. Ours is counted on a copy of the model on the meta device,
    shapes only, built at the first count: under the counter, our in-place (`out=`) ops ran twice as
    slow, for nothing. Counting runs in fp32; with bf16 only the timed calls run under autocast.
    """
    from torch.utils.flop_counter import FlopCounterMode

    faces = aligned_inputs(16)
    if side == "official":
        faces = faces.flip(1)  # BGR, as its inference feeds cv2.imread pixels
    faces, cuda, sync = faces.to(device), device.type == "cuda", synchroniser(device)
    torch.backends.cudnn.benchmark = cuda  # as the official inference_demo.py sets it; for both sides
    calls = official_model(folder, device) if side == "official" else ours_model(faces)
    counted, count_faces = (calls, faces) if side == "official" else (None, faces.to("meta"))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[0] == "peak":
            gpu = {"cuda_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20} if cuda else {}
            print(json.dumps({"peak_mib": peak_rss_mib()} | gpu), flush=True)
            continue
        name, batch = words[0], int(words[1])
        if words[2] == "count":
            # Ours is built on the meta device only now, after the peaks are taken: even without any
            # storage, building the copy left the heap fragmented and the peak of the swaps after it
            # 100–260 MiB higher.
            counted = counted or ours_model(count_faces)
            with FlopCounterMode(display=False) as counter:
                counted[name](count_faces[:batch], count_faces[8 : 8 + batch])
            print(json.dumps({"gmac": counter.get_total_flops() / 2e9 / batch}), flush=True)
            continue
        sync()
        start, cpu = time.perf_counter(), time.process_time()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            calls[name](faces[:batch], faces[8 : 8 + batch])
        sync()
        print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}), flush=True)


class Worker:
    """A worker subprocess (it starts building its model at once); `ask` sends one command and returns
    its JSON answer, `ask()` alone waits for it to be ready."""

    def __init__(self, side: str, folder: Path, threads: int, device: str, precision: str):
        self.side = side
        command = [sys.executable, __file__, "--worker", side, "--threads", str(threads),
                   "--official-repo", str(folder), "--device", device, "--precision", precision]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, command: str | None = None) -> dict:
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.side} worker stopped (exit {self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def synchroniser(device: torch.device) -> Callable[[], None]:
    """Waits for the device's queued work (CUDA runs asynchronously); nothing to wait for on the CPU."""
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def matmul_rate(device: torch.device, precision: str) -> tuple[float, float]:
    """(wall, CPU) GMAC/s of a square MATMUL_SIDE matmul in `precision` on `device`, best of 5: on the CPU
    at this process's thread count; fp32 on CUDA is torch's default, without TF32."""
    n, dtype, sync = MATMUL_SIDE[device.type], DTYPES[precision], synchroniser(device)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    wall, cpu = [], []
    for _ in range(5):
        sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        a @ b
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return n**3 / min(wall) / 1e9, n**3 / min(cpu) / 1e9


# --- the comparison -----------------------------------------------------------------------------

def measure(workers: dict[str, Worker], jobs: list[tuple[str, str, int]], rounds: int, warm_up: bool) -> dict:
    """Median wall / CPU seconds per item of each job, rounds interleaved across jobs so that load from
    other processes hits all alike; the warm-up call (oneDNN picks its kernels per shape) is not timed."""
    times: dict = {job: {"wall": [], "cpu": []} for job in jobs}
    for _ in range(rounds + warm_up):
        for side, call, batch in jobs:
            t = workers[side].ask(f"{call} {batch} time")
            times[side, call, batch]["wall"].append(t["wall"] / batch)
            times[side, call, batch]["cpu"].append(t["cpu"] / batch)
    return {job: {k: statistics.median(v[warm_up:]) for k, v in t.items()} for job, t in times.items()}


def main() -> None:
    parser = bench_parser(__doc__, "batch 1 only, one timed call per job, a warm-up on CUDA only", device="cpu")
    parser.add_argument("--precision", choices=tuple(DTYPES), default="fp32",
                        help="bf16: the timed calls under CUDA autocast (default: %(default)s)")
    parser.add_argument("--official-repo", type=Path, required=True, help="checkout of GGGHSL/InfoSwap-master")
    parser.add_argument("--worker", choices=("official", "ours"), help=argparse.SUPPRESS)
    args = parse_args(parser)
    if args.device.split(":")[0] not in MATMUL_SIDE:
        parser.error(f"--device {args.device}: choose cpu or cuda")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    if args.precision == "bf16" and device.type != "cuda":
        parser.error("--precision bf16 needs --device cuda")
    if args.worker:
        worker(args.worker, args.official_repo, device, args.precision)
        return

    cuda = device.type == "cuda"
    print(f"machine: {machine_label(args.device)}" + (f", precision {args.precision}" if cuda else ""))
    env = {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "OMP_", "MKL_", "THP_", "LD_PRELOAD"))}
    print(f"environment for both: {env or 'nothing set'}")
    with tempfile.TemporaryDirectory(prefix="infoswap-official-") as tmp:
        changes = prepare_official(args.official_repo.resolve(), Path(tmp))
        print("official code, changed in the temporary copy only:")
        for change in changes:
            print(textwrap.fill(change, 118, initial_indent="  - ", subsequent_indent="    "))
        rate_before = matmul_rate(device, args.precision)
        threads = torch.get_num_threads()  # --threads, or torch's choice here: the workers get the same
        workers = {side: Worker(side, Path(tmp), threads, args.device, args.precision)
                   for side in ("official", "ours")}
        try:
            started = time.perf_counter()
            for w in workers.values():
                w.ask()  # both built (at the same time)
            print(f"both models built in {time.perf_counter() - started:.0f} s", flush=True)
            jobs = [("official", "swap", 1), ("ours", "swap", 1), ("ours", "frame", 1)]
            # On CUDA even --quick warms up: the first call pays for CUDA's and cuDNN's set-up.
            r = measure(workers, jobs, rounds=1 if args.quick else 3, warm_up=cuda or not args.quick)
            peaks = {side: w.ask("peak") for side, w in workers.items()}
            peaks8 = {}
            if not args.quick:  # on CUDA with a warm-up: the first call at batch 8 grows the allocator's cache
                r |= measure(workers, [(side, call, 8) for side, call, _ in jobs], rounds=1, warm_up=cuda)
                peaks8 = {side: w.ask("peak") for side, w in workers.items()}
            for side, call, _ in jobs:  # counted last: the counter's bookkeeping must not add to the peaks
                gmac = workers[side].ask(f"{call} 1 count")["gmac"]
                for job in r:
                    if job[:2] == (side, call):
                        r[job]["gmac"] = gmac
        finally:
            for w in workers.values():
                w.close()
    rate_after = matmul_rate(device, args.precision)
    where = f"on {torch.cuda.get_device_name(device)}" if cuda else f"at {torch.get_num_threads()} threads"
    matmul = f"{args.precision} matmul {MATMUL_SIDE[device.type]}³ {where}"
    report(r, peaks, peaks8, rate_before, rate_after, matmul, digits=4 if cuda else 2)


def report(r: dict, peaks: dict, peaks8: dict, before: tuple, after: tuple, matmul: str, digits: int) -> None:
    """Prints the comparison; `digits` after the point for seconds per item (a GPU swap takes milliseconds)."""
    rate = max(before[0], after[0]), max(before[1], after[1])
    print(f"{matmul}: {rate[0]:.1f} GMAC/s wall, {rate[1]:.1f} GMAC/s per CPU-second "
          f"(before {before[0]:.1f}, after {after[0]:.1f} wall)")
    print(f"{'':28} {'GMAC/item':>10} {'wall s/item':>12} {'items/s':>8} {'CPU s/item':>11} {'GMAC/CPU-s':>11}")
    for (side, call, batch), v in r.items():
        print(f"{side + ' ' + call + f' batch {batch}':28} {v['gmac']:10.1f} {v['wall']:12.{digits}f} "
              f"{1 / v['wall']:8.3f} {v['cpu']:11.{digits}f} {v['gmac'] / v['cpu']:11.1f}")
    rss = {side: p["peak_mib"] for side, p in peaks.items()}
    print(f"peak RSS, batch 1 (process, weights included): official {rss['official']:.0f} MiB, "
          f"ours {rss['ours']:.0f} MiB ({rss['ours'] / 1024:.2f} GiB)")
    if peaks8:
        print(f"peak RSS, batch 8: official {peaks8['official']['peak_mib']:.0f} MiB, "
              f"ours {peaks8['ours']['peak_mib']:.0f} MiB")
    for batch, p in ((1, peaks), (8, peaks8)):
        if "cuda_peak_mib" in p.get("ours", {}):
            print(f"peak GPU memory allocated, batch {batch} (torch.cuda.max_memory_allocated, weights included): "
                  f"official {p['official']['cuda_peak_mib']:.0f} MiB, ours {p['ours']['cuda_peak_mib']:.0f} MiB")
    for batch in sorted({b for _, _, b in r}):
        official, swap, frame = r["official", "swap", batch], r["ours", "swap", batch], r["ours", "frame", batch]
        print(f"swaps_per_s_ratio_b{batch}: {official['wall'] / swap['wall']:.2f} "
              f"(CPU time {official['cpu'] / swap['cpu']:.2f})")
        print(f"per_frame_cached_ratio_b{batch}: {official['wall'] / frame['wall']:.2f} "
              f"(CPU time {official['cpu'] / frame['cpu']:.2f})")
        print(f"ours_cached_b{batch}_share_of_matmul_rate: {frame['gmac'] / frame['wall'] / rate[0]:.2f} wall, "
              f"{frame['gmac'] / frame['cpu'] / rate[1]:.2f} per CPU-second")
    print(f"gmac_per_cached_swap_ours: {r['ours', 'frame', 1]['gmac']:.1f} (official per swap "
          f"{r['official', 'swap', 1]['gmac']:.1f})")
    print(f"peak_rss_gib_ours_512_b1: {rss['ours'] / 1024:.2f}")
    headline("swaps_per_s_ratio_b1", r["official", "swap", 1]["wall"] / r["ours", "swap", 1]["wall"], ".2f")


if __name__ == "__main__":
    main()

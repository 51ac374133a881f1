"""`infoswap train`: refusals before any work, a real run (logs, samples, checkpoint), bit-exact resume after
a SIGKILL, DDP gradients equal to one process on the whole batch, and L_per falling on a short run.

A tiny preset-128 model (narrow widths via the config file's "model" overrides) keeps the steps cheap; the
recogniser is the real dlib network, and the faces are real bundled photos.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from aligned_faces import REPO, write_aligned_faces
from infoswap.cli import main
from infoswap.train import checkpoint as ckpt

TINY = {"channels": [32, 32, 16, 16, 8, 3], "decoder_channels": [32, 32, 16, 16, 8, 8],
        "disc_channels": [8, 16, 32, 32, 32, 32], "iib_hidden": 16}
SETTINGS = {"preset": 128, "model": TINY, "batch": 2, "workers": 0, "calibrate_num": 6, "log_every": 1,
            "sample_every": 2, "grid": 2, "tensorboard": False}
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # same threads in every run: identical CPU kernels


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_aligned_faces(tmp_path_factory.mktemp("aligned"), size=128, count=6)[0].parent


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    path.write_text(json.dumps(SETTINGS))
    return path


def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Runs `infoswap ARGS` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["infoswap", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_bad_inputs_fail_before_any_work(faces: Path, config: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    empty, one, photos = (tmp_path / n for n in ("empty", "one", "photos"))
    for folder in (empty, one, photos):
        folder.mkdir()
    first = sorted(faces.glob("*.png"))[0]
    (one / first.name).write_bytes(first.read_bytes())
    (one / "manifest.csv").write_text(f"crop\n{first.name}\n")
    (photos / "a.jpg").write_bytes((REPO / "assets/faces/identities/lisa/1.jpg").read_bytes())
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({**SETTINGS, "batchh": 4, "lr_g": 1e-4}))
    outdir = tmp_path / "runs"
    base = ["train", "--config", config, "--outdir", outdir]
    cases = [
        (["--data", empty], "the folder is empty"),
        (["--data", one], "1 usable aligned face"),
        (["--data", photos], "infoswap align"),
        (["train", "--config", unknown, "--data", faces, "--outdir", outdir], "unknown key(s) batchh, lr_g"),
        (["--data", faces, "--batch", "0"], "--batch 0"),
        (["--data", faces, "--betas", "0.5"], "--betas (0.5,)"),
        (["--data", faces, "--r1-gamma", "-1"], "--r1-gamma -1.0: must be ≥ 0"),
        (["--data", faces, "--precision", "bf16"], "--precision bf16: mixed precision is for GPU runs"),
        (["--data", faces, "--stats", tmp_path / "missing.safetensors"], "no such file"),
        (["--data", faces, "--init-from", tmp_path / "gone.safetensors"], "--init-from"),
    ]
    for args, message in cases:
        code, out, err = cli(capsys, monkeypatch, *(args if args[0] == "train" else base + args))
        assert code == 2 and message in err and err.count("\n") == 1, (args, err)
    code, out, _ = cli(capsys, monkeypatch, *base, "--data", faces, "--lr", "1e-4", "--dry-run")
    resolved = json.loads(out)
    assert code == 0 and resolved["lr"] == 1e-4 and resolved["model"] == TINY and resolved["batch"] == 2
    assert resolved["run_dir"].startswith(str(outdir / "00000-infoswap128-b2-"))
    assert not outdir.exists()  # nothing was created by any of them, nor by the dry run


def test_a_run_logs_samples_checkpoints_and_refuses_unsafe_resumes(faces: Path, config: Path, tmp_path: Path,
                                                                    capsys, monkeypatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for p in faces.iterdir():
        (data / p.name).write_bytes(p.read_bytes())
    pngs = sorted(data.glob("*.png"))
    pngs[0].write_bytes(b"garbage")
    pngs[1].write_bytes(pngs[1].read_bytes()[:300])
    run = tmp_path / "run"
    code, _, err = cli(capsys, monkeypatch, "train", "--config", config, "--data", data, "--run-dir", run,
                       "--max-steps", "2", "--ema", "0.5")
    assert code == 0, err
    assert "skipped 2 damaged or unusable file(s)" in (run / "log.txt").read_text()
    records = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    for term in ("info", "recog", "pos", "neg", "icl", "per", "cyc", "adv", "ib", "total", "D"):
        assert all(torch.isfinite(torch.tensor(r[f"loss/{term}"])) for r in records), term
    assert all(f"lambda/{i}" in records[0] for i in range(10)) and records[0]["images_per_s"] > 0
    assert (run / "samples" / "grid-00000002.png").is_file() and (run / "stats.safetensors").is_file()
    found = ckpt.latest_complete(run)
    assert found.step == 2
    groups, model_cfg, meta = ckpt.read_network_snapshot(found.network)
    assert model_cfg["resolution"] == 128 and model_cfg["channels"] == TINY["channels"]
    assert {"model", "ema", "stats"} <= set(groups) and meta["recognizer"] == "dlib"
    assert groups["ema"].keys() == groups["model"].keys()
    assert not all(torch.equal(groups["ema"][k], v) for k, v in groups["model"].items())  # an average, not a copy

    before = tree_digest(run)
    refusals = [
        (["--preset", "256", "--resume"], "--preset 256: run folder"),
        (["--lr", "0.001", "--resume"], "--lr 0.001: run folder"),
        ([], "already holds a run; add --resume"),
    ]
    for args, message in refusals:
        code, _, err = cli(capsys, monkeypatch, "train", "--data", data, "--run-dir", run, "--max-steps", "3", *args)
        assert code == 2 and message in err, err
    assert tree_digest(run) == before


def test_init_from_starts_a_new_run_at_another_runs_weights(faces: Path, config: Path, tmp_path: Path,
                                                           capsys, monkeypatch) -> None:
    first, second, other = tmp_path / "first", tmp_path / "second", tmp_path / "other"
    code, _, err = cli(capsys, monkeypatch, "train", "--config", config, "--data", faces, "--run-dir", first,
                       "--max-steps", "1")
    assert code == 0, err
    snapshot = ckpt.latest_complete(first).network
    start = ckpt.read_network_snapshot(snapshot)[0]["model"]
    centred = tmp_path / "centred.json"  # other loss weights and identity input, same shapes: allowed
    centred.write_text(json.dumps({**SETTINGS, "model": {**TINY, "identity_centre": True, "beta_id": 2.0,
                                                            "identity_input": "centred"}}))
    code, _, err = cli(capsys, monkeypatch, "train", "--config", centred, "--data", faces, "--run-dir", second,
                       "--max-steps", "1", "--lr", "1e-5", "--init-from", snapshot)
    assert code == 0, err
    assert "generator initialised from" in (second / "log.txt").read_text()
    after = ckpt.read_network_snapshot(ckpt.latest_complete(second).network)[0]["model"]
    # One Adam step of lr 1e-5 moves each weight by about 1e-5; a fresh initialisation would differ by ~0.1.
    assert max(float((after[k] - start[k]).abs().max()) for k in start if start[k].is_floating_point()) < 1e-4
    record = json.loads((second / "stats.jsonl").read_text().splitlines()[0])
    assert 0 < record["loss/id"] < 2
    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps({**SETTINGS, "model": {**TINY, "iib_hidden": 24}}))
    code, _, err = cli(capsys, monkeypatch, "train", "--config", wider, "--data", faces, "--run-dir", other,
                       "--max-steps", "1", "--init-from", snapshot)
    assert code == 2 and "made with iib_hidden = 16, this run has 24" in err and err.count("\n") == 1, err
    assert not other.exists()  # refused before anything was written


def test_runs_saved_before_newer_model_fields_resume_and_seed_new_runs(faces: Path, config: Path, tmp_path: Path,
                                                                       capsys, monkeypatch) -> None:
    """A checkpoint whose config lacks fields added later (they take their defaults) is the same model."""
    old, fresh = tmp_path / "old", tmp_path / "fresh"
    code, _, err = cli(capsys, monkeypatch, "train", "--config", config, "--data", faces, "--run-dir", old,
                       "--max-steps", "1")
    assert code == 0, err
    found = ckpt.latest_complete(old)
    groups, model_cfg, meta = ckpt.read_network_snapshot(found.network)
    for newer in ("light_decoder", "identity_input", "identity_centre", "beta_id"):
        del model_cfg[newer]
    ckpt.write_network_snapshot(found.network, groups, model_cfg, {k: v for k, v in meta.items()
                                                                  if k not in ("format", "groups", "config")})
    marker = old / ckpt.marker_name(found.step)
    record = json.loads(marker.read_text())
    record["network"]["sha256"] = hashlib.sha256(found.network.read_bytes()).hexdigest()
    marker.write_text(json.dumps(record))
    code, _, err = cli(capsys, monkeypatch, "train", "--data", faces, "--run-dir", old, "--max-steps", "2",
                       "--resume")
    assert code == 0 and "resumed from" in (old / "log.txt").read_text(), err
    seed = tmp_path / "seed.safetensors"
    seed.write_bytes(found.network.read_bytes())
    code, _, err = cli(capsys, monkeypatch, "train", "--config", config, "--data", faces, "--run-dir", fresh,
                       "--max-steps", "1", "--init-from", seed)
    assert code == 0, err
    seed.unlink()  # a resumed run has its own weights: the snapshot it started from is not needed any more
    code, _, err = cli(capsys, monkeypatch, "train", "--data", faces, "--run-dir", fresh, "--max-steps", "2",
                       "--resume")
    assert code == 0, err


def _train(run: Path, config: Path, faces: Path, steps: int, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "infoswap", "train", "--config", str(config), "--data", str(faces),
            "--run-dir", str(run), "--max-steps", str(steps), "--snapshot-every", "2", "--sample-every", "100",
            *extra]
    return subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigterm_ends_the_run_with_a_checkpoint(faces: Path, config: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _train(run, config, faces, 1000, "--snapshot-every", "1000")
    stats = run / "stats.jsonl"
    deadline = time.monotonic() + 600
    while (not stats.exists() or not stats.read_text()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 128 + signal.SIGTERM, proc.stderr.read()
    done = len(stats.read_text().splitlines())
    assert 1 <= done < 1000 and ckpt.latest_complete(run).step == done
    assert f"stopped by SIGTERM at step {done}" in (run / "log.txt").read_text()


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    found = ckpt.latest_complete(run)
    groups, _, _ = ckpt.read_network_snapshot(found.network)
    state = ckpt.read_training_state(found.state)
    tensors = {f"model.{k}": v for k, v in groups["model"].items()}
    tensors.update({f"D.{k}": v for k, v in state["D"].items()})
    for opt in ("opt_g", "opt_d"):
        for pid, slots in state[opt]["state"].items():
            tensors.update({f"{opt}.{pid}.{k}": v for k, v in slots.items()})
    tensors["noise"] = state["rng"][0]["generators"]["noise"]
    return tensors


def test_resume_after_sigkill_is_bit_exact(faces: Path, config: Path, tmp_path: Path) -> None:
    steps = 4
    whole = _train(tmp_path / "whole", config, faces, steps)
    killed = _train(tmp_path / "killed", config, faces, steps)
    marker = tmp_path / "killed" / ckpt.marker_name(2)
    deadline = time.monotonic() + 600
    while not marker.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert ckpt.latest_complete(tmp_path / "killed").step == 2  # killed after step 2, before the end
    resumed = _train(tmp_path / "killed", config, faces, steps, "--resume")
    assert resumed.wait() == 0, resumed.stderr.read()
    assert whole.wait() == 0, whole.stderr.read()
    a, b = _final_weights(tmp_path / "whole"), _final_weights(tmp_path / "killed")
    assert ckpt.latest_complete(tmp_path / "killed").step == steps and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    log = (tmp_path / "killed" / "log.txt").read_text()
    assert "resumed from network-snapshot-00000002.safetensors at step 2" in log
    steps_logged = [json.loads(line)["step"] for line in (tmp_path / "killed" / "stats.jsonl").read_text().splitlines()]
    assert steps_logged == list(range(1, steps + 1))


def _ddp_gradients(rank: int, world: int, port: int, faces: str, out: str) -> None:
    """One process of the DDP test: gradients of one step on this rank's half of the batch."""
    from infoswap.model.iib import IIB

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    IIB.sample_noise = _fixed_noise  # this process only
    grads = _step_gradients(Path(faces), world)
    if rank == 0:
        from safetensors.torch import save_file
        save_file(grads, out)


def _fixed_noise(iib, i: int, batch: int, generator=None) -> torch.Tensor:
    """ε_i = µ_i + 0.3 σ_i for every sample: a random draw would depend on how the batch is split."""
    mean, std, _ = iib.statistics(i)
    return (mean + 0.3 * std).expand(batch, *mean.shape)


def _step_gradients(faces: Path, world: int) -> dict[str, torch.Tensor]:
    """Builds the tiny trainer with a fixed noise sample and returns the averaged gradients of one step on a
    fixed global batch of 2 pairs, in float64: in float32, splitting a batch alone moves some gradients by
    ~1e-4 relative (different kernel blocking, amplified by instance norms), with or without DDP."""
    from infoswap.config import TrainConfig
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.calibrate import tap_statistics
    from infoswap.train.data import PairDataset, index_faces, pair_loader
    from infoswap.train.distributed import close_process, init_process
    from infoswap.train.trainer import Precision, Trainer

    cfg = TrainConfig(**{**SETTINGS, "batch": 2, "data": str(faces)})
    process = init_process("cpu")
    recognizer = load_recognizer("dlib")
    dataset = PairDataset(index_faces(faces), 128, seed=0)
    stats = tap_statistics([torch.stack([dataset[p][0] for p in range(4)])], recognizer, 128, "dlib")
    trainer = Trainer(cfg.model_config(), cfg, recognizer, stats, process, Precision(None))
    trainer.model.double()  # the recogniser too
    trainer.D.double()
    x_s, x_t = next(iter(pair_loader(dataset, 2 // world, process.rank, world)))
    trainer.compute_gradients(x_s.double(), x_t.double())
    close_process()
    named = [(f"G.{n}", p) for n, p in trainer.model.named_parameters()]
    named += [(f"D.{n}", p) for n, p in trainer.D.named_parameters()]
    return {n: p.grad.clone() for n, p in named}


def test_ddp_on_two_halves_gives_the_gradients_of_one_process(faces: Path, tmp_path: Path, monkeypatch) -> None:
    from infoswap.model.iib import IIB

    monkeypatch.setattr(IIB, "sample_noise", _fixed_noise)
    out = tmp_path / "ddp.safetensors"
    port = 29500 + os.getpid() % 1000
    mp.spawn(_ddp_gradients, args=(2, port, str(faces), str(out)), nprocs=2, join=True)
    from safetensors.torch import load_file

    ddp = load_file(str(out))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers: the float32 calibration sums depend on the thread count
    try:
        single = _step_gradients(faces, 1)
    finally:
        torch.set_num_threads(threads)
    assert ddp.keys() == single.keys()
    scale = max(float(g.abs().max()) for g in single.values())
    # 1e-5 relative to the largest gradient of the model: per tensor, a tiny gradient (a readout bias at
    # 4e-3 next to 2.1 elsewhere) is dominated by the different summation order of two half-batches.
    for k, g in single.items():
        diff = float((ddp[k] - g).abs().max())
        assert diff <= 1e-5 * scale, (k, diff, float(g.abs().max()), scale)


def test_l_per_falls_when_overfitting_one_batch(faces: Path, monkeypatch) -> None:
    """Eight steps of the full objective (default weights and Adam settings) on one fixed batch."""
    from infoswap.config import TrainConfig
    from infoswap.model.iib import IIB
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.calibrate import tap_statistics
    from infoswap.train.data import PairDataset, index_faces
    from infoswap.train.distributed import Process
    from infoswap.train.trainer import Precision, Trainer

    monkeypatch.setattr(IIB, "sample_noise", _fixed_noise)
    recognizer = load_recognizer("dlib")
    dataset = PairDataset(index_faces(faces), 128, seed=0)
    x_s, x_t = (torch.stack(faces) for faces in zip(dataset[0], dataset[1]))
    stats = tap_statistics([torch.cat([x_s, x_t])], recognizer, 128, "dlib")
    cfg = TrainConfig(**{**SETTINGS, "data": str(faces)})
    trainer = Trainer(cfg.model_config(), cfg, recognizer, stats, Process(0, 1, torch.device("cpu")), Precision(None))
    per = [trainer.step(x_s, x_t)["loss/per"] for _ in range(8)]
    assert sum(per[-3:]) < 0.97 * sum(per[:3]), per


def test_r1_penalty_joins_only_ds_loss_and_is_logged(faces: Path) -> None:
    from infoswap.config import TrainConfig
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.calibrate import tap_statistics
    from infoswap.train.data import PairDataset, index_faces
    from infoswap.train.distributed import Process
    from infoswap.train.trainer import Precision, Trainer

    recognizer = load_recognizer("dlib")
    dataset = PairDataset(index_faces(faces), 128, seed=0)
    x_s, x_t = (torch.stack(faces) for faces in zip(dataset[0], dataset[1]))
    stats = tap_statistics([torch.cat([x_s, x_t])], recognizer, 128, "dlib")
    grads, logged = {}, {}
    for gamma in (0.0, 10.0):
        cfg = TrainConfig(**{**SETTINGS, "data": str(faces), "r1_gamma": gamma})
        trainer = Trainer(cfg.model_config(), cfg, recognizer, stats, Process(0, 1, torch.device("cpu")),
                          Precision(None))
        trainer.compute_gradients(x_s, x_t)
        grads[gamma] = ([p.grad.clone() for p in trainer.model.parameters() if p.grad is not None],
                        [p.grad.clone() for p in trainer.D.parameters()])
        logged[gamma] = trainer.step(x_s, x_t)
    assert all(torch.equal(a, b) for a, b in zip(grads[0.0][0], grads[10.0][0]))  # G's gradients: the same
    assert not all(torch.allclose(a, b) for a, b in zip(grads[0.0][1], grads[10.0][1]))  # D's: penalised
    assert "loss/R1" not in logged[0.0] and logged[10.0]["loss/R1"] > 0


def test_a_trainer_with_an_identity_judge_logs_each_part_of_l_id(faces: Path) -> None:
    from infoswap.config import TrainConfig
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.calibrate import tap_statistics
    from infoswap.train.data import PairDataset, index_faces
    from infoswap.train.distributed import Process
    from infoswap.train.trainer import Precision, Trainer

    recognizer = load_recognizer("dlib")
    dataset = PairDataset(index_faces(faces), 128, seed=0)
    x_s, x_t = (torch.stack(faces) for faces in zip(dataset[0], dataset[1]))
    stats = tap_statistics([torch.cat([x_s, x_t])], recognizer, 128, "dlib")
    model = {**TINY, "beta_id": 1.0, "identity_judges": ["mobileface"]}
    cfg = TrainConfig(**{**SETTINGS, "data": str(faces), "model": model})
    trainer = Trainer(cfg.model_config(), cfg, recognizer, stats, Process(0, 1, torch.device("cpu")), Precision(None))
    logged = trainer.step(x_s, x_t)
    assert logged["loss/id"] == pytest.approx((logged["loss/id_f"] + logged["loss/id_mobileface"]) / 2, rel=1e-5)

"""train.py: steps and exact resume, settings restored on resume, global steps, run files, DDP on CPU."""
import json
import os

import numpy as np
import pytest
import torch

import train
from src import checkpoint as ckpt_io
from src.dataset import WiderFaceCOCO
from src.device import Amp
from src.engine import val_loss
from src.errors import run_cli
from src.fileio import read_step_log
from src.losses import CenterFaceLoss
from tinydata import build
from zoo_fixtures import run_script

COMMON = ["--input_size", "96", "--batch_size", "2", "--num_workers", "0", "--max_images", "2", "--no_val"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("tiny")), n_train=4, n_val=2)


def cli(argv, capsys):
    """train.py as a user runs it: (exit status, its stderr)."""
    capsys.readouterr()
    rc = run_cli(train.main, "train.py", argv)
    return rc, capsys.readouterr().err


def same_weights(a, b):
    return all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_two_steps_run_files_and_exact_resume(tiny, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert train.main(["--data_path", tiny, "--output_path", a, "--num_epochs", "2"] + COMMON) == 0
    log = read_step_log(os.path.join(a, "train_log.jsonl"))
    assert [r["step"] for r in log] == [1, 2] and [r["epoch"] for r in log] == [1, 2]
    assert all(np.isfinite(r["loss"]) and r["sec"] > 0 and r["lr"] == 1.25e-4 for r in log)
    assert log[0]["loss"] == pytest.approx(log[0]["hm_loss"] + 0.1 * log[0]["wh_loss"] + log[0]["off_loss"]
                                           + 0.1 * log[0]["lm_loss"], rel=1e-5)
    info = json.load(open(os.path.join(a, "model_info.json")))
    assert (info["model"], info["framework"], info["params"], info["anchors"]) == ("CenterFace", "pytorch", 1881551,
                                                                                   None)
    assert info["anchors_input_hw"] == [96, 96] and info["config"]["input_size"] == 96
    assert [s for s, _ in ckpt_io.step_checkpoints(a)] == [1, 2]
    # the same run in two sessions: epoch 1, then --resume auto to epoch 2
    assert train.main(["--data_path", tiny, "--output_path", b, "--num_epochs", "1"] + COMMON) == 0
    assert train.main(["--data_path", tiny, "--output_path", b, "--num_epochs", "2", "--resume", "auto",
                       "--num_workers", "0"]) == 0
    ca, cb = ckpt_io.read_checkpoint(a), ckpt_io.read_checkpoint(b)
    assert ca["path"].endswith("centerface_step2.pth") and cb["path"].endswith("centerface_step2.pth")
    assert (ca["epoch"], ca["step"]) == (cb["epoch"], cb["step"]) == (2, 2) and same_weights(ca, cb)
    assert [r["step"] for r in read_step_log(os.path.join(b, "train_log.jsonl"))] == [1, 2]
    assert not [f for f in os.listdir(b) if f.startswith(".tmp_")]
    model, cfg = ckpt_io.load_model(os.path.join(b, "centerface_step2.pth"))
    assert cfg.variant == "chenjun2hao" and cfg.input_size == 96 and cfg.max_images == 2


def test_resume_inside_an_epoch_is_exact_and_steps_are_global(tiny, tmp_path, capsys):
    """--max_steps is the last global step: a run stopped inside an epoch records the batches done, resuming
    skips exactly those; checkpoint names, log lines and train_log.jsonl carry the global step."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    common = ["--data_path", tiny, "--num_epochs", "2", "--input_size", "64", "--batch_size", "1", "--num_workers",
              "0", "--max_images", "3", "--no_val", "--lr_step", "1"]
    assert train.main(common + ["--output_path", a]) == 0
    assert train.main(common + ["--output_path", b, "--max_steps", "2"]) == 0
    cb = ckpt_io.read_checkpoint(b)
    assert cb["path"].endswith("centerface_step2.pth")
    assert (cb["epoch"], cb["epoch_batches_done"], cb["step"]) == (0, 2, 2)
    assert "stopped after 2 of 3 batches" in open(os.path.join(b, "log.txt")).read()
    # a session that was killed after step 3 logged a line that the checkpoint of step 2 does not cover
    with open(os.path.join(b, "train_log.jsonl"), "a") as f:
        f.write(json.dumps({"step": 3, "loss": 1.0, "sec": 1.0, "lr": 1.0}) + "\n")
    assert train.main(["--data_path", tiny, "--output_path", b, "--resume", "auto", "--max_steps", "5",
                       "--num_workers", "0"]) == 0
    cb = ckpt_io.read_checkpoint(b)
    assert cb["path"].endswith("centerface_step5.pth") and (cb["epoch"], cb["epoch_batches_done"]) == (1, 2)
    assert [r["step"] for r in read_step_log(os.path.join(b, "train_log.jsonl"))] == [1, 2, 3, 4, 5]
    assert [r["lr"] for r in read_step_log(os.path.join(b, "train_log.jsonl"))][2:] == pytest.approx(
        [1.25e-4, 1.25e-5, 1.25e-5])  # epoch 2 is after the drop at 1
    log = open(os.path.join(b, "log.txt")).read()
    assert "resumed from" in log and "at step 2" in log and "| step 3 |" in log
    # at the limit, resuming again trains nothing
    assert train.main(["--data_path", tiny, "--output_path", b, "--resume", "auto", "--max_steps", "5",
                       "--num_workers", "0"]) == 0
    assert ckpt_io.latest(b).endswith("centerface_step5.pth")
    assert train.main(["--data_path", tiny, "--output_path", b, "--resume", "auto", "--max_steps", "0",
                       "--num_workers", "0"]) == 0
    ca, cb = ckpt_io.read_checkpoint(a), ckpt_io.read_checkpoint(b)
    assert (ca["epoch"], ca["step"]) == (cb["epoch"], cb["step"]) == (2, 6) and cb["epoch_batches_done"] == 0
    assert same_weights(ca, cb)
    # keep the last N counts every checkpoint of the folder, whichever session wrote it
    assert [s for s, _ in ckpt_io.step_checkpoints(b)] == [2, 3, 5, 6]  # epoch ends and where a limit stopped
    assert train.main(["--data_path", tiny, "--output_path", b, "--resume", "auto", "--num_epochs", "3",
                       "--keep_checkpoints", "2", "--num_workers", "0"]) == 0
    assert [s for s, _ in ckpt_io.step_checkpoints(b)] == [6, 9]


def test_resume_restores_the_settings_and_refuses_other_ones(tiny, tmp_path, capsys):
    """Issue 13 #6: the checkpoint's settings are restored; an explicit flag that differs is refused in one line
    naming it and both values, unless --allow_changes (each change is then printed)."""
    out = str(tmp_path / "o")
    first = ["--data_path", tiny, "--output_path", out, "--num_workers", "0", "--no_val"]
    assert train.main(first + ["--max_images", "2", "--batch_size", "2", "--input_size", "64", "--max_steps",
                               "1", "--lr", "0.002"]) == 0
    rc, err = cli(first + ["--resume", "auto", "--input_size", "800"], capsys)
    assert rc == 2 and err.strip().splitlines() == [
        f"train.py: error: --input_size 800 differs from {out}/centerface_step1.pth's input_size 64: a resumed run "
        "keeps its settings; drop the flag, or pass --allow_changes to change it"]
    rc, err = cli(first + ["--resume", "auto", "--recipe", "ascend8p"], capsys)
    assert rc == 2 and "--batch_size 16 differs from" in err and "batch_size 2 (and 3 more)" in err
    # the README's plain resume command keeps 2 images, batch 2, input 64, lr 0.002
    assert train.main(first + ["--resume", "auto", "--max_steps", "2"]) == 0
    cfg = ckpt_io.read_checkpoint(out)["config"]
    assert (cfg.max_images, cfg.batch_size, cfg.input_size, cfg.lr, cfg.max_steps) == (2, 2, 64, 0.002, 2)
    assert [r["lr"] for r in read_step_log(os.path.join(out, "train_log.jsonl"))] == [0.002, 0.002]
    # the same value given again is no change
    assert train.main(first + ["--resume", "auto", "--max_steps", "3", "--input_size", "64"]) == 0
    capsys.readouterr()
    assert train.main(first + ["--resume", "auto", "--max_steps", "4", "--lr", "0.001", "--allow_changes"]) == 0
    assert "resume: lr 0.002 -> 0.001" in capsys.readouterr().out
    assert read_step_log(os.path.join(out, "train_log.jsonl"))[-1]["lr"] == 0.001
    rc, err = cli(first + ["--resume", "auto", "--variant", "official", "--allow_changes"], capsys)
    assert rc == 2 and "is of the chenjun2hao variant" in err
    rc, err = cli(first + ["--resume", "auto", "--init_checkpoint", ckpt_io.latest(out)], capsys)
    assert rc == 2 and "--init_checkpoint: a resumed run continues the weights of" in err
    # a new run in a folder with checkpoints is refused (nothing is lost) unless --overwrite
    rc, err = cli(first, capsys)
    assert rc == 2 and "holds the checkpoints of an earlier run (latest centerface_step4.pth)" in err
    assert train.main(first + ["--max_images", "2", "--batch_size", "2", "--input_size", "64", "--max_steps", "1",
                               "--overwrite"]) == 0
    assert [s for s, _ in ckpt_io.step_checkpoints(out)] == [1]
    assert [r["step"] for r in read_step_log(os.path.join(out, "train_log.jsonl"))] == [1]


def test_val_loss_selects_model_best_and_bf16_amp(tiny, tmp_path):
    out = str(tmp_path / "o")
    args = ["--data_path", tiny, "--output_path", out, "--num_epochs", "3", "--input_size", "64", "--batch_size",
            "2", "--num_workers", "0", "--max_images", "2", "--amp", "--val_intervals", "1", "--lr", "0.05"]
    assert train.main(args) == 0
    # model_best = the epoch with the lowest logged val loss, its value stored with it
    vals = [float(l.split(" val loss ")[1].split()[0]) for l in open(os.path.join(out, "log.txt")) if " val loss " in l]
    assert len(vals) == 3 and all(np.isfinite(vals))
    best = ckpt_io.read_checkpoint(os.path.join(out, "model_best.pth"))
    assert best["epoch"] == int(np.argmin(vals)) + 1
    assert best["best_val"] == pytest.approx(min(vals), rel=1e-5)
    assert best["config"].amp


def test_recipes_and_lr_schedule():
    from src.config import resolve
    a = resolve({})[0]
    assert (a.lr, a.batch_size, a.num_epochs, a.lr_step) == (1.25e-4, 8, 140, [30, 80])
    assert [a.lr_at(e) for e in (1, 30, 31, 80, 81)] == pytest.approx([1.25e-4, 1.25e-4, 1.25e-5, 1.25e-5, 1.25e-6])
    b = resolve(train.parse_args(["--data_path", "x", "--recipe", "ascend8p", "--lr_step", "90"])[1])[0]
    assert (b.lr, b.batch_size, b.num_epochs, b.lr_step) == (2.5e-3, 16, 160, [90])


def test_ddp_two_processes_on_cpu(tmp_path, capsys):
    tiny = build(str(tmp_path / "data"), n_train=4, n_val=3)  # 3 val images over 2 processes
    out = str(tmp_path / "ddp")
    r = run_script(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py", "--data_path",
                    tiny, "--output_path", out, "--num_epochs", "1", "--input_size", "64", "--batch_size", "1",
                    "--num_workers", "0", "--max_images", "2", "--val_intervals", "1"],
                   cwd=os.path.dirname(os.path.abspath(train.__file__)), env={"OMP_NUM_THREADS": "1"}, timeout=180)
    assert r.returncode == 0, "\n".join(l for l in r.stderr.splitlines() if "it/s" not in l)[-3000:]
    log = read_step_log(os.path.join(out, "train_log.jsonl"))
    assert len(log) == 1 and np.isfinite(log[0]["loss"])
    ck = ckpt_io.read_checkpoint(out)
    assert (ck["epoch"], ck["step"], ck["world"]) == (1, 1, 2)
    # the val loss is that of the checkpoint's model (rank 0's BatchNorm statistics) over the 3 val images, each
    # counted once (DistributedSampler would pad rank 1's share with image 0)
    model, cfg = ckpt_io.load_model(out)
    val = WiderFaceCOCO(os.path.join(out, "annotations", "val_wider_face.json"),
                        os.path.join(tiny, "WIDER_val", "images"), cfg, train=False)
    v = val_loss(model, torch.utils.data.DataLoader(val, batch_size=1), CenterFaceLoss(cfg.loss_weights()),
                 torch.device("cpu"), Amp(torch.device("cpu"), False), {"distributed": False, "rank": 0})
    assert len(val) == 3 and ck["best_val"] == pytest.approx(v["loss"], rel=1e-6)
    assert "batch 1 x 2" in open(os.path.join(out, "log.txt")).read()
    assert "Final Performance images/sec" in r.stdout
    # resuming with another number of processes changes the global batch: refused unless --allow_changes
    rc, err = cli(["--data_path", tiny, "--output_path", out, "--resume", "auto", "--num_epochs", "2",
                   "--num_workers", "0"], capsys)
    assert rc == 2 and "trained by 2 process(es), this run has 1" in err


def test_finetune_official_configuration(tiny, tmp_path, official_checkpoint, capsys):
    """--variant official trains in the official convention (RGB 0-255 input, official target encoding)."""
    out = str(tmp_path / "ft")
    assert train.main(["--data_path", tiny, "--output_path", out, "--variant", "official", "--init_checkpoint",
                       official_checkpoint, "--num_epochs", "1"] + COMMON) == 0
    assert np.isfinite(read_step_log(os.path.join(out, "train_log.jsonl"))[0]["loss"])
    model, cfg = ckpt_io.load_model(out)
    assert (cfg.variant, cfg.input_format, cfg.convention, cfg.nms) == ("official", "rgb_raw", "official", 0.3)
    rc, err = cli(["--data_path", tiny, "--output_path", str(tmp_path / "y"), "--variant", "official", "--resume",
                   official_checkpoint] + COMMON, capsys)
    assert rc == 2 and "holds weights only (no optimizer state) and cannot be resumed" in err
    rc, err = cli(["--data_path", tiny, "--output_path", str(tmp_path / "x"), "--init_checkpoint",
                   official_checkpoint] + COMMON, capsys)
    assert rc == 2 and "checkpoint of the official variant; pass --variant official" in err

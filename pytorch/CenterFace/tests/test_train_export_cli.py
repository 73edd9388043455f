"""Training steps, exact resume, 2-process DDP on CPU, ONNX export parity and the CLI error paths."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

import train
from src.checkpoint import load_model, read_checkpoint
from tinydata import build

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMON = ["--input_size", "96", "--batch_size", "2", "--num_workers", "0", "--max_images", "2", "--no_val"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("tiny")), n_train=4, n_val=2)


def run(*args, timeout=240, **kw):
    """Runs a python command in the model folder in its own process group; on timeout the whole group (torchrun
    and its workers included) is killed, so a hung collective can neither block CI nor leave processes behind."""
    p = subprocess.Popen([sys.executable, *args], cwd=MODEL_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"{' '.join(args[:3])} did not finish within {timeout} s (process group killed)")
    finally:
        try:  # workers that outlived their launcher
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def test_two_steps_finite_and_exact_resume(tiny, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert train.main(["--data_path", tiny, "--output_path", a, "--num_epochs", "2", "--summary_json",
                       os.path.join(a, "s.json")] + COMMON) == 0
    s = json.load(open(os.path.join(a, "s.json")))
    assert s["steps"] == 2 and np.isfinite(s["loss_first"]) and np.isfinite(s["loss_last"])
    assert train.main(["--data_path", tiny, "--output_path", b, "--num_epochs", "1"] + COMMON) == 0
    assert read_checkpoint(os.path.join(b, "model_last.pth"))["epoch"] == 1
    assert train.main(["--data_path", tiny, "--output_path", b, "--num_epochs", "2", "--resume", "auto"] + COMMON) == 0
    ca, cb = read_checkpoint(os.path.join(a, "model_last.pth")), read_checkpoint(os.path.join(b, "model_last.pth"))
    assert ca["epoch"] == cb["epoch"] == 2 and ca["step"] == cb["step"] == 2
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k]), k
    # no temp files left behind; the checkpoint is self-describing
    assert not [f for f in os.listdir(b) if f.startswith(".tmp_")]
    model, cfg = load_model(os.path.join(b, "model_last.pth"))
    assert cfg["variant"] == "chenjun2hao" and cfg["input_size"] == 96


def test_resume_inside_an_epoch_is_exact(tiny, tmp_path):
    """--max_steps stops inside an epoch: the checkpoint records the batches done, and --resume skips exactly those."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    common = ["--data_path", tiny, "--num_epochs", "1", "--input_size", "64", "--batch_size", "1", "--num_workers",
              "0", "--max_images", "3", "--no_val", "--lr_step", "1"]
    assert train.main(common + ["--output_path", a]) == 0
    assert os.path.isfile(os.path.join(a, "model_1.pth"))  # kept at an LR-drop epoch, as the reference
    assert train.main(common + ["--output_path", b, "--max_steps", "2"]) == 0
    assert not os.path.exists(os.path.join(b, "model_1.pth"))  # epoch 1 is not complete
    cb = read_checkpoint(os.path.join(b, "model_last.pth"))
    assert (cb["epoch"], cb["epoch_batches_done"], cb["step"]) == (0, 2, 2)
    assert "stopped after 2 of 3 batches" in open(os.path.join(b, "log.txt")).read()
    assert train.main(common + ["--output_path", b, "--resume", "auto"]) == 0
    ca, cb = read_checkpoint(os.path.join(a, "model_last.pth")), read_checkpoint(os.path.join(b, "model_last.pth"))
    assert (ca["epoch"], ca["step"]) == (cb["epoch"], cb["step"]) == (1, 3) and cb["epoch_batches_done"] == 0
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k]), k


def test_val_loss_selects_model_best_and_bf16_amp(tiny, tmp_path):
    out = str(tmp_path / "o")
    args = ["--data_path", tiny, "--output_path", out, "--num_epochs", "3", "--input_size", "64", "--batch_size",
            "2", "--num_workers", "0", "--max_images", "2", "--amp", "--val_intervals", "1", "--lr", "0.05"]
    assert train.main(args) == 0
    # model_best = the epoch with the lowest logged val loss, its value stored with it
    vals = [float(l.split(" val loss ")[1].split()[0]) for l in open(os.path.join(out, "log.txt")) if " val loss " in l]
    assert len(vals) == 3 and all(np.isfinite(vals))
    best = read_checkpoint(os.path.join(out, "model_best.pth"))
    assert best["epoch"] == int(np.argmin(vals)) + 1
    assert best["best_val"] == pytest.approx(min(vals), rel=1e-5)


def test_lr_schedule():
    a = train.parse_args(["--data_path", "x"])
    assert (a.lr, a.batch_size, a.num_epochs, a.lr_step) == (1.25e-4, 8, 140, [30, 80])
    assert [train.lr_at(a, e) for e in (1, 30, 31, 80, 81)] == pytest.approx([1.25e-4, 1.25e-4, 1.25e-5, 1.25e-5,
                                                                              1.25e-6])
    b = train.parse_args(["--data_path", "x", "--recipe", "ascend8p"])
    assert (b.lr, b.batch_size, b.num_epochs, b.lr_step) == (2.5e-3, 16, 160, [85, 120])


def test_ddp_two_processes_on_cpu(tiny, tmp_path):
    out = str(tmp_path / "ddp")
    r = run("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py", "--data_path", tiny,
            "--output_path", out, "--num_epochs", "1", "--input_size", "64", "--batch_size", "1", "--num_workers",
            "0", "--max_images", "2", "--summary_json", os.path.join(out, "s.json"), "--val_intervals", "1",
            env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=180)
    assert r.returncode == 0, "\n".join(l for l in r.stderr.splitlines() if "rror" in l or "raise" in l)[-3000:]
    s = json.load(open(os.path.join(out, "s.json")))
    assert s["steps"] == 1 and np.isfinite(s["loss_first"])
    assert read_checkpoint(os.path.join(out, "model_last.pth"))["epoch"] == 1
    assert "batch 1 x 2" in open(os.path.join(out, "log.txt")).read()


def test_export_onnx_parity(official_model, tmp_path):
    from export import check_onnx, export_onnx
    p = export_onnx(official_model, str(tmp_path / "cf.onnx"), 96, 128)
    diffs = check_onnx(official_model, p, 160, 192)  # dynamic H, W
    assert max(diffs.values()) <= 1e-4, diffs
    m = train.CenterFace("chenjun2hao").eval()
    p2 = export_onnx(m, str(tmp_path / "cj.onnx"), 64, 64)
    assert max(check_onnx(m, p2, 64, 96).values()) <= 1e-4


def test_cli_convert_demo_and_errors(shared, onnx_path, tmp_path, tiny):
    ck = str(tmp_path / "official.pth")
    r = run("tools/convert_official.py", "--src", onnx_path, "--dst", ck)
    assert r.returncode == 0, r.stderr
    img = os.path.join(shared, "data", "real_photos", "astronaut.png")
    r = run("demo.py", "--image", img, "--checkpoint", ck, "--output", str(tmp_path / "o.jpg"), "--json",
            str(tmp_path / "o.json"))
    assert r.returncode == 0, r.stderr
    dets = json.load(open(tmp_path / "o.json"))
    assert len(dets) == 1 and len(dets[0]["landmarks"]) == 5 and dets[0]["score"] > 0.9
    assert os.path.getsize(tmp_path / "o.jpg") > 0
    # missing --data_path
    r = run("train.py")
    assert r.returncode != 0 and "--data_path is required" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(["bash", "test/train_full_1p.sh"], cwd=MODEL_DIR, capture_output=True, text=True)
    assert r.returncode == 2 and "--data_path=DIR is required" in r.stderr
    # a relative --data_path is taken relative to the caller's directory, not the model folder
    r = subprocess.run(["bash", os.path.join(MODEL_DIR, "test", "train_smoke.sh"), "--data_path=nope"],
                       cwd=str(tmp_path), capture_output=True, text=True)
    assert r.returncode == 2 and f"{tmp_path}/nope is not a directory" in r.stderr
    # a missing landmark file
    os.rename(os.path.join(tiny, "train", "label.txt"), os.path.join(tiny, "train", "label.moved"))
    try:
        r = run("train.py", "--data_path", tiny, "--output_path", str(tmp_path / "t"), "--num_workers", "0")
    finally:
        os.rename(os.path.join(tiny, "train", "label.moved"), os.path.join(tiny, "train", "label.txt"))
    assert r.returncode == 2 and "label.txt: landmark label file not found" in r.stderr
    assert "Traceback" not in r.stderr
    # a corrupt image, met while training (inside a DataLoader worker)
    js = str(tmp_path / "c" / "annotations" / "train_wider_face.json")
    from src.coco_convert import convert
    convert(os.path.join(tiny, "train", "label.txt"), os.path.join(tiny, "WIDER_train", "images"), js)
    os.symlink(os.path.join(tiny, "WIDER_train", "images"), str(tmp_path / "c" / "image"))
    coco = json.load(open(js))
    bad = os.path.join(tiny, "WIDER_train", "images", coco["images"][0]["file_name"])
    good = open(bad, "rb").read()
    open(bad, "wb").write(b"\xff\xd8 truncated")
    try:
        r = run("train.py", "--data_path", str(tmp_path / "c"), "--output_path", str(tmp_path / "t2"),
                "--num_workers", "1", "--batch_size", "2", "--input_size", "64", "--no_val")
    finally:
        open(bad, "wb").write(good)
    assert r.returncode == 2, r.stderr[-1500:]
    assert "cannot decode image" in r.stderr and os.path.basename(bad) in r.stderr and "Traceback" not in r.stderr
    # outputs that cannot be written: one line naming the file, no traceback
    blocker = tmp_path / "file_not_dir"
    blocker.write_text("x")
    for cmd in (["demo.py", "--image", img, "--checkpoint", ck, "--output", str(tmp_path / "o.xyz")],
                ["demo.py", "--image", img, "--checkpoint", ck, "--json", str(blocker / "o.json")],
                ["export.py", "--checkpoint", ck, "--output", str(blocker / "c.onnx")],
                ["tools/convert_official.py", "--src", onnx_path, "--dst", str(blocker / "c.pth")],
                ["train.py", "--data_path", tiny, "--output_path", str(blocker / "out")]):
        r = run(*cmd)
        assert r.returncode == 2 and "Traceback" not in r.stderr and str(cmd[-1]).split("/")[-2] in r.stderr, (
            cmd, r.stderr[-800:])
    # a checkpoint that is not one
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"junk")
    r = run("demo.py", "--image", img, "--checkpoint", str(junk))
    assert r.returncode == 2 and "junk.pth: not a readable PyTorch checkpoint" in r.stderr
    # a corrupt image given to demo.py
    r = run("demo.py", "--image", str(junk), "--checkpoint", ck)
    assert r.returncode == 2 and "junk.pth: cannot decode image" in r.stderr and "Traceback" not in r.stderr


def test_finetune_official_configuration(tiny, tmp_path, official_model):
    """--variant official trains in the official convention (RGB 0-255 input, official target encoding)."""
    from src.checkpoint import save_atomic
    ck = str(tmp_path / "official.pth")
    save_atomic({"model": official_model.state_dict(), "config": official_model.cfg}, ck)
    out = str(tmp_path / "ft")
    assert train.main(["--data_path", tiny, "--output_path", out, "--variant", "official", "--init_checkpoint", ck,
                       "--num_epochs", "1", "--summary_json", os.path.join(out, "s.json")] + COMMON) == 0
    s = json.load(open(os.path.join(out, "s.json")))
    assert np.isfinite(s["loss_first"])
    model, cfg = load_model(os.path.join(out, "model_last.pth"))
    assert cfg["variant"] == "official" and cfg["input_format"] == "rgb_raw" and cfg["convention"] == "official"
    with pytest.raises(Exception, match="holds weights only .* with --init_checkpoint"):
        train.main(["--data_path", tiny, "--output_path", str(tmp_path / "y"), "--variant", "official", "--resume",
                    ck] + COMMON)
    with pytest.raises(Exception, match="checkpoint of the official variant; pass --variant official"):
        train.main(["--data_path", tiny, "--output_path", str(tmp_path / "x"), "--init_checkpoint", ck] + COMMON)

"""Training: two steps with finite losses, exact resume, the run files, settings restored on resume, a 2-process
DDP step on CPU (gloo), and the user errors of the entry points (one line, exit 2)."""
import json
import os
import sys

import pytest
import torch

from data.config import make_config
from layers.functions.prior_box import num_priors
from src.errors import run_cli
from zoo_fixtures import run_script

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--input_size", "64", "--batch_size", "2", "--no_val", "--num_workers", "0", "--print_every", "1"]
ENV = {"OMP_NUM_THREADS": "1"}


def train(args, timeout=300):
    return run_script(["train.py"] + [str(a) for a in args], cwd=MODEL_DIR, env=ENV, timeout=timeout)


def log_of(out):
    with open(os.path.join(out, "train_log.jsonl")) as f:
        return [json.loads(line) for line in f]


def one_line_exit_2(rc, err, *words):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_two_steps_then_exact_resume(tiny_lists, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    r = train(["--data_path", tiny_lists, "--output_path", a, "--steps", 3] + TINY)
    assert r.returncode == 0, r.stderr
    full = log_of(a)
    assert [x["step"] for x in full] == [1, 2, 3]
    assert all(torch.isfinite(torch.tensor(x["loss"])) and x["loss"] > 0 for x in full)
    assert all(abs(x["loss"] - x["loss_l"] - x["loss_c"]) < 1e-4 and x["lr"] == 1e-3 for x in full)
    assert "epoch:0 || iter:1 || Loss:" in r.stdout and "->>lr:0.001000" in r.stdout
    assert "Final Performance images/sec :" in r.stdout
    info = json.load(open(a / "model_info.json"))
    assert info["params"] == 22459110 and info["framework"] == "pytorch"
    assert info["anchors"] == num_priors(64, 64, make_config()) == 16 ** 2 + 8 ** 2 + 4 ** 2 + 2 ** 2 + 1 + 1
    assert info["anchors_input_hw"] == [64, 64] and info["config"]["ARCH"] == "yxlijun"
    assert (a / "last_checkpoint").read_text().strip() == "sfd_face_3.pth"

    r = train(["--data_path", tiny_lists, "--output_path", b, "--steps", 1] + TINY)
    assert r.returncode == 0, r.stderr
    r = train(["--data_path", tiny_lists, "--output_path", b, "--resume", "auto", "--steps", 3])
    assert r.returncode == 0, r.stderr
    assert "global step 1" in r.stdout
    resumed = log_of(b)
    assert [x["step"] for x in resumed] == [1, 2, 3]
    assert [x["loss"] for x in resumed] == [x["loss"] for x in full]          # bit for bit: same data, same math
    assert sorted(f for f in os.listdir(b) if f.startswith("sfd_face_")) == ["sfd_face_1.pth", "sfd_face_3.pth"]
    wa = torch.load(a / "sfd_face_3.pth", weights_only=True)["state_dict"]
    wb = torch.load(b / "sfd_face_3.pth", weights_only=True)["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    # the resumed run's settings are restored; a differing explicit flag is refused, or applied and printed
    r = train(["--data_path", tiny_lists, "--output_path", b, "--resume", "auto", "--steps", 4,
                           "--batch_size", 1])
    one_line_exit_2(r.returncode, r.stderr, "--batch_size=1", "resumed run's 2", "--allow_changes")
    r = train(["--data_path", tiny_lists, "--output_path", b, "--resume", "auto", "--steps", 4,
                           "--lr", "0.002", "--allow_changes", "--keep_checkpoints", 1])
    assert r.returncode == 0, r.stderr
    assert "--allow_changes: lr 0.001 -> 0.002" in r.stdout
    assert log_of(b)[-1]["step"] == 4 and log_of(b)[-1]["lr"] == 0.002
    assert sorted(f for f in os.listdir(b) if f.startswith("sfd_face_")) == ["sfd_face_4.pth"]


def test_validation_after_each_epoch_keeps_the_best_model(tiny_lists, tmp_path, capsys):
    """The reference's selection: val loss after every epoch, sfd_face.pth = the weights of the lowest one; a
    training checkpoint after each validation (4 images, batch 2: 2 steps per epoch)."""
    import re

    import train as train_mod
    out = tmp_path / "o"
    rc = run_cli(train_mod.main, "train.py", ["--data_path", tiny_lists, "--output_path", str(out), "--epochs", "2"]
                 + [t for t in TINY if t != "--no_val"])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    vals = [float(v) for v in re.findall(r"test epoch:\d+ \|\| Loss:([0-9.]+)", stdout)]
    assert len(vals) == 2 and all(v > 0 for v in vals)
    best = torch.load(out / "sfd_face.pth", weights_only=True)
    assert best["epoch"] == vals.index(min(vals)) and abs(best["val_loss"] - min(vals)) <= 5e-5     # printed %.4f
    assert best["step"] == 2 * (best["epoch"] + 1)
    assert sorted(f for f in os.listdir(out) if re.fullmatch(r"sfd_face_\d+\.pth", f)) == ["sfd_face_2.pth",
                                                                                             "sfd_face_4.pth"]
    last = torch.load(out / f"sfd_face_{best['step']}.pth", weights_only=True)["state_dict"]
    assert all(torch.equal(best["state_dict"][k], last[k]) for k in last)


def test_bf16_mixed_precision_step(tiny_lists, tmp_path, capsys):
    import train as train_mod
    rc = run_cli(train_mod.main, "train.py", ["--data_path", tiny_lists, "--output_path", str(tmp_path), "--steps",
                                              "1", "--amp"] + TINY)
    assert rc == 0, capsys.readouterr().err
    assert "amp torch.amp bfloat16" in capsys.readouterr().out
    loss = log_of(tmp_path)[0]["loss"]
    assert loss > 0 and torch.isfinite(torch.tensor(loss))


def test_basenet_and_the_lr_schedule(tiny_lists, tmp_path, capsys):
    """--basenet loads ssd.pytorch's VGG16 layout (keys "0.weight" ... "33.bias") into the backbone; the LR is
    multiplied by GAMMA after each of --lr_steps (global steps). A tiny LR keeps the loaded weights visible."""
    import train as train_mod
    from s3fd import build_s3fd
    torch.manual_seed(1)
    vgg = {k: torch.randn_like(v) * 0.01 for k, v in build_s3fd("train").vgg.state_dict().items()}
    torch.save(vgg, tmp_path / "vgg16_reducedfc.pth")
    rc = run_cli(train_mod.main, "train.py", ["--data_path", tiny_lists, "--output_path", str(tmp_path / "o"),
                                              "--steps", "3", "--basenet", str(tmp_path / "vgg16_reducedfc.pth"),
                                              "--lr", "1e-9", "--lr_steps", "1,2"] + TINY)
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Load base network" in out and "from scratch" not in out
    assert [x["lr"] for x in log_of(tmp_path / "o")] == pytest.approx([1e-9, 1e-10, 1e-11], rel=1e-9)
    sd = torch.load(tmp_path / "o" / "sfd_face_3.pth", weights_only=True)["state_dict"]
    assert all(torch.allclose(sd["vgg." + k], v, atol=1e-6) for k, v in vgg.items())

    torch.save(sd, tmp_path / "whole_net.pth")                       # not the VGG16 base layout
    rc = run_cli(train_mod.main, "train.py", ["--data_path", tiny_lists, "--output_path", str(tmp_path / "p"),
                                              "--steps", "1", "--basenet", str(tmp_path / "whole_net.pth")] + TINY)
    one_line_exit_2(rc, capsys.readouterr().err, "whole_net.pth: not VGG16 base weights")


def test_two_process_ddp_step_on_cpu(tiny_lists, tmp_path, free_port):
    out = tmp_path / "ddp"
    r = run_script(["-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                    f"--master_port={free_port}", "train.py", "--data_path", tiny_lists, "--output_path", out,
                    "--steps", "2"] + TINY, cwd=MODEL_DIR, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "batch 2 x 2" in r.stdout
    log = log_of(out)
    assert [x["step"] for x in log] == [1, 2] and all(x["loss"] > 0 for x in log)
    assert json.load(open(out / "model_info.json"))["world_size"] == 2
    assert torch.load(out / "sfd_face_2.pth", weights_only=True)["world_size"] == 2


def test_corrupt_image_in_a_loader_worker_is_one_line(tmp_path, shared_dir):
    with open(os.path.join(shared_dir, "data", "real_photos", "obama.jpg"), "rb") as f:
        (tmp_path / "cut.jpg").write_bytes(f.read(100000))
    for split in ("train", "val"):
        (tmp_path / f"face_{split}.txt").write_text(f"{tmp_path / 'cut.jpg'} 1 10 10 50 50 1\n")
    r = train(["--data_path", tmp_path, "--output_path", tmp_path / "out", "--steps", 1,
                           "--input_size", 64, "--batch_size", 1, "--num_workers", 1])
    one_line_exit_2(r.returncode, r.stderr, "cut.jpg", "truncated JPEG")


# ----------------------------------------------------------------------------------------------- one-line errors
def call(main, prog, argv, capsys):
    rc = run_cli(main, prog, argv)
    return rc, capsys.readouterr().err


def test_missing_data_path_is_one_line(capsys):
    import prepare_wider_data
    import train as train_mod
    from tools import wider_test
    for main, prog in ((train_mod.main, "train.py"), (wider_test.main, "eval.py"),
                       (prepare_wider_data.main, "prepare_wider_data.py")):
        rc, err = call(main, prog, ["--checkpoint", "x.pth"] if prog == "eval.py" else [], capsys)
        one_line_exit_2(rc, err, f"{prog}: error: --data_path")


def test_malformed_list_line_stops_training_with_file_and_line(tmp_path, capsys):
    import train as train_mod
    (tmp_path / "face_train.txt").write_text("x.jpg 1 1 2 3 4 1\ny.jpg 3 1 2 3 4 1\n")
    (tmp_path / "face_val.txt").write_text("x.jpg 1 1 2 3 4 1\n")
    rc, err = call(train_mod.main, "train.py", ["--data_path", str(tmp_path), "--output_path",
                                                str(tmp_path / "o"), "--no_val"], capsys)
    one_line_exit_2(rc, err, f"{tmp_path / 'face_train.txt'}:2:", "3 faces need 17 fields")


def test_unknown_weight_format_names_the_first_unknown_key(tmp_path, capsys):
    from tools import convert_official
    torch.save({"backbone.conv1.weight": torch.zeros(1), "vgg.0.weight": torch.zeros(1)}, tmp_path / "x.pth")
    rc, err = call(convert_official.main, "convert_official.py", ["--src", str(tmp_path / "x.pth"), "--dst",
                                                                  str(tmp_path / "y.pth")], capsys)
    one_line_exit_2(rc, err, "'backbone.conv1.weight'", "neither released S3FD format")
    assert not (tmp_path / "y.pth").exists()
    (tmp_path / "t.txt").write_text("not a checkpoint")
    rc, err = call(convert_official.main, "convert_official.py", ["--src", str(tmp_path / "t.txt"), "--dst",
                                                                  str(tmp_path / "y.pth")], capsys)
    one_line_exit_2(rc, err, "t.txt: not a readable PyTorch checkpoint")


def test_released_weights_or_another_models_checkpoint_are_refused(released, tmp_path, capsys):
    import cv2

    import demo
    img = tmp_path / "i.png"
    cv2.imwrite(str(img), torch.zeros(40, 40, 3, dtype=torch.uint8).numpy())
    for path, words in ((released["yxlijun"], ("released yxlijun", "convert it with python tools/convert_official.py")),
                        (released["face_alignment"], ("official SFD weights", "convert it"))):
        rc, err = call(demo.main, "demo.py", ["--image", str(img), "--checkpoint", path], capsys)
        one_line_exit_2(rc, err, path, *words)
    torch.save({"model": "CenterFace", "config": {}, "state_dict": {}}, tmp_path / "cf.pth")
    rc, err = call(demo.main, "demo.py", ["--image", str(img), "--checkpoint", str(tmp_path / "cf.pth")], capsys)
    one_line_exit_2(rc, err, "a checkpoint of another model ('CenterFace')")


def test_missing_device_is_one_line(checkpoints, tmp_path, capsys):
    import cv2

    import demo
    if torch.cuda.is_available():
        pytest.fail("this check needs a machine without a GPU")
    img = tmp_path / "i.png"
    cv2.imwrite(str(img), torch.zeros(40, 40, 3, dtype=torch.uint8).numpy())
    rc, err = call(demo.main, "demo.py", ["--image", str(img), "--checkpoint", checkpoints["yxlijun"], "--device",
                                          "gpu"], capsys)
    one_line_exit_2(rc, err, "--device gpu: no CUDA GPU found")
    rc, err = call(demo.main, "demo.py", ["--image", str(img), "--checkpoint", checkpoints["yxlijun"], "--device",
                                          "npu"], capsys)
    one_line_exit_2(rc, err, "--device npu: torch_npu is not installed")
    assert sys.modules.get("torch_npu") is None
    rc, err = call(demo.main, "demo.py", ["--image", str(img), "--checkpoint", checkpoints["yxlijun"], "--device",
                                          "cpu", "--device_id", "1"], capsys)
    one_line_exit_2(rc, err, "--device cpu --device_id 1: the cpu is the one device 0")

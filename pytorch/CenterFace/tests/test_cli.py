"""The entry points as a user meets them: one-line errors (exit 2) for bad input, truncated images, missing devices
and unwritable outputs; ONNX export parity; modelarts_entry.py paths."""
import json
import os
import shutil
import subprocess

import pytest

import demo
import eval as cf_eval
import export
import modelarts_entry
import train
from src.errors import run_cli
from tinydata import build, write_val_ground_truth

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(main, prog, argv, capsys):
    """An entry point as ``python <prog> ARGV`` runs it: (exit status, its stderr lines)."""
    capsys.readouterr()
    rc = run_cli(main, prog, [str(a) for a in argv])
    return rc, capsys.readouterr().err.strip().splitlines()


def truncate(src, dst, keep=0.5):
    data = open(src, "rb").read()
    open(dst, "wb").write(data[:int(len(data) * keep)])
    return str(dst)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = build(str(tmp_path_factory.mktemp("tiny")), n_train=4, n_val=3)
    write_val_ground_truth(root)
    return root


@pytest.fixture
def photo(shared_dir):
    return os.path.join(shared_dir, "data", "real_photos", "obama.jpg")


def test_convert_and_demo(onnx_path, photo, tmp_path, capsys):
    from tools import convert_official
    ck = tmp_path / "official.pth"
    assert cli(convert_official.main, "convert_official.py", ["--src", onnx_path, "--dst", ck], capsys) == (0, [])
    rc, err = cli(demo.main, "demo.py", ["--image", photo, "--checkpoint", ck, "--output", tmp_path / "o.jpg",
                                         "--json", tmp_path / "o.json"], capsys)
    assert rc == 0, err
    dets = json.load(open(tmp_path / "o.json"))
    assert len(dets) == 1 and len(dets[0]["landmarks"]) == 5 and dets[0]["score"] > 0.9
    x1, y1, x2, y2 = dets[0]["box"]  # in the photo's pixels (the official model at its ceil-32 stretch)
    assert 0 <= x1 < x2 <= 960 and 0 <= y1 < y2 <= 720 and x1 < dets[0]["landmarks"][2][0] < x2
    assert os.path.getsize(tmp_path / "o.jpg") > 0


def test_truncated_images_are_rejected_naming_the_file(official_checkpoint, photo, tiny, tmp_path, capsys):
    """Issue 13 #1: an image that does not decode completely is an error naming it, in demo, eval and training."""
    cut = truncate(photo, tmp_path / "cut.jpg")
    rc, err = cli(demo.main, "demo.py", ["--image", cut, "--checkpoint", official_checkpoint, "--json",
                                         tmp_path / "o.json"], capsys)
    assert rc == 2 and err == [f"demo.py: error: {cut}: truncated JPEG (no end-of-image marker after the last "
                               "scan): the file does not decode completely"]
    assert not os.path.exists(tmp_path / "o.json")
    data = str(tmp_path / "data")
    shutil.copytree(tiny, data)
    val = os.path.join(data, "WIDER_val", "images", "0--Parade", "Parade_val_2.jpg")
    truncate(val, val)
    rc, err = cli(cf_eval.main, "eval.py", ["--checkpoint", official_checkpoint, "--data_path", data,
                                            "--output_path", tmp_path / "e"], capsys)
    assert rc == 2 and err[-1].startswith(f"eval.py: error: {val}: truncated JPEG")
    # training data: met while converting label.txt, and inside a DataLoader worker (annotations given as json)
    train_img = os.path.join(data, "WIDER_train", "images", "1--Handshaking", "Handshaking_train_1.jpg")
    whole = open(train_img, "rb").read()
    truncate(train_img, train_img)
    rc, err = cli(train.main, "train.py", ["--data_path", data, "--output_path", tmp_path / "t", "--no_val"], capsys)
    assert rc == 2 and err[-1].startswith(f"train.py: error: {train_img}: truncated JPEG")
    from src.coco_convert import convert
    open(train_img, "wb").write(whole)
    convert(os.path.join(data, "train", "label.txt"), os.path.join(data, "WIDER_train", "images"),
            os.path.join(data, "annotations", "train_wider_face.json"))
    truncate(train_img, train_img)
    rc, err = cli(train.main, "train.py", ["--data_path", data, "--output_path", tmp_path / "t2", "--no_val",
                                           "--num_workers", "1", "--batch_size", "1", "--input_size", "64"], capsys)
    assert rc == 2 and err[-1].startswith(f"train.py: error: {train_img}: truncated JPEG"), err[-3:]


def test_missing_device_is_one_line(official_checkpoint, photo, tiny, tmp_path, capsys):
    """Issue 13 #2: a device that is asked for and absent: one line naming it and what was found, exit 2."""
    import torch
    if torch.cuda.is_available():
        pytest.fail("this test expects a machine without CUDA")
    rc, err = cli(demo.main, "demo.py", ["--image", photo, "--checkpoint", official_checkpoint, "--device", "gpu"],
                  capsys)
    assert rc == 2 and err == ["demo.py: error: --device gpu: no CUDA device 0 (found: cpu only (this PyTorch has no "
                               "CUDA support))"]
    rc, err = cli(train.main, "train.py", ["--data_path", tiny, "--output_path", tmp_path / "o", "--device", "npu"],
                  capsys)
    assert rc == 2 and err == ["train.py: error: --device npu: torch_npu (Ascend) is not installed (found: cpu only "
                               "(this PyTorch has no CUDA support))"]
    rc, err = cli(train.main, "train.py", ["--data_path", tiny, "--output_path", tmp_path / "o", "--apex"], capsys)
    assert rc == 2 and err == ["train.py: error: --apex: apex O1 runs on --device npu only (this run: cpu)"]


def test_bad_inputs_and_outputs_are_one_line(official_checkpoint, onnx_path, photo, tiny, tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"junk")
    blocker = tmp_path / "file_not_dir"
    blocker.write_text("x")
    cases = [
        (demo.main, ["--image", photo, "--checkpoint", junk], f"{junk}: not a readable PyTorch checkpoint"),
        (demo.main, ["--image", junk, "--checkpoint", official_checkpoint], f"{junk}: not a complete image"),
        (demo.main, ["--image", photo, "--checkpoint", onnx_path], f"{onnx_path}: an ONNX file, not a checkpoint; "
                                                                   "convert released weights with"),
        (demo.main, ["--image", photo, "--checkpoint", tmp_path], f"{tmp_path}: no centerface_step<N>.pth"),
        (demo.main, ["--image", photo, "--checkpoint", official_checkpoint, "--output", tmp_path / "o.xyz"],
         "--output " + str(tmp_path / "o.xyz") + ": OpenCV cannot write"),
        (demo.main, ["--image", photo, "--checkpoint", official_checkpoint, "--json", blocker / "d" / "o.json"],
         str(blocker)),
        (export.main, ["--checkpoint", official_checkpoint, "--output", blocker / "d" / "c.onnx"], str(blocker)),
        (train.main, ["--data_path", tiny, "--output_path", blocker / "out"], str(blocker)),
        (train.main, ["--data_path", tiny, "--output_path", tmp_path / "o", "--input_size", "100"],
         "input_size must be a multiple of 32 (got 100)"),
        (train.main, ["--data_path", tiny, "--output_path", tmp_path / "o", "--lr_step", "80,30"],
         "lr_step must be increasing positive epochs"),
        (cf_eval.main, ["--checkpoint", official_checkpoint, "--data_path", tiny, "--gt", tmp_path / "nope"],
         f"{tmp_path / 'nope'}: cannot load the WIDER val ground truth"),
    ]
    for main, argv, what in cases:
        rc, err = cli(main, "x.py", argv, capsys)
        assert rc == 2 and len(err) == 1 and err[0].startswith("x.py: error: ") and what in err[0], (argv, err)
    from tools import convert_official
    rc, err = cli(convert_official.main, "convert_official.py", ["--src", junk, "--dst", tmp_path / "c.pth"], capsys)
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"convert_official.py: error: {junk}: not a readable "
                                                           "ONNX model (DecodeError: ")


def test_export_onnx_parity_through_the_predictor(official_model, tmp_path, shared_dir):
    p = export.export_onnx(official_model, str(tmp_path / "cf.onnx"), 96, 128)
    img = demo.read_image(os.path.join(shared_dir, "data", "real_photos", "astronaut.png"))
    r = export.check_export(official_model, p, img)  # dynamic H, W: the ceil-32 size of the photo
    assert max(r[k] for k in export.OUTPUT_NAMES) <= 1e-4, r
    assert r["detections"][0] == r["detections"][1] >= 1 and r["detections_max_diff"] <= 1e-2, r
    m = train.CenterFace("chenjun2hao").eval()
    p2 = export.export_onnx(m, str(tmp_path / "cj.onnx"), 64, 64)
    r2 = export.check_export(m, p2, img[:96, :160], m.cfg.replace(test_resize="ceil32"))
    assert max(r2[k] for k in export.OUTPUT_NAMES) <= 1e-4, r2
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp_")]


def test_modelarts_entry_paths_are_relative_to_the_caller(tiny, tmp_path, monkeypatch, capsys):
    """Issue 13 #4: --data_url / --train_url and extra train.py paths are taken from the caller's directory."""
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, **kw: calls.append((cmd, kw)) or 0)
    monkeypatch.chdir(os.path.dirname(tiny))
    assert modelarts_entry.main(["--data_url", os.path.basename(tiny), "--train_url", "out", "--device", "cpu",
                                 "--", "--max_steps", "1"]) == 0
    (tr, kw_t), (ev, kw_e) = calls
    assert kw_t == kw_e == {}  # run in the caller's directory
    assert tr[1:] == [os.path.join(MODEL_DIR, "train.py"), "--data_path", tiny, "--output_path",
                      os.path.join(os.path.dirname(tiny), "out"), "--device", "cpu", "--resume", "auto",
                      "--max_steps", "1"]
    assert ev[ev.index("--checkpoint") + 1] == os.path.join(os.path.dirname(tiny), "out")
    rc, err = cli(modelarts_entry.main, "modelarts_entry.py", ["--data_url", "nope", "--train_url", "o"], capsys)
    assert rc == 2 and err == [f"modelarts_entry.py: error: --data_url nope: {os.path.dirname(tiny)}/nope is not a "
                               "directory"]
    rc, err = cli(modelarts_entry.main, "modelarts_entry.py", ["--data_url", "obs://b/d", "--train_url", "o"], capsys)
    assert rc == 2 and err == ["modelarts_entry.py: error: moxing is not installed: OBS paths (obs://...) need "
                               "ModelArts' moxing; outside ModelArts pass local folders as --data_url / --train_url"]

"""The entry points as a user meets them: one-line errors (exit 2) for bad input, truncated images, missing devices
and unwritable outputs; ONNX export parity; modelarts_entry.py paths; what the test/*.sh scripts pass on."""
import json
import os
import shutil
import subprocess
import sys

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


# ------------------------------------------------------------------------------------------------- test/*.sh
FAKE_PYTHON = """#!{python}
# records its command line (one JSON list per line) instead of running it; eval.py "reaches" easy AP 0.9
import json, os, sys
if sys.argv[1:2] == ["-c"]:
    os.execv({python!r}, [{python!r}] + sys.argv[1:])
with open(os.environ["FAKE_RECORD"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1].endswith("eval.py"):
    out = sys.argv[sys.argv.index("--output_path") + 1]
    json.dump({{"aps": {{"easy": 0.9, "medium": 0.9, "hard": 0.9}}}}, open(os.path.join(out, "eval_result.json"), "w"))
"""


@pytest.fixture
def scripts(tmp_path):
    """Runs a test/*.sh script from ``tmp_path`` with a fake interpreter; returns (rc, stderr, recorded commands)."""
    fake = tmp_path / "fakepy"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    record = tmp_path / "record.jsonl"

    def run(script, *args):
        if record.exists():
            record.unlink()
        r = subprocess.run(["bash", os.path.join(MODEL_DIR, "test", script), *args], cwd=tmp_path, text=True,
                           capture_output=True, env=dict(os.environ, PYTHON=str(fake), FAKE_RECORD=str(record)))
        cmds = [json.loads(l) for l in open(record)] if record.exists() else []
        return r.returncode, r.stderr, cmds
    return run


def train_flags(cmd):
    """What train.py makes of a recorded command line: (args, explicit settings)."""
    return train.parse_args(cmd[cmd.index(os.path.join(MODEL_DIR, "train.py")) + 1:])


def test_scripts_honour_the_common_options(scripts, tmp_path, tiny):
    """Issue 13 #3 / #9: every option of test/common.sh is honoured (e.g. train_smoke.sh --steps=3) or refused in
    one line; relative paths are the caller's."""
    os.symlink(tiny, tmp_path / "data")
    (tmp_path / "init.pth").write_bytes(b"x")
    rc, err, cmds = scripts("train_smoke.sh", "--data_path=data", "--output_path=out", "--steps=3", "--epochs=7",
                            "--batch_size=2", "--checkpoint=init.pth", "--lr=0.01")
    assert rc == 0, err
    tr, ev, summ = cmds
    args, given = train_flags(tr)
    out = str(tmp_path / "out")
    assert (args.data_path, args.output_path, args.device, args.init_checkpoint, args.overwrite) == (
        str(tmp_path / "data"), out, "cpu", str(tmp_path / "init.pth"), True)
    assert (given["max_steps"], given["num_epochs"], given["batch_size"], given["lr"], given["input_size"]) == (
        3, 7, 2, 0.01, 256)
    assert ev[ev.index("--checkpoint") + 1] == out and ev[ev.index("--output_path") + 1] == out
    assert summ[-2:] == ["--summarize", out] and summ[0].endswith("ci/smoke.py")
    # eval.py's protocol options go to eval.py (e.g. the reference's IoU 0.4), the rest to train.py
    rc, err, (tr, ev, _) = scripts("train_smoke.sh", "--data_path=data", "--reference_iou", "--resize=ceil32",
                                   "--threshold=0.1", "--gt=gt", "--lr=0.01")
    assert rc == 0, err
    assert ev[-4:] == ["--reference_iou", "--resize=ceil32", "--threshold=0.1", "--gt=gt"] and tr[-1] == "--lr=0.01"
    a = cf_eval.parse_args(ev[1:])
    assert (a.reference_iou, a.resize, a.threshold, a.gt) == (True, "ceil32", 0.1, "gt")
    # --resume: no --overwrite, the checkpoint as given (auto) or from the caller's directory
    rc, err, cmds = scripts("train_full_1p.sh", "--data_path=data", "--resume=auto", "--device_id=0")
    args, given = train_flags(cmds[0])
    assert rc == 0 and (args.resume, args.overwrite, given["recipe"]) == ("auto", False, "reference")
    assert args.output_path == os.path.join(MODEL_DIR, "test", "output", "train_full_1p")
    # the data-parallel scripts: torchrun with --device_num processes
    rc, err, cmds = scripts("train_performance_8p.sh", "--data_path=data", "--device_num=3", "--steps=4")
    assert rc == 0, err
    assert cmds[0][:4] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3"]
    args, given = train_flags(cmds[0])
    assert (given["recipe"], given["max_steps"], given["val"], args.overwrite) == ("ascend8p", 4, False, True)
    # refused in one line
    for script, opt, what in [("train_full_1p.sh", "--device_num=2", "trains on one device"),
                              ("train_performance_1p.sh", "--device_id=1", "the cpu is device 0"),
                              ("train_full_8p.sh", "--device_id=1", "uses devices 0 to --device_num - 1"),
                              ("train_smoke.sh", "--steps=x", "--steps must be a whole number"),
                              ("train_smoke.sh", "--checkpoint=none.pth", "no such file"),
                              # issue 13 #2 through torchrun: one line before the workers start, not one per worker
                              ("train_full_8p.sh", "--device=gpu", "train_full_8p.sh: error: --device gpu: 8 "
                               "processes need 8 CUDA devices (found: cpu only"),
                              ("train_performance_8p.sh", "--device=npu",
                               "--device npu: torch_npu (Ascend) is not installed"),
                              ("train_performance_1p.sh", "--reference_iou",
                               "--reference_iou: train_performance_1p.sh does not evaluate")]:
        rc, err, cmds = scripts(script, "--data_path=data", opt)
        assert rc == 2 and not cmds and len(err.strip().splitlines()) == 1 and what in err, (script, opt, err)
    rc, err, cmds = scripts("train_smoke.sh")
    assert rc == 2 and err.strip() == "train_smoke.sh: error: --data_path=DIR is required (see the model README for " \
                                      "the data layout)"


def test_train_overfit_script(scripts, tmp_path, tiny):
    """Rounds of 20 epochs on the overfit set, each followed by its evaluation, until easy AP 0.8; a set that is
    not an overfit set is refused."""
    (tmp_path / "overfit").mkdir()
    shutil.copytree(tiny, tmp_path / "overfit" / "set")
    (tmp_path / "overfit" / "set" / "mini_widerface_meta.json").write_text('{"overfit": {"images": 8}}')
    (tmp_path / "init.pth").write_bytes(b"x")
    rc, err, cmds = scripts("train_overfit.sh", "--data_path=overfit/set", "--output_path=o", "--epochs=50",
                            "--checkpoint=init.pth")
    assert rc == 0, err
    args, given = train_flags(cmds[0])
    assert (given["num_epochs"], given["augment"], given["input_size"], given["batch_size"], args.overwrite,
            args.init_checkpoint) == (20, False, 384, 8, True, str(tmp_path / "init.pth"))
    assert cmds[1][cmds[1].index("--data_path") + 1] == str(tmp_path / "overfit" / "set")
    # resumed: the round after the last logged epoch
    (tmp_path / "o" / "train_log.jsonl").write_text(json.dumps({"step": 45, "epoch": 45}) + "\n")
    rc, err, cmds = scripts("train_overfit.sh", "--data_path=overfit/set", "--output_path=o", "--resume=auto")
    args, given = train_flags(cmds[0])
    assert rc == 0 and (given["num_epochs"], args.resume, args.overwrite) == (60, "auto", False)
    shutil.copytree(tiny, tmp_path / "mini")
    (tmp_path / "mini" / "mini_widerface_meta.json").write_text('{"splits": {}}')
    rc, err, cmds = scripts("train_overfit.sh", "--data_path=mini")
    assert rc == 2 and "not an overfit set" in err and not cmds

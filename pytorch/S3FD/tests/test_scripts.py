"""test/*.sh and modelarts_entry.py: every option of test/common.sh is honoured or refused in one line (exit 2), and
paths are the caller's (issue 13 #3, #4). The smoke script's own run is the zoo's contract test
(ci/tests/test_contract.py); training itself is tested in test_train.py."""
import json
import os
import shutil

import pytest

from conftest import tiny_wider
from zoo_fixtures import run_script

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE_DEVICE = ["train_full_1p.sh", "train_performance_1p.sh", "train_smoke.sh", "train_overfit.sh"]
DATA_PARALLEL = ["train_full_8p.sh", "train_performance_8p.sh"]
ENV = {"OMP_NUM_THREADS": "1"}


def sh(script, args, cwd=MODEL_DIR):
    return run_script(["bash", os.path.join(MODEL_DIR, "test", script)] + [str(a) for a in args], cwd=cwd, env=ENV,
                      timeout=300, python=False)


def refused(r, script, text):
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"{script}: error: {text}"), r.stderr


@pytest.mark.parametrize("script", ONE_DEVICE)
def test_one_device_scripts_refuse_several_devices(script, tmp_path):
    refused(sh(script, [f"--data_path={tmp_path}", "--device_num=2"]), script, "--device_num=2: ")


@pytest.mark.parametrize("script", DATA_PARALLEL)
def test_data_parallel_scripts_refuse_a_device_id(script, tmp_path):
    refused(sh(script, [f"--data_path={tmp_path}", "--device_id=1"]), script,
            "--device_id=1: the workers use devices 0..device_num-1")


@pytest.mark.parametrize("script", ["train_full_1p.sh", "train_full_8p.sh"])
def test_full_scripts_need_the_evaluation_ground_truth(script, tmp_path):
    refused(sh(script, [f"--data_path={tmp_path}"]), script,
            f"--data_path={tmp_path}: no ground_truth/wider_face_val.mat")


def test_performance_script_honours_the_options_with_the_callers_paths(tiny_lists, tmp_path):
    """From another folder: relative --data_path / --output_path are the caller's; --steps, --batch_size and the
    extra train.py flags reach the run; ModelArts' performance line is printed."""
    caller = tmp_path / "caller"
    caller.mkdir()
    os.symlink(tiny_lists, caller / "lists")
    r = sh("train_performance_1p.sh", ["--data_path=lists", "--output_path=out", "--steps=2", "--batch_size=1",
                                       "--input_size=64", "--num_workers=0"], cwd=caller)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Final Performance images/sec :" in r.stdout
    with open(caller / "out" / "train_log.jsonl") as f:
        assert [json.loads(line)["step"] for line in f] == [1, 2]
    info = json.load(open(caller / "out" / "model_info.json"))
    assert info["config"]["BATCH_SIZE"] == 1 and info["anchors_input_hw"] == [64, 64]
    assert not os.path.exists(os.path.join(MODEL_DIR, "out"))


def test_full_script_trains_then_evaluates_with_the_protocol_options(mini_data, tiny_lists, tmp_path):
    """--steps reaches train.py; the evaluation's options (--single_scale, --thresh=, --gt_dir=) reach eval.py."""
    data = tmp_path / "data"
    tiny_wider(mini_data, str(data))
    for name in ("face_train.txt", "face_val.txt"):
        shutil.copy(os.path.join(tiny_lists, name), data / name)
    os.rename(data / "ground_truth", tmp_path / "gt")
    r = sh("train_full_1p.sh", ["--data_path=data", "--output_path=out", "--steps=1", "--batch_size=1",
                                "--input_size=64", "--num_workers=0", "--no_val", "--single_scale", "--thresh=0.5",
                                "--gt_dir=gt"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(tmp_path / "out" / "train_log.jsonl") as f:
        assert [json.loads(line)["step"] for line in f] == [1]
    res = json.load(open(tmp_path / "out" / "eval_result.json"))
    assert res["protocol"] == "single" and res["images"] == 2 and res["checkpoint"].endswith("sfd_face_1.pth")
    assert res["num_predictions"] == 0 or res["score_range"][0] >= 0.5


def test_modelarts_entry_paths_are_the_callers(tiny_lists, tmp_path):
    caller = tmp_path / "job"
    caller.mkdir()
    os.symlink(tiny_lists, caller / "data")
    r = run_script([os.path.join(MODEL_DIR, "modelarts_entry.py"), "--data_url=data", "--train_url=out",
                    "--device=cpu", "--eval=none", "--steps=1", "--input_size=64", "--batch_size=1", "--no_val",
                    "--num_workers=0"], cwd=caller, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (caller / "out" / "sfd_face_1.pth").is_file() and not os.path.exists(os.path.join(MODEL_DIR, "out"))
    r = run_script([os.path.join(MODEL_DIR, "modelarts_entry.py"), "--data_url=missing", "--train_url=out"],
                   cwd=caller, env=ENV, timeout=60)
    assert (r.returncode, r.stderr) == (2, "modelarts_entry.py: error: --data_url missing: no such directory\n")


def test_modelarts_entry_obs_url_without_moxing(tmp_path):
    r = run_script([os.path.join(MODEL_DIR, "modelarts_entry.py"), "--data_url=obs://bucket/wider",
                    f"--train_url={tmp_path}"], cwd=tmp_path, env=ENV, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "moxing" in r.stderr, r.stderr

"""test/*.sh honour or refuse every option of test/common.sh in one line; modelarts_entry.py resolves its paths
against the caller's folder (the scripts' own relative paths are exercised by test_distributed.py and the zoo's
contract tests)."""
import os

import pytest

from conftest import MODEL_DIR, run_main, run_py, run_sh

SCRIPTS = ["train_full_1p.sh", "train_full_8p.sh", "train_performance_1p.sh", "train_performance_8p.sh",
           "train_smoke.sh", "train_overfit.sh"]
ONE_DEVICE = [s for s in SCRIPTS if "_8p" not in s]


@pytest.mark.parametrize("script", SCRIPTS)
def test_epochs_is_refused(script, tmp_path):
    r = run_sh(script, ["--data_path=%s" % tmp_path, "--epochs=3"])
    assert (r.returncode, r.stderr) == (2, "%s: error: --epochs=3: FaceBoxes trains to a global step, as the "
                                           "reference (240k steps of batch 16): use --steps\n" % script)


@pytest.mark.parametrize("script", ONE_DEVICE)
def test_one_device_scripts_refuse_device_num(script, tmp_path):
    r = run_sh(script, ["--data_path=%s" % tmp_path, "--device_num=2"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("%s: error: --device_num=2: %s trains on one device" % (script, script))


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_refuses_a_second_cpu(script, tmp_path):
    """--device_id names a device; the 8p scripts used to ignore it on cpu"""
    r = run_sh(script, ["--data_path=%s" % tmp_path, "--device_id=1"])
    assert (r.returncode, r.stderr) == (2, "%s: error: --device_id=1: --device=cpu has the one device 0\n" % script)


def test_data_without_shards_or_wider_layout(tmp_path):
    r = run_sh("train_full_1p.sh", ["--data_path=%s" % tmp_path])
    assert (r.returncode, r.stderr) == (2, "train_full_1p.sh: error: --data_path=%s holds neither *.tfrecords shards "
                                           "nor the WIDER FACE layout (WIDER_train/images)\n" % tmp_path)


def test_modelarts_entry_paths_are_the_callers(tmp_path):
    """From another folder, relative --data_url / --train_url reach train_full_1p.sh as the caller's folders (an
    empty data folder: the script names it and stops before training); ModelArts' own arguments are listed."""
    caller = tmp_path / "job"
    (caller / "data").mkdir(parents=True)
    r = run_py([os.path.join(MODEL_DIR, "modelarts_entry.py"), "--data_url=data", "--train_url=out", "--device=cpu",
                "--steps=1", "--num_gpus=1"], cwd=str(caller))
    assert r.returncode == 2 and "ignoring arguments for ModelArts: --num_gpus=1" in r.stdout
    assert "train_full_1p.sh --data_path=%s --output_path=%s --device=cpu --steps=1" % (caller / "data", caller / "out") \
        in r.stdout
    assert r.stderr == "train_full_1p.sh: error: --data_path=%s holds neither *.tfrecords shards nor the WIDER FACE " \
        "layout (WIDER_train/images)\n" % (caller / "data")
    assert (caller / "out").is_dir() and not os.path.exists(os.path.join(MODEL_DIR, "out"))


def test_modelarts_entry_obs_url_without_moxing(capsys):
    r = run_main("modelarts_entry", ["--data_url=obs://bucket/wider", "--train_url=/tmp/x"], capsys)
    assert (r.returncode, r.stderr) == (2, "modelarts_entry.py: error: obs://bucket/wider is an OBS URL but moxing "
                                           "(ModelArts' file library) is not installed: run on ModelArts, or give "
                                           "local folders\n")


NO_GPU = "--device gpu: no GPU visible to TensorFlow (found CPU:0, and this TensorFlow build has no CUDA support; " \
    "CUDA_VISIBLE_DEVICES="
NO_NPU = "--device npu: the Ascend TF adapter (npu_bridge) is not installed; found a CPU only"


@pytest.mark.parametrize("script,args,message", [
    ("train_full_8p.sh", ["--device=gpu", "--device_num=2"], NO_GPU),
    ("train_performance_8p.sh", ["--device=npu"], NO_NPU),
    ("train_full_1p.sh", ["--device=gpu"], NO_GPU + "0)"),
    ("train_smoke.sh", ["--device=npu"], NO_NPU)])
def test_a_missing_device_is_one_line_before_anything_runs(script, args, message, mini_data, tmp_path):
    """issue 13 #2 through the scripts (this machine has neither): one line and exit 2 before the data conversion,
    not one error per worker after it"""
    r = run_sh(script, ["--data_path=" + mini_data, "--output_path=" + str(tmp_path / "out")] + args,
               cwd=str(tmp_path), timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("%s: error: %s" % (script, message))
    assert not (tmp_path / "out" / "train_shards").exists()


def test_requirements_name_only_package_index_distributions():
    """pip install -r requirements.txt on a fresh machine: a line naming the zoo's own widerface_eval (not on PyPI)
    made it fail with 'No matching distribution found'; the README's install line adds it from the repository"""
    import glob
    import re

    local = set()
    for pyproject in glob.glob(os.path.join(MODEL_DIR, "..", "..", "common", "*", "pyproject.toml")):
        local.update(re.findall(r'^name = "([^"]+)"', open(pyproject).read(), re.M))
    assert "widerface_eval" in local
    names = [re.match(r"[A-Za-z0-9_.-]+", line.split("#")[0].strip()).group(0)
             for line in open(os.path.join(MODEL_DIR, "requirements.txt")) if line.split("#")[0].strip()]
    assert names and not {n.lower().replace("-", "_") for n in names} & {n.lower() for n in local}


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_is_the_scripts_header_and_the_common_options(script):
    """--help printed the whole script (common.sh shows the script's leading comment lines, then the common options)"""
    r = run_sh(script, ["--help"])
    header = [line for line in open(os.path.join(MODEL_DIR, "test", script)).read().splitlines()[1:]
              if line.startswith("#")]
    out = r.stdout.splitlines()
    assert r.returncode == 0 and out[:len(header)] == header
    assert all(line.startswith("#") for line in out) and "#   --data_path=DIR        required: the data set root " \
        "(the model README says which layout)" in out

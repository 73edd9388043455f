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
def test_one_device_scripts_refuse_device_num_and_a_second_cpu(script, tmp_path):
    r = run_sh(script, ["--data_path=%s" % tmp_path, "--device_num=2"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("%s: error: --device_num=2: %s trains on one device" % (script, script))
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

import os, sys
MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [MODEL_DIR, os.path.join(MODEL_DIR, "..", "..", "ci")]
from zoo_fixtures import *  # noqa: E402,F401,F403  (shared_dir, mini_data, free_port, run_script)

# FaceBoxes fixtures and helpers
import pytest  # noqa: E402

from zoo_fixtures import run_script  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def converted_ckpt(shared_dir, tmp_path_factory):
    """FaceBoxesProd.pth (FaceBoxes.PyTorch's release) converted by tools/convert_official.py."""
    from tools.convert_official import convert

    dst = str(tmp_path_factory.mktemp("converted") / "faceboxes_prod.ckpt")
    convert(os.path.join(shared_dir, "weights", "faceboxes", "FaceBoxesProd.pth"), dst)
    return dst


@pytest.fixture(scope="session")
def mini_shards(mini_data, tmp_path_factory):
    """The first 4 train images of the mini WIDER set in 2 TFRecord shards of 2 images (shard k: images k, k+2)."""
    from src.preparedata.create_tfrecords import convert

    out = str(tmp_path_factory.mktemp("mini_shards"))
    convert(mini_data, "train", out, num_shards=2, workers=1, max_images=4, progress=False)
    return out


def run_py(args, cwd=MODEL_DIR, env=None, timeout=600):
    """``python ARGS`` in its own process (cwd: the model folder), text output."""
    return run_script(args, cwd=cwd, env=dict({"TF_CPP_MIN_LOG_LEVEL": "2"}, **(env or {})), timeout=timeout)


def run_sh(script, args, cwd=MODEL_DIR, env=None, timeout=600):
    """``bash test/SCRIPT ARGS`` in its own process group."""
    return run_script(["bash", os.path.join(MODEL_DIR, "test", script)] + list(args), cwd=cwd,
                      env=dict({"TF_CPP_MIN_LOG_LEVEL": "2"}, **(env or {})), timeout=timeout, python=False)


class Result(object):
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_main(module, argv, capsys):
    """``module.main(argv)`` through src.errors.run_cli in this process (no interpreter and TensorFlow start-up):
    exit status, stdout, stderr as the command line would give them."""
    import importlib

    from src.errors import run_cli

    capsys.readouterr()
    rc = run_cli(importlib.import_module(module).main, module + ".py", argv)
    out = capsys.readouterr()
    return Result(rc, out.out, out.err)


# the small training runs of the suite: 128x128, no augmentation, a checkpoint at every step
TRAIN_ARGS = ["--image_size=128", "--no_augmentation", "--shuffle_buffer_size=4", "--save_checkpoints_steps=1",
              "--log_step_count_steps=1"]


@pytest.fixture(scope="session")
def reference_run(mini_shards, tmp_path_factory):
    """One process, batch 4 (all 4 images of mini_shards at every step), 4 steps: model.ckpt-0 ... model.ckpt-4."""
    from src.errors import run_cli
    import train

    out = str(tmp_path_factory.mktemp("reference_run"))
    rc = run_cli(train.main, "train.py", ["--data_path", mini_shards, "--output_path", out, "--batch_size", "4",
                                          "--steps", "4"] + TRAIN_ARGS)
    assert rc == 0
    return out


def read_log(folder):
    from src.fileio import read_step_log

    return read_step_log(os.path.join(folder, "train_log.jsonl"))


def assert_same_variables(a, b, rtol=1e-4):
    """Every variable of checkpoint ``a`` equals ``b``'s: max |difference| <= rtol * max |value| per variable."""
    import numpy as np

    from src.tf_compat import tf

    names = dict(tf.train.list_variables(a))
    assert names == dict(tf.train.list_variables(b))
    for name in sorted(names):
        x, y = tf.train.load_variable(a, name), tf.train.load_variable(b, name)
        if name == "config":
            continue
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        assert np.abs(x - y).max() <= rtol * max(np.abs(y).max(), 1e-6), name

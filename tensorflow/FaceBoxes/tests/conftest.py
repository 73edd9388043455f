import os
import subprocess
import sys

import pytest

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))
sys.path.insert(0, MODEL_DIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def shared_dir():
    return os.environ.get("ZOO_SHARED") or os.path.join(REPO_ROOT, "..", "shared")


@pytest.fixture(scope="session")
def shared():
    d = shared_dir()
    if not os.path.isdir(os.path.join(d, "weights", "faceboxes")):
        pytest.fail("shared reference data not found at %s (set ZOO_SHARED)" % d)
    return d


@pytest.fixture(scope="session")
def mini_data():
    d = os.environ.get("ZOO_MINI_DATA") or os.path.join(REPO_ROOT, "ci", "data", "mini_widerface")
    if not os.path.isdir(os.path.join(d, "WIDER_val")):
        subprocess.check_call([sys.executable, os.path.join(REPO_ROOT, "ci", "make_mini_widerface.py"), "--out", d])
    return d


@pytest.fixture(scope="session")
def converted_ckpt(shared, tmp_path_factory):
    from tools.convert_official import convert

    dst = str(tmp_path_factory.mktemp("converted") / "faceboxes_prod.ckpt")
    convert(os.path.join(shared, "weights", "faceboxes", "FaceBoxesProd.pth"), dst)
    return dst


def run_py(args, cwd=MODEL_DIR, timeout=600):
    """Run a script of this folder with the test interpreter; returns CompletedProcess (text)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

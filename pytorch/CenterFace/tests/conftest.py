import os
import subprocess
import sys

# one OpenMP thread per process unless the caller says otherwise: on the shared 2-core CI machine two spinning
# threads per process (and per subprocess / train.main call) made the suite up to 6x slower under load
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if MODEL_DIR not in sys.path:
    sys.path.insert(0, MODEL_DIR)

from src.paths import REPO_ROOT, official_onnx, shared_dir  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def shared():
    d = shared_dir()
    if not os.path.isdir(d):
        pytest.fail(f"shared reference folder not found: {d} (set ZOO_SHARED)")
    return d


@pytest.fixture(scope="session")
def onnx_path(shared):
    return official_onnx()


@pytest.fixture(scope="session")
def official_model(onnx_path):
    from src.convert_onnx import convert_official_onnx
    model, _ = convert_official_onnx(onnx_path)
    return model


@pytest.fixture(scope="session")
def mini_data():
    """The generated mini WIDER FACE (env ZOO_MINI_DATA, else <repo>/ci/data/mini_widerface; generated if missing)."""
    d = os.environ.get("ZOO_MINI_DATA") or os.path.join(REPO_ROOT, "ci", "data", "mini_widerface")
    if not os.path.isdir(os.path.join(d, "WIDER_val")):
        gen = os.path.join(REPO_ROOT, "ci", "make_mini_widerface.py")
        if not os.path.isfile(gen):
            pytest.skip(f"mini WIDER FACE not found at {d} and no generator at {gen}")
        subprocess.run([sys.executable, gen, "--out", d], check=True, cwd=REPO_ROOT)
    return d

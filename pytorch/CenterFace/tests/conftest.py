import os, sys
MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [MODEL_DIR, os.path.join(MODEL_DIR, "..", "..", "ci")]
from zoo_fixtures import *  # noqa: E402,F401,F403  (shared_dir, mini_data, free_port, run_script)

# one OpenMP thread per process unless the caller says otherwise: on the shared 2-core CI machine two spinning
# threads per process (and per subprocess / train.main call) made the suite up to 6x slower under load
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def onnx_path(shared_dir):
    """The released official ONNX (shared/weights/centerface)."""
    path = os.path.join(shared_dir, "weights", "centerface", "centerface.onnx")
    if not os.path.isfile(path):
        pytest.fail(f"the released CenterFace ONNX is not at {path} (see shared/weights/README.md)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def official_model(onnx_path):
    from src.official_onnx import convert_official_onnx
    model, _ = convert_official_onnx(onnx_path)
    return model


@pytest.fixture(scope="session")
def official_checkpoint(official_model, tmp_path_factory):
    """The released model as a checkpoint of this folder (what tools/convert_official.py writes)."""
    from src.checkpoint import save
    path = str(tmp_path_factory.mktemp("official") / "centerface_official.pth")
    save({"model": official_model.state_dict(), "config": official_model.cfg.to_dict()}, path)
    return path

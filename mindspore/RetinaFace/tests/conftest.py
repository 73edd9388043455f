import os, sys
MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [MODEL_DIR, os.path.join(MODEL_DIR, "..", "..", "ci")]
from zoo_fixtures import *  # noqa: E402,F401,F403  (shared_dir, mini_data, free_port, run_script)

# RetinaFace fixtures: the converted release, MindSpore in GRAPH mode on CPU
import src  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before MindSpore is imported)
import pytest  # noqa: E402

os.environ.setdefault("GLOG_v", "3")          # MindSpore's C++ warnings off in tests and their subprocesses


@pytest.fixture(scope="session")
def release_pth(shared_dir):
    """The released ``Final_Retinaface.pth`` (biubug6/Pytorch_Retinaface @ 3c31dcd, MobileNet0.25)."""
    path = os.path.join(shared_dir, "weights", "retinaface_mnet025", "Final_Retinaface.pth")
    if not os.path.isfile(path):
        pytest.fail(f"{path} is missing from the shared reference material (ZOO_SHARED)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def mnet_ckpt(release_pth, tmp_path_factory):
    """Final_Retinaface.pth converted with tools/convert_official.py (in-process)."""
    from tools.convert_official import convert
    dst = str(tmp_path_factory.mktemp("ckpt") / "retinaface_mnet025.ckpt")
    convert(release_pth, dst)
    return dst


@pytest.fixture(scope="session", autouse=True)
def _graph_mode():
    import mindspore as ms
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")

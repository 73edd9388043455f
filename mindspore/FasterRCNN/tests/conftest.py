import os, sys
MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [MODEL_DIR, os.path.join(MODEL_DIR, "..", "..", "ci")]
from zoo_fixtures import *  # noqa: E402,F401,F403  (shared_dir, mini_data, free_port)

# Faster R-CNN fixtures. MindSpore runs every graph in GRAPH mode on CPU; ``import src`` (first) caps oneDNN at
# AVX2, as every entry point does. Checkpoints generated from the shared fixture go to the session's tmp folder.
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

import src  # noqa: E402,F401

from helpers import GRAPH_CACHE_ROOT, REF_NAME, graph_cache_env  # noqa: E402

os.environ.setdefault("GLOG_v", "3")
# MindSpore's compile cache names a graph by the hash of the entry script's source files and its place in the
# process's compile order, not by the shapes and settings it was built with: two processes of one script that build
# different graphs (another canvas, the all-levels RoIAlign, a training then an evaluation graph) would load each
# other's. So no process of the session uses a cache, except the ones that build the very same graph on purpose:
# ``graph_cache_env(name)`` gives them a folder of their own (the small training run and its resumed run).
_CACHE = tempfile.mkdtemp(prefix="frcnn_ms_cache_")
os.environ["MS_COMPILER_CACHE_ENABLE"] = "0"
os.environ[GRAPH_CACHE_ROOT] = _CACHE


@pytest.fixture(scope="session", autouse=True)
def _remove_compile_cache():
    yield
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _graph_mode():
    import mindspore as ms
    ms.set_context(mode=ms.GRAPH_MODE, max_call_depth=2000)
    ms.set_device("CPU")


@pytest.fixture(scope="session")
def ref_dir(shared_dir):
    d = os.path.join(shared_dir, "weights", REF_NAME)
    if not os.path.isfile(os.path.join(d, "make_weights.py")):
        pytest.fail(f"the Faster R-CNN reference material is not at {d} (set ZOO_SHARED)", pytrace=False)
    return d


def _make_weights(ref_dir, out, num_classes):
    r = subprocess.run([sys.executable, os.path.join(ref_dir, "make_weights.py"), "--seed", "0", "--out", out,
                        "--num_classes", str(num_classes)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"make_weights.py failed:\n{r.stderr[-2000:]}", pytrace=False)
    return out


@pytest.fixture(scope="session")
def ref_ckpt4(ref_dir, tmp_path_factory):
    """The fixture's seed-0 checkpoint in the reference's format, 4 classes (FaceMask config)."""
    return _make_weights(ref_dir, str(tmp_path_factory.mktemp("ref") / "frcnn_seed0.ckpt"), 4)


@pytest.fixture(scope="session")
def ref_ckpt2(ref_dir, tmp_path_factory):
    """The same seed with the 2-class head (background + face)."""
    return _make_weights(ref_dir, str(tmp_path_factory.mktemp("ref") / "frcnn_seed0_2class.ckpt"), 2)


@pytest.fixture(scope="session")
def small_run(mini_data, tmp_path_factory):
    """Two training steps of the face config at the smoke settings (128 x 192, light sampling) on the mini set,
    a checkpoint after each step; shared by the training, export, demo and eval tests."""
    from helpers import FACE_YAML, SMALL_FLAGS
    out = tmp_path_factory.mktemp("small_run")
    args = ["train.py", f"--config_path={FACE_YAML}", f"--data_path={mini_data}", f"--save_checkpoint_path={out}",
            "--steps=2", "--save_checkpoint_steps=1", "--num_parallel_workers=2", "--python_multiprocessing=False",
            *SMALL_FLAGS]
    r = run_script(args, cwd=MODEL_DIR, timeout=900, env=graph_cache_env("small_run_training"))
    if r.returncode != 0:
        pytest.fail(f"train.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}", pytrace=False)
    return {"out": str(out), "args": args, "stdout": r.stdout,
            "ckpt1": os.path.join(out, "ckpt_0", "faster_rcnn-1_1.ckpt"),
            "ckpt2": os.path.join(out, "ckpt_0", "faster_rcnn-1_2.ckpt")}

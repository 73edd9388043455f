"""Shared fixtures: model folder on sys.path, the shared reference data, the generated mini WIDER FACE."""
import os
import signal
import socket
import subprocess
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("GLOG_v", "3")

import pytest  # noqa: E402

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))
if MODEL_DIR not in sys.path:
    sys.path.insert(0, MODEL_DIR)


def shared_dir():
    return os.environ.get("ZOO_SHARED") or os.path.join(REPO_ROOT, "..", "shared")


@pytest.fixture(scope="session")
def shared():
    d = shared_dir()
    if not os.path.isdir(os.path.join(d, "weights", "retinaface_mnet025")):
        pytest.skip(f"shared reference data not found at {d} (set ZOO_SHARED)")
    return d


@pytest.fixture(scope="session")
def mini_data():
    d = os.environ.get("ZOO_MINI_DATA") or os.path.join(REPO_ROOT, "ci", "data", "mini_widerface")
    if not os.path.isfile(os.path.join(d, "train", "label.txt")):
        gen = os.path.join(REPO_ROOT, "ci", "make_mini_widerface.py")
        if not os.path.isfile(gen):
            pytest.skip(f"mini WIDER FACE not found at {d} and no generator at {gen}")
        subprocess.run([sys.executable, gen, "--out", d], check=True, cwd=REPO_ROOT)
    return d


@pytest.fixture(scope="session")
def mnet_ckpt(shared, tmp_path_factory):
    """Final_Retinaface.pth converted with tools/convert_official.py (in-process)."""
    from tools.convert_official import convert
    dst = str(tmp_path_factory.mktemp("ckpt") / "retinaface_mnet025.ckpt")
    convert(os.path.join(shared, "weights", "retinaface_mnet025", "Final_Retinaface.pth"), dst)
    return dst


@pytest.fixture(scope="session", autouse=True)
def _graph_mode():
    import mindspore as ms
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")


def free_port():
    """A TCP port that is free now (the OS picks it), so that msrun never depends on a fixed port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(args, cwd=MODEL_DIR, env=None, timeout=600):
    """Run ``python ARGS`` in its own process group; on timeout the whole group (msrun's scheduler and workers
    included) is killed and the test fails, so nothing is left running and CI cannot hang."""
    e = dict(os.environ)
    e.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e.get("PATH", "")
    if env:
        e.update(env)
    proc = subprocess.Popen([sys.executable] + list(args), cwd=cwd, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(args[:3])} did not finish in {timeout} s (process group killed)\n{err[-2000:]}")
    finally:
        try:                       # leftovers of a finished run (e.g. msrun workers after a failed peer)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

"""Pytest fixtures and helpers shared by every test suite of the zoo (the only test helper; ``ci/`` is shared).

A model's ``tests/conftest.py`` starts with::

    import os, sys
    MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [MODEL_DIR, os.path.join(MODEL_DIR, "..", "..", "ci")]
    from zoo_fixtures import *  # noqa: E402,F401,F403  (shared_dir, mini_data, free_port, run_script)

Policy: tests never skip because shared data is missing; they fail with a message that says where it was looked
for and how to point at it (``ZOO_SHARED``, ``ZOO_MINI_DATA``).
"""
import fcntl
import os
import signal
import socket
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

__all__ = ["REPO_ROOT", "shared_path", "mini_data_path", "find_free_port", "run_script",
           "shared_dir", "mini_data", "free_port"]


def shared_path():
    """The reference material: ``$ZOO_SHARED``, else ``<repo>/../shared``."""
    return os.path.abspath(os.environ.get("ZOO_SHARED") or os.path.join(REPO_ROOT, "..", "shared"))


def mini_data_path():
    """The generated mini WIDER FACE: ``$ZOO_MINI_DATA``, else ``<repo>/ci/data/mini_widerface``."""
    return os.path.abspath(os.environ.get("ZOO_MINI_DATA") or os.path.join(REPO_ROOT, "ci", "data", "mini_widerface"))


def find_free_port():
    """A TCP port that is free now (the OS picks it), for torchrun / msrun / TF cluster rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(args, cwd, env=None, timeout=600, python=True):
    """Run ``python ARGS`` (or ``ARGS`` when ``python=False``) in its own process group, capturing text output.

    On timeout the whole group (launchers and their workers included) is killed and the test fails, so nothing is
    left running and CI cannot hang; leftovers of a finished run are killed as well."""
    e = dict(os.environ)
    e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e.get("PATH", "")
    if env:
        e.update(env)
    cmd = ([sys.executable] if python else []) + [str(a) for a in args]
    proc = subprocess.Popen(cmd, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd[:4])} did not finish in {timeout} s (process group killed)\n"
                    f"{out[-2000:]}\n{err[-2000:]}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture(scope="session")
def shared_dir():
    """``../shared`` (reference specs, weights, real photos, the real val ground truth); fails if absent."""
    d = shared_path()
    if not os.path.isdir(os.path.join(d, "weights")):
        pytest.fail(f"the shared reference material is not at {d}: set ZOO_SHARED to the folder that holds "
                    f"weights/, data/ and reference/", pytrace=False)
    return d


@pytest.fixture(scope="session")
def mini_data():
    """The mini WIDER FACE set, generated once (under a lock, so parallel suites do not race) if missing."""
    d = mini_data_path()
    meta = os.path.join(d, "mini_widerface_meta.json")
    if not os.path.isfile(meta):
        os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(d.rstrip("/") + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.isfile(meta):
                gen = os.path.join(REPO_ROOT, "ci", "make_mini_widerface.py")
                r = subprocess.run([sys.executable, gen, "--out", d], cwd=REPO_ROOT, capture_output=True, text=True)
                if r.returncode != 0 or not os.path.isfile(meta):
                    pytest.fail(f"could not generate the mini WIDER FACE set at {d}:\n{r.stderr[-2000:]}",
                                pytrace=False)
    return d


@pytest.fixture
def free_port():
    return find_free_port()

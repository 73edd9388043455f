"""Locations of shared data: env ZOO_SHARED, else <repo root>/../shared."""
import os

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))


def shared_dir():
    return os.environ.get("ZOO_SHARED") or os.path.join(os.path.dirname(REPO_ROOT), "shared")


def official_onnx():
    return os.path.join(shared_dir(), "weights", "centerface", "centerface.onnx")

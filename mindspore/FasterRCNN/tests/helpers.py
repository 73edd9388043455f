"""Helpers of the Faster R-CNN tests (fixtures are in conftest.py)."""
import os

import numpy as np

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_NAME = "fasterrcnn_reference"
FACEMASK_YAML = os.path.join(MODEL_DIR, "fasterrcnn_facemask_config_cpu.yaml")
FACE_YAML = os.path.join(MODEL_DIR, "fasterrcnn_widerface_config.yaml")
SMALL_FLAGS = ("--img_height=128", "--img_width=192", "--num_gts=16", "--rpn_proposal_nms_pre=500",
               "--rpn_proposal_max_num=500", "--num_bboxes_stage2=500", "--num_expected_pos_stage2=32",
               "--num_expected_neg_stage2=96", "--roi_sample_num=128", "--rpn_nms_pre=500", "--rpn_max_num=500")


GRAPH_CACHE_ROOT = "FRCNN_TEST_GRAPH_CACHE"     # the session's compile cache folder (set by conftest.py)


def graph_cache_env(name):
    """The environment of processes that compile the same graphs (same script, same settings): a MindSpore compile
    cache shared by them only (conftest.py says why no other process uses one)."""
    return {"MS_COMPILER_CACHE_ENABLE": "1",
            "MS_COMPILER_CACHE_PATH": os.path.join(os.environ[GRAPH_CACHE_ROOT], name)}


def config(yaml_path, *flags):
    from src.model_utils.config import get_config
    return get_config([f"--config_path={yaml_path}", *flags])


def small_config(*flags):
    """The face config at a small canvas with light RoI sampling (the train_smoke.sh settings)."""
    return config(FACE_YAML, *SMALL_FLAGS, *flags)


def reference_npz(ref_dir, name, two_class=False):
    sub = "reference_outputs_2class" if two_class else "reference_outputs"
    return np.load(os.path.join(ref_dir, sub, name + ".npz"))

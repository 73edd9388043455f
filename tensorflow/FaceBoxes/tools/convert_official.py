"""Convert the official FaceBoxes.PyTorch weights (FaceBoxesProd.pth) into a TensorFlow checkpoint of this network.

    python tools/convert_official.py --src ../../../shared/weights/faceboxes/FaceBoxesProd.pth \
        --dst pretrained/faceboxes_prod.ckpt

The checkpoint uses the ``pytorch`` architecture preset (symmetric padding, average-pool inception branch,
BN eps 1e-5, BGR-mean preprocessing, paper anchors, no input padding, no box clipping) and stores that configuration
(with the reference's post-processing settings), so demo.py / eval.py / export.py need no further flag, and
``train.py --checkpoint`` fine-tunes it with that architecture. Conv kernels go OIHW -> HWIO; the box head's output channels
are permuted from PyTorch's (x, y, w, h) to this code's (y, x, h, w) per anchor.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from src.errors import CheckpointError, UserError, run_cli  # noqa: E402

# PyTorch module name -> TF scope
_INCEPTION = {
    "branch1x1": "conv_1x1_path1",
    "branch1x1_2": "conv_1x1_path2",
    "branch3x3_reduce": "conv_1x1_path3",
    "branch3x3": "conv_3x3_path3",
    "branch3x3_reduce_2": "conv_1x1_path4",
    "branch3x3_2": "conv_3x3_path4",
    "branch3x3_3": "conv_3x3_second_path4",
}
_BN = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def map_state_dict(state):
    """PyTorch state dict (numpy arrays) -> {tf variable name: array}. Raises CheckpointError on unknown keys."""
    out = {}
    used = set()
    for key, value in state.items():
        parts = key.split(".")
        if parts[-1] == "num_batches_tracked":
            used.add(key)
            continue
        if parts[0] in ("loc", "conf"):
            i, kind = int(parts[1]), parts[2]
            scope = "prediction_layers/%s_%d" % ("box_encoding_predictor" if parts[0] == "loc" else "class_predictor", i)
            if parts[0] == "loc":  # permute (x, y, w, h) -> (y, x, h, w) within every anchor
                n = value.shape[0]
                perm = np.arange(n).reshape(-1, 4)[:, [1, 0, 3, 2]].reshape(-1)
                value = value[perm]
            name = scope + ("/weights" if kind == "weight" else "/biases")
        else:
            if parts[0].startswith("inception") and len(parts) > 1 and parts[1] in _INCEPTION:
                scope = parts[0] + "/" + _INCEPTION[parts[1]]
                rest = parts[2:]
            else:
                scope = parts[0]
                rest = parts[1:]
            if len(rest) == 2 and rest[0] == "conv" and rest[1] == "weight":
                name = scope + "/weights"
            elif len(rest) == 2 and rest[0] == "bn" and rest[1] in _BN:
                name = scope + "/batch_norm/" + _BN[rest[1]]
            else:
                raise CheckpointError("unexpected key %r in the PyTorch state dict" % key)
        if value.ndim == 4:
            value = value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        out[name] = value.astype(np.float32)
        used.add(key)
    return out


def _torch_load_reason(exc):
    """The informative part of a torch.load error (PyTorch >= 2.6 wraps it in a long weights_only notice)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        # "...WeightsUnpickler error: " is followed by the actual cause on its own line
        for k, ln in enumerate(lines):
            if ln.endswith("WeightsUnpickler error:") and k + 1 < len(lines):
                return "unpickling failed: %s; expected a file written by torch.save" % lines[k + 1]
        return "it holds objects other than tensors; expected a state dict written by torch.save"
    return lines[0] if lines else type(exc).__name__


def load_pth(path):
    try:
        import torch
    except ImportError:
        raise UserError("reading a .pth file needs PyTorch (pip install torch, the CPU wheel is enough)") from None
    if not os.path.isfile(path):
        raise CheckpointError("%s: no such file" % path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError("%s: not a readable PyTorch state dict (%s)" % (path, _torch_load_reason(e))) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(hasattr(v, "cpu") for v in state.values()):
        raise CheckpointError("%s: expected a state dict {name: tensor}, got %s" % (path, type(state).__name__))
    return {k[len("module."):] if k.startswith("module.") else k: v.cpu().numpy() for k, v in state.items()}


def convert(src, dst):
    from src.checkpoint import CONFIG_VARIABLE, add_config_variable
    from src.config import from_dict
    from src.detector import Detector
    from src.tf_compat import tf

    cfg = from_dict({"architecture": {"preset": "pytorch"}})
    try:
        values = map_state_dict(load_pth(src))
    except CheckpointError as e:
        if str(e).startswith(src):
            raise
        raise CheckpointError("%s: %s (is this FaceBoxesProd.pth of FaceBoxes.PyTorch?)" % (src, e)) from None
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        Detector(images, cfg["architecture"], is_training=False)
        add_config_variable(cfg)
        variables = {v.op.name: v for v in tf.global_variables() if v.op.name != CONFIG_VARIABLE}
        missing = sorted(set(variables) - set(values))
        unexpected = sorted(set(values) - set(variables))
        if missing or unexpected:
            raise CheckpointError("%s: state dict does not fit the network (missing %s, unexpected %s)"
                                  % (src, missing[:5], unexpected[:5]))
        for name, var in variables.items():
            if tuple(var.shape.as_list()) != values[name].shape:
                raise CheckpointError("%s: shape mismatch for %s: %s vs %s"
                                      % (src, name, values[name].shape, var.shape.as_list()))
        assigns = [tf.assign(var, values[name]) for name, var in variables.items()]
        saver = tf.train.Saver(tf.global_variables())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(assigns)
            os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
            saver.save(sess, dst, write_meta_graph=False)
    n = sum(v.size for v in values.values())
    print("converted %d tensors (%d values) from %s into %s" % (len(values), n, src, dst))
    return dst


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help="FaceBoxesProd.pth (FaceBoxes.PyTorch state dict)")
    p.add_argument("--dst", required=True, help="output checkpoint prefix, e.g. pretrained/faceboxes_prod.ckpt")
    args = p.parse_args(argv)
    convert(args.src, args.dst)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "convert_official.py"))

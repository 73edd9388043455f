"""Exports a CenterFace checkpoint to ONNX (outputs hm, wh, hm_offset, landmarks; dynamic batch/H/W) and checks
it against PyTorch with onnxruntime.

    python export.py --checkpoint CKPT --output centerface.onnx [--height 480 --width 640] [--opset 17]
"""
import argparse
import os
import sys
import warnings

import numpy as np
import torch

from src.checkpoint import CheckpointError, load_model
from src.model import ExportWrapper, fuse_bn

OUTPUT_NAMES = ["hm", "wh", "hm_offset", "landmarks"]


def export_onnx(model, path, height=480, width=640, opset=17, dynamic=True):
    wrapper = ExportWrapper(fuse_bn(model.eval()))
    x = torch.zeros(1, 3, height, width)
    axes = {"input": {0: "B", 2: "H", 3: "W"}}
    axes.update({n: {0: "B", 2: "h", 3: "w"} for n in OUTPUT_NAMES})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(wrapper, (x,), tmp, input_names=["input"], output_names=OUTPUT_NAMES,
                              opset_version=opset, dynamic_axes=axes if dynamic else None, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def check_onnx(model, path, height=480, width=640, seed=0):
    """Max |ONNX − PyTorch| per output on a random input of the model's input range."""
    import onnxruntime as ort
    rng = np.random.RandomState(seed)
    x = (rng.rand(1, 3, height, width) * (255 if model.cfg["input_format"] == "rgb_raw" else 4) -
         (0 if model.cfg["input_format"] == "rgb_raw" else 2)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x))
    return {n: float(np.abs(g - ref[n].numpy()).max()) for n, g in zip(OUTPUT_NAMES, got)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--static", action="store_true", help="fixed input size instead of dynamic B/H/W")
    a = p.parse_args(argv)
    if a.height % 32 or a.width % 32:
        print("error: --height and --width must be multiples of 32", file=sys.stderr)
        return 2
    try:
        model, cfg = load_model(a.checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        export_onnx(model, a.output, a.height, a.width, a.opset, not a.static)
    except OSError as e:
        print(f"error: {a.output}: cannot write ({e.strerror or e})", file=sys.stderr)
        return 2
    diffs = check_onnx(model, a.output, a.height, a.width)
    print(f"wrote {a.output} ({cfg['variant']}, input {cfg['input_format']}); onnxruntime vs PyTorch max |diff|: " +
          ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

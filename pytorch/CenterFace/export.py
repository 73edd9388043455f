"""Exports a CenterFace checkpoint to ONNX (BatchNorms folded; outputs hm, wh, hm_offset, landmarks; dynamic batch,
height and width) and checks it against PyTorch through the same Predictor that demo.py and eval.py use.

    python export.py --checkpoint CKPT --output centerface.onnx [--height 480 --width 640] [--opset 17]
        [--check_image IMG]

The check runs one image (--check_image, else a random one of --height x --width) through the checkpoint's
pre-processing, the PyTorch model and the ONNX file, and prints the largest difference of every output map and of
the decoded detections.
"""
import argparse
import sys
import warnings

import cv2
import numpy as np
import torch

from src.checkpoint import load_model
from src.config import ArgumentParser
from src.errors import ConfigError, run_cli
from src.fileio import atomic_path
from src.image_io import read_image
from src.inference import OUTPUT_NAMES, OnnxRunner, Predictor
from src.model import ExportWrapper, fuse_bn


def export_onnx(model, path, height=480, width=640, opset=17, dynamic=True):
    wrapper = ExportWrapper(fuse_bn(model.eval()))
    x = torch.zeros(1, 3, height, width)
    axes = {"input": {0: "B", 2: "H", 3: "W"}}
    axes.update({n: {0: "B", 2: "h", 3: "w"} for n in OUTPUT_NAMES})
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapper, (x,), tmp, input_names=["input"], output_names=list(OUTPUT_NAMES),
                          opset_version=opset, dynamic_axes=axes if dynamic else None, dynamo=False)
    return path


def check_export(model, path, image, cfg=None):
    """``image`` (BGR uint8) through Predictor with the PyTorch ``model`` and with the ONNX file ``path``: the max
    absolute difference of every output map, the detection counts and the max difference of the detections."""
    cfg = cfg or model.cfg
    ours, theirs = Predictor(model, cfg, fuse=False), Predictor(OnnxRunner(path), cfg)
    a, b = ours.raw(image)[0], theirs.raw(image)[0]
    res = {k: float(np.abs(a[k] - b[k]).max()) for k in OUTPUT_NAMES}
    da, db = ours.detect(image), theirs.detect(image)
    res["detections"] = (len(da), len(db))
    res["detections_max_diff"] = float(np.abs(da - db).max()) if len(da) == len(db) and len(da) else 0.0
    return res


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint, or a training output folder (its latest)")
    p.add_argument("--output", required=True)
    p.add_argument("--height", type=int, default=480, help="export (and random check image) height")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--static", action="store_true", help="fixed input size instead of dynamic B/H/W")
    p.add_argument("--check_image", help="image for the parity check (default: random, --height x --width)")
    a = p.parse_args(argv)
    if a.height % 32 or a.width % 32:
        raise ConfigError(f"--height {a.height} / --width {a.width}: both must be multiples of 32")
    image = read_image(a.check_image) if a.check_image else \
        np.random.RandomState(0).randint(0, 256, (a.height, a.width, 3)).astype(np.uint8)
    model, cfg = load_model(a.checkpoint)
    if a.static:  # the check feeds the exported size: the image at --height x --width, kept as it is
        cfg = cfg.replace(test_resize="ceil32")
        image = cv2.resize(image, (a.width, a.height))
    export_onnx(model, a.output, a.height, a.width, a.opset, not a.static)
    r = check_export(model, a.output, image, cfg)
    print(f"wrote {a.output} ({cfg.variant}, input {cfg.input_format}); onnxruntime vs PyTorch max |diff|: "
          + ", ".join(f"{k} {r[k]:.2e}" for k in OUTPUT_NAMES)
          + f"; detections {r['detections'][1]} vs {r['detections'][0]}, max |diff| {r['detections_max_diff']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "export.py"))

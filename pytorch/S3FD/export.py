"""Export an S3FD checkpoint to ONNX (dynamic batch, height and width) and check it with onnxruntime.

    python export.py --checkpoint CKPT --output s3fd.onnx [--check_image IMG] [--opset 13]

The graph maps ``input`` [B, 3, H, W] (the normalised image of the checkpoint's configuration: RGB or BGR minus the
mean, see utils/augmentations.to_input) to ``loc`` [B, P, 4] and ``conf`` [B, P, 2] (softmax scores); priors and
Detect (decode, NMS) run outside, as ``src/inference.OnnxRunner`` does. The parity check runs ``Predictor`` with
both back ends on the check image (default: the seeded random image of 240 x 320 below) at its own size and at a
second size: raw outputs within 1e-4, detections of the ``native`` protocol with the same count and IoU >= 0.99.
"""
import argparse
import os
import sys
import warnings

import numpy as np

from src.errors import UserError, run_cli

RAW_TOL = 1e-4
IOU_MIN = 0.99


def export_onnx(net, path, opset=13, size=(640, 640)):
    """Write the ONNX graph of ``net`` (any phase) to ``path`` atomically."""
    import torch
    import torch.nn.functional as F

    from src.fileio import atomic_path

    class Graph(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            loc, conf, _ = self.net.heads(x)
            return loc, F.softmax(conf, dim=-1)

    graph = Graph(net).eval()
    x = torch.zeros(1, 3, *size)
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "loc": {0: "batch", 1: "priors"},
            "conf": {0: "batch", 1: "priors"}}
    with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter (the one that keeps H and W dynamic here) warns that it is deprecated, and the
        # tracer that the feature-map sizes become constants (they are not outputs of the graph)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(graph, (x,), tmp, input_names=["input"], output_names=["loc", "conf"],
                          opset_version=opset, dynamic_axes=axes, dynamo=False)
    return path


def box_iou(a, b):
    """[A, B] IoU of pixel boxes (plain areas)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:4] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:4] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def check_image(path=None):
    """The check image (BGR uint8): ``path`` or a seeded random 240 x 320 image."""
    from src.image_io import read_image
    if path:
        return read_image(path, "bgr")
    return np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)


def parity(torch_predictor, onnx_predictor, image):
    """Compare the two back ends on ``image`` at its size and at 3/4 of it; returns a list of report lines and
    whether everything is within the tolerances."""
    import cv2

    from utils.augmentations import to_input
    lines, ok = [], True
    for scale in (1.0, 0.75):
        img = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        x = to_input(img, "bgr", torch_predictor.cfg)
        lt, ct, pt = torch_predictor.raw(x)
        lo, co, po = onnx_predictor.raw(x)
        d_loc = float((lt - lo).abs().max())
        d_conf = float((ct - co).abs().max())
        dt, do = torch_predictor(img, "native", thresh=0.0), onnx_predictor(img, "native", thresh=0.0)
        n = min(len(dt), len(do))
        iou = float(np.diag(box_iou(dt[:n, :4], do[:n, :4])).min()) if n else 1.0
        good = d_loc <= RAW_TOL and d_conf <= RAW_TOL and len(dt) == len(do) and iou >= IOU_MIN and \
            pt.shape == po.shape
        ok &= good
        lines.append(f"{img.shape[1]}x{img.shape[0]}: max |d loc| {d_loc:.2e}, max |d conf| {d_conf:.2e}, "
                     f"{len(dt)} / {len(do)} dets, min IoU {iou:.4f} -> {'ok' if good else 'FAILED'}")
    return lines, ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="checkpoint of this folder")
    p.add_argument("--output", help="the .onnx file to write")
    p.add_argument("--check_image", help="image of the parity check (default: a seeded random image)")
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--no_check", action="store_true", help="skip the onnxruntime parity check")
    a = p.parse_args(argv)
    if not a.checkpoint or not a.output:
        raise UserError("--checkpoint CKPT and --output OUT.onnx are required")
    from src.inference import OnnxRunner, Predictor

    image = check_image(a.check_image)
    torch_predictor = Predictor.from_checkpoint(a.checkpoint)
    export_onnx(torch_predictor.runner.net, a.output, a.opset)
    print(f"wrote {os.path.abspath(a.output)} (opset {a.opset}, ARCH {torch_predictor.cfg.ARCH})")
    if a.no_check:
        return 0
    lines, ok = parity(torch_predictor, Predictor(OnnxRunner(a.output, torch_predictor.cfg), torch_predictor.cfg),
                       image)
    print("onnxruntime parity:\n  " + "\n  ".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_cli(main, "export.py"))

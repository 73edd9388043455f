"""Detects faces in one image and draws boxes and the five landmarks.

    python demo.py --image IMG --checkpoint CKPT --output OUT.jpg --json OUT.json [--score_threshold 0.35]
"""
import argparse
import os
import sys

import cv2
import torch

from src.checkpoint import CheckpointError, load_model
from src.dataset import DataError, read_image
from src.detector import Detector, dets_to_json
from src.device import SetupError, init_device
from src.fileio import write_bytes_atomic, write_json_atomic

LM_COLORS = [(0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 0, 0)]


def draw(img, dets):
    out = img.copy()
    for d in dets:
        x1, y1, x2, y2 = [int(round(v)) for v in d[:4]]
        cv2.rectangle(out, (x1, y1), (x2, y2), (0, 255, 0), 2)
        cv2.putText(out, f"{d[4]:.2f}", (x1, max(0, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
        for k in range(5):
            cv2.circle(out, (int(round(d[5 + 2 * k])), int(round(d[6 + 2 * k]))), 2, LM_COLORS[k], -1)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--output", help="annotated image")
    p.add_argument("--json", help="detections as json")
    p.add_argument("--score_threshold", type=float, default=0.35)
    p.add_argument("--nms", type=float, help="box NMS IoU (default: 0.3 for the official convention, none else)")
    p.add_argument("--resize", choices=["letterbox", "ceil32"], help="default: the checkpoint's")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--jit", action="store_true", help="cpu: TorchScript freeze + oneDNN (faster; deprecated API)")
    a = p.parse_args(argv)
    try:
        img = read_image(a.image)
        dev, _ = init_device(a.device)
        model, cfg = load_model(a.checkpoint, dev)
        with torch.no_grad():
            dets = Detector(model, cfg, dev, resize=a.resize, jit=a.jit).detect(img, a.score_threshold, a.nms)
    except (DataError, CheckpointError, SetupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.output:
        try:
            ok, buf = cv2.imencode(os.path.splitext(a.output)[1] or ".jpg", draw(img, dets))
        except cv2.error:
            ok = False
        if not ok:
            print(f"error: {a.output}: cannot encode an image with this extension (use .jpg or .png)", file=sys.stderr)
            return 2
        try:
            write_bytes_atomic(a.output, buf.tobytes())
        except OSError as e:
            print(f"error: {a.output}: cannot write ({e.strerror or e})", file=sys.stderr)
            return 2
    if a.json:
        try:
            write_json_atomic(a.json, dets_to_json(dets), indent=1)
        except OSError as e:
            print(f"error: {a.json}: cannot write ({e.strerror or e})", file=sys.stderr)
            return 2
    print(f"{len(dets)} faces" + "".join(f"\n  [{d[0]:.1f}, {d[1]:.1f}, {d[2]:.1f}, {d[3]:.1f}] {d[4]:.3f}"
                                         for d in dets))
    return 0


if __name__ == "__main__":
    sys.exit(main())

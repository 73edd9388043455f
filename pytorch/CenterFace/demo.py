"""Detects faces in one image and draws boxes and the five landmarks.

    python demo.py --image IMG --checkpoint CKPT --output OUT.jpg --json OUT.json [--score_threshold 0.35]

The JSON is a list of {"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x 5]} in image pixels.
Pre-processing, decode and the defaults of --score_threshold / --nms are the checkpoint's (see src/config.py).
"""
import argparse
import os
import sys

import cv2

from src.config import CHOICES, ArgumentParser
from src.device import init_device
from src.errors import ConfigError, run_cli
from src.fileio import write_bytes_atomic, write_json_atomic
from src.image_io import read_image
from src.inference import Predictor, dets_to_json

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


def check_writable_format(path):
    if not cv2.haveImageWriter(path):
        raise ConfigError(f"--output {path}: OpenCV cannot write an image with this extension (use .jpg or .png)")


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True)
    p.add_argument("--checkpoint", required=True, help="checkpoint, or a training output folder (its latest)")
    p.add_argument("--output", help="annotated image")
    p.add_argument("--json", help="detections as json")
    p.add_argument("--score_threshold", type=float, help="default: the checkpoint's (0.35)")
    p.add_argument("--nms", type=float, help="box NMS IoU (default: the checkpoint's: 0.3 official, none else)")
    p.add_argument("--resize", choices=CHOICES["test_resize"], help="default: the checkpoint's")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--jit", action="store_true", help="cpu: TorchScript freeze + oneDNN (faster; deprecated API)")
    a = p.parse_args(argv)
    img = read_image(a.image)
    if a.output:
        check_writable_format(a.output)  # before the work, not after it
    dev, _ = init_device(a.device)
    changes = {k: v for k, v in (("score_threshold", a.score_threshold), ("nms", a.nms), ("test_resize", a.resize))
               if v is not None}
    dets = Predictor.from_checkpoint(a.checkpoint, dev, jit=a.jit, **changes).detect(img)
    if a.output:
        ok, buf = cv2.imencode(os.path.splitext(a.output)[1], draw(img, dets))
        if not ok:
            raise ConfigError(f"--output {a.output}: OpenCV could not encode the image")
        write_bytes_atomic(a.output, buf.tobytes())
    if a.json:
        write_json_atomic(a.json, dets_to_json(dets))
    print(f"{len(dets)} faces" + "".join(f"\n  [{d[0]:.1f}, {d[1]:.1f}, {d[2]:.1f}, {d[3]:.1f}] {d[4]:.3f}"
                                         for d in dets))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "demo.py"))

"""Detect faces in one image and draw them.

    python demo.py --image IMG --checkpoint CKPT --output OUT.jpg --json OUT.json [--score_threshold 0.5]
                   [--device cpu|gpu|npu]

CKPT is a checkpoint prefix or run folder (train.py output, or tools/convert_official.py output), or a frozen
``model.pb`` from export.py. The JSON is a list of {"box": [x1, y1, x2, y2], "score": s} in image pixels, by
descending score; detections below --score_threshold (default 0.5, the reference face_detector.py's) are left out.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import ConfigError, UserError, run_cli  # noqa: E402


def draw(bgr, dets, path):
    """The image with the detections drawn, written atomically (the format follows the extension)."""
    import cv2

    from src.fileio import atomic_path

    img = bgr.copy()
    for x1, y1, x2, y2, s in dets:
        cv2.rectangle(img, (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2))), (0, 255, 0), 2)
        cv2.putText(img, "%.2f" % s, (int(x1), max(int(y1) - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".jpg", ".jpeg", ".png", ".bmp"):
        raise ConfigError("--output %s: use a .jpg, .png or .bmp file name" % path)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(tmp, img):
            raise UserError("%s: OpenCV could not write the image" % path)


def main(argv=None):
    from src.config import DISPLAY_SCORE_THRESHOLD

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default=None)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--output", default=None, help="image with the detections drawn")
    p.add_argument("--json", default=None, help="detections as JSON")
    p.add_argument("--score_threshold", type=float, default=DISPLAY_SCORE_THRESHOLD)
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    args = p.parse_args(argv)
    if not args.image or not args.checkpoint:
        raise ConfigError("--image and --checkpoint are required")

    from src.fileio import write_json_atomic
    from src.image_io import read_image

    bgr = read_image(args.image, "bgr")   # before TensorFlow is imported: a bad image is reported at once
    from src.inference import Predictor

    dets = Predictor(args.checkpoint, score_threshold=args.score_threshold, device=args.device)(bgr)
    result = [{"box": [round(float(v), 2) for v in d[:4]], "score": round(float(d[4]), 5)} for d in dets]
    if args.output:
        draw(bgr, dets, args.output)
    if args.json:
        write_json_atomic(args.json, result)
    print("%d face(s) in %s" % (len(result), args.image))
    for r in result:
        print("  box %s score %.4f" % (r["box"], r["score"]))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "demo.py"))

"""Detect faces in one image and draw them.

    python demo.py --image IMG --checkpoint CKPT --output OUT.jpg --json OUT.json [--score_threshold 0.5]
                   [--device cpu|gpu|npu]

CKPT is a checkpoint prefix or directory (train.py output, or tools/convert_official.py output), or a frozen
``model.pb`` from export.py. The JSON is a list of {"box": [x1, y1, x2, y2], "score": s} in image pixels.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def detect(image_path, checkpoint, score_threshold, device="cpu"):
    import numpy as np

    from src.inference import Predictor, read_rgb

    rgb = read_rgb(image_path)
    if checkpoint.endswith(".pb"):
        from src.face_detector import FaceDetector

        boxes, scores = FaceDetector(checkpoint)(rgb, score_threshold=0.0)
        dets = np.concatenate([boxes[:, [1, 0, 3, 2]], scores[:, None]], axis=1) if len(scores) else np.zeros((0, 5))
    else:
        dets = Predictor(checkpoint, device=device)(rgb)
    return rgb, dets[dets[:, 4] >= score_threshold]


def draw(rgb, dets, path):
    import cv2

    from src.io_utils import write_image_atomic

    img = rgb[:, :, ::-1].copy()
    for x1, y1, x2, y2, s in dets:
        cv2.rectangle(img, (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2))), (0, 255, 0), 2)
        cv2.putText(img, "%.2f" % s, (int(x1), max(int(y1) - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
    write_image_atomic(path, img)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--output", default=None, help="image with the detections drawn")
    p.add_argument("--json", default=None, help="detections as JSON")
    p.add_argument("--score_threshold", type=float, default=0.5)
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    args = p.parse_args(argv)
    try:
        from src.checkpoint_utils import CheckpointError
        from src.device import DeviceError

        rgb, dets = detect(args.image, args.checkpoint, args.score_threshold, args.device)
        result = [{"box": [round(float(v), 2) for v in d[:4]], "score": round(float(d[4]), 5)} for d in dets]
        if args.output:
            draw(rgb, dets, args.output)
        if args.json:
            from src.io_utils import write_json_atomic

            write_json_atomic(args.json, result, indent=1)
    except (ValueError, OSError, CheckpointError, DeviceError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    print("%d face(s) in %s" % (len(result), args.image))
    for r in result:
        print("  box %s score %.4f" % (r["box"], r["score"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

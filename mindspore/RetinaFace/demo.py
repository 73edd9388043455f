"""Detect faces (boxes + 5 landmarks) in one image and draw them.

    python demo.py --image photo.jpg --checkpoint retinaface_mnet025.ckpt --output out.jpg --json out.json

The image is run at its own size (resize 1, as the reference ``detect.py``/``test.py``); raw detections use
confidence 0.02, top-k 5000, NMS 0.4, keep-top-k 750, and those with score >= ``--score_threshold`` are drawn and
written to the JSON as ``[{"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x 5]}]`` (original pixels).
"""
import argparse
import json
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import run_cli  # noqa: E402

_LM_COLORS = [(0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 0, 0)]


def draw(image, dets):
    import cv2
    out = image.copy()
    for d in dets:
        x1, y1, x2, y2 = (int(round(v)) for v in d[:4])
        cv2.rectangle(out, (x1, y1), (x2, y2), (0, 0, 255), 2)
        cv2.putText(out, f"{d[4]:.4f}", (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_DUPLEX, 0.5, (255, 255, 255))
        for k in range(5):
            cv2.circle(out, (int(round(d[5 + 2 * k])), int(round(d[6 + 2 * k]))), 2, _LM_COLORS[k], 3)
    return out


def to_json(dets):
    return [{"box": [round(float(v), 2) for v in d[:4]], "score": round(float(d[4]), 5),
             "landmarks": [[round(float(d[5 + 2 * k]), 2), round(float(d[6 + 2 * k]), 2)] for k in range(5)]}
            for d in dets]


def main(argv=None):
    p = argparse.ArgumentParser(description="RetinaFace demo: draw boxes and landmarks")
    p.add_argument("--image", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--output", default=None, help="image with the detections drawn")
    p.add_argument("--json", default=None, help="detections as JSON")
    p.add_argument("--score_threshold", type=float, default=0.5)
    p.add_argument("--nms_threshold", type=float, default=0.4)
    p.add_argument("--device", default="cpu", help="cpu, gpu or npu")
    args = p.parse_args(argv)

    import cv2
    from src.dataset import read_image
    from src.device import set_context
    from src.inference import Detector, load_model

    if args.output and not cv2.haveImageWriter(args.output):
        raise ValueError(f"{args.output}: OpenCV cannot write this image format (use .jpg or .png)")
    image = read_image(args.image)
    set_context(args.device)
    net, cfg = load_model(args.checkpoint)
    det = Detector(net, cfg, mode="native", confidence_threshold=0.02, nms_threshold=args.nms_threshold,
                   top_k=5000, keep_top_k=750)
    dets = det(image)
    dets = dets[dets[:, 4] >= args.score_threshold]
    for d in dets:
        print(f"face {d[4]:.4f} box [{d[0]:.1f}, {d[1]:.1f}, {d[2]:.1f}, {d[3]:.1f}]")
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        if not cv2.imwrite(args.output, draw(image, dets)):
            raise ValueError(f"{args.output}: cannot write the image")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = f"{args.json}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(to_json(dets), f, indent=1)
        os.replace(tmp, args.json)
    print(f"{len(dets)} face(s) with score >= {args.score_threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "demo.py"))

"""Detect faces (boxes + 5 landmarks) in one image and draw them.

    python demo.py --image photo.jpg --checkpoint retinaface_mnet025.ckpt --output out.jpg --json out.json

The image is run at its own size (resize 1, as the PyTorch original's ``detect.py``); raw detections use
confidence 0.02, top-k 5000, NMS 0.4, keep-top-k 750 (``detect_*`` in ``src/config.py``), and those with score >=
``--score_threshold`` (0.5) are drawn and written to the JSON as
``[{"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x 5]}]`` in original-image pixels.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import DataError, run_cli  # noqa: E402  (src first: sets the oneDNN ISA)

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
    p.add_argument("--score_threshold", type=float, default=None, help="drawn / written from this score (0.5)")
    p.add_argument("--nms_threshold", type=float, default=None, help="default 0.4")
    p.add_argument("--device", default="cpu", help="cpu, gpu or npu")
    args = p.parse_args(argv)

    import cv2
    from src.device import set_context
    from src.fileio import atomic_path, write_json_atomic
    from src.image_io import read_image
    from src.inference import Predictor, load_model

    if args.output and not cv2.haveImageWriter(args.output):
        raise DataError(f"{args.output}: OpenCV cannot write this image format (use .jpg or .png)")
    image = read_image(args.image)
    set_context(args.device)
    net, cfg = load_model(args.checkpoint)
    score_threshold = cfg["detect_score_threshold"] if args.score_threshold is None else args.score_threshold
    predictor = Predictor(net, cfg, mode="native", confidence_threshold=cfg["detect_confidence_threshold"],
                          nms_threshold=cfg["detect_nms_threshold"] if args.nms_threshold is None
                          else args.nms_threshold,
                          top_k=cfg["detect_top_k"], keep_top_k=cfg["detect_keep_top_k"])
    dets = predictor(image)
    dets = dets[dets[:, 4] >= score_threshold]
    for d in dets:
        print(f"face {d[4]:.4f} box [{d[0]:.1f}, {d[1]:.1f}, {d[2]:.1f}, {d[3]:.1f}]")
    if args.output:
        with atomic_path(args.output) as tmp:
            if not cv2.imwrite(tmp, draw(image, dets)):
                raise DataError(f"{args.output}: cannot write the image")
    if args.json:
        write_json_atomic(args.json, to_json(dets))
    print(f"{len(dets)} face(s) with score >= {score_threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "demo.py"))

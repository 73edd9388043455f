"""Detect objects (faces, with the face configuration) in one image: the image with its boxes drawn, and JSON.

    python demo.py --image IMG --checkpoint CKPT --output OUT.jpg --json OUT.json [--score_threshold 0.5] \\
        [--device cpu|gpu|npu]

The checkpoint carries its configuration (a checkpoint of the official code: convert it first with
tools/convert_official.py). The image goes through the reference's evaluation preprocessing and network; every
detection eval.py keeps (at most ``num_gts`` = 128 per image) with a score >= ``--score_threshold`` is written, in
original-image pixels: a JSON list of ``{"box": [x1, y1, x2, y2], "score": s}``, with ``"label"`` (the class name)
for configurations of more than one class.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import src  # noqa: E402,F401  (caps oneDNN at AVX2 before MindSpore loads)
from src.errors import run_cli  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Faster R-CNN demo: one image in, drawn image and JSON out")
    p.add_argument("--image", required=True, help="input image")
    p.add_argument("--checkpoint", required=True, help="checkpoint of this folder (train.py, convert_official.py)")
    p.add_argument("--output", default=None, help="drawn image (default: <image>_det.jpg)")
    p.add_argument("--json", default=None, help="detections (default: <image>_det.json)")
    p.add_argument("--score_threshold", type=float, default=0.5, help="keep detections with score >= this")
    p.add_argument("--device", default="cpu", help="cpu, gpu or npu (CPU, GPU, Ascend)")
    return p.parse_args(argv)


def detections_json(result, class_names, threshold):
    """The contract's JSON list (``label`` only for more than one class). The box decoder clips each coordinate to
    the canvas on its own, so a box beyond the canvas edge can come out inverted: it is written with zero width /
    height (``x2 = max(x2, x1)``)."""
    out = []
    for box, score, label in zip(result["boxes"], result["scores"], result["labels"]):
        if score < threshold:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        box = [x1, y1, max(x2, x1), max(y2, y1)]
        item = {"box": [round(v, 2) for v in box], "score": round(float(score), 5)}
        if len(class_names) > 1:
            item["label"] = class_names[int(label)]
        out.append(item)
    return out


def draw(image, items):
    import cv2
    img = image.copy()
    for it in items:
        x1, y1, x2, y2 = (int(round(v)) for v in it["box"])
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0), 2)
        text = f"{it.get('label', '')} {it['score']:.2f}".strip()
        cv2.putText(img, text, (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 0), 1, cv2.LINE_AA)
    return img


def main(argv=None):
    import cv2
    from src.device import set_context
    from src.errors import DataError
    from src.fileio import atomic_file, write_json_atomic
    from src.image_io import read_image
    from src.inference import Predictor
    args = parse_args(argv)
    stem = os.path.splitext(args.image)[0]
    out_img = args.output or stem + "_det.jpg"
    out_json = args.json or stem + "_det.json"
    image = read_image(args.image)
    set_context(args.device)
    predictor = Predictor(args.checkpoint, batch_size=1)
    items = detections_json(predictor(image), predictor.class_names, args.score_threshold)
    ok, buf = cv2.imencode(os.path.splitext(out_img)[1] or ".jpg", draw(image, items))
    if not ok:
        raise DataError(f"{out_img}: cannot encode the drawn image in this format")
    with atomic_file(out_img) as f:
        f.write(buf.tobytes())
    write_json_atomic(out_json, items)
    print(f"{len(items)} detections (score >= {args.score_threshold}) -> {out_img}, {out_json}")
    print(json.dumps(items[:5]) + (" ..." if len(items) > 5 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "demo.py"))

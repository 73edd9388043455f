"""S3FD on one image: the drawn image and the detections as JSON (the reference demo.py's protocol).

    python demo.py --image IMG --checkpoint CKPT --output OUT.jpg --json OUT.json [--score_threshold 0.6]
                   [--device cpu|gpu|npu] [--protocol demo|native|wider|single]

Protocol ``demo`` (default) is the reference demo.py: the image is resized by ``sqrt(1700 * 1200 / (H * W))``
(enlarged when smaller), boxes are scaled back by the original width and height, and rows scoring >= 0.6 are kept;
boxes are drawn in red, 2 px. The JSON is a list of ``{"box": [x1, y1, x2, y2], "score": s}`` in original-image
pixels, best first. Unlike the reference, a threshold low enough to keep all 750 boxes, and an image with no
candidate at all, work.
"""
import argparse
import json
import os
import sys

from src.errors import UserError, run_cli


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", help="input image")
    p.add_argument("--checkpoint", "--model", dest="checkpoint", help="checkpoint of this folder")
    p.add_argument("--output", help="drawn image to write")
    p.add_argument("--json", help="detections to write as JSON")
    p.add_argument("--score_threshold", "--thresh", dest="score_threshold", type=float,
                   help="keep scores >= this (default 0.6, the reference demo.py's)")
    p.add_argument("--protocol", default="demo", choices=("demo", "native", "wider", "single"))
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu", "npu"))
    p.add_argument("--device_id", type=int, default=0)
    return p


def draw(image, dets):
    import cv2
    out = image.copy()
    for x1, y1, x2, y2, _ in dets:
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), (0, 0, 255), 2)
    return out


def main(argv=None):
    a = build_parser().parse_args(argv)
    if not a.image or not a.checkpoint:
        raise UserError("--image IMG and --checkpoint CKPT are required")
    import cv2

    from src.device import select_device
    from src.fileio import atomic_path, write_json_atomic
    from src.image_io import read_image
    from src.inference import Predictor

    image = read_image(a.image, "bgr")
    predictor = Predictor.from_checkpoint(a.checkpoint, select_device(a.device, a.device_id))
    dets = predictor(image, a.protocol, thresh=a.score_threshold)
    records = [{"box": [round(float(v), 2) for v in d[:4]], "score": round(float(d[4]), 5)} for d in dets]
    if a.output:
        with atomic_path(a.output) as tmp:
            try:
                written = cv2.imwrite(tmp, draw(image, dets))
            except cv2.error:
                written = False
            if not written:
                raise UserError(f"{a.output}: cannot write an image of this type (use .jpg or .png)")
    if a.json:
        write_json_atomic(a.json, records)
    print(f"{a.image}: {len(records)} face(s)" + "".join(f"\n  {json.dumps(r)}" for r in records[:10]) +
          (f"\n  ... {len(records) - 10} more" if len(records) > 10 else ""))
    for path in (a.output, a.json):
        if path:
            print(f"wrote {os.path.abspath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "demo.py"))

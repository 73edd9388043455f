"""Evaluate RetinaFace on WIDER FACE val with the MindSpore reference protocol.

    python eval.py --data_path=/data/widerface --checkpoint=RetinaFace-100_536.ckpt --device_target=GPU

Protocol (``official/cv/RetinaFace_ResNet50/eval.py``): short side to 1600, long side capped at 2176, pasted on a fixed
2176x2176 mean canvas; score > 0.02, sort, greedy NMS 0.4 (+1-pixel areas); boxes truncated to integers as the
reference does. ``--val_origin_size`` is the research variant (resize 1, canvas = the val set's max size rounded
up). Predictions are written as ``<pred_dir>/<event>/<name>.txt`` and scored with ``widerface_eval`` (easy / medium /
hard AP). ``--data_path`` holds ``val/label.txt``, ``val/images/`` and ``ground_truth/wider_*_val.mat``.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from src.errors import run_cli  # noqa: E402


def parse_args(argv=None):
    from src.config import cfg_res50 as cfg         # the protocol's values live in the config (no MindSpore import)
    p = argparse.ArgumentParser(description="Evaluate RetinaFace on WIDER FACE val")
    p.add_argument("--data_path", default=None, help="root with val/label.txt, val/images/, ground_truth/")
    p.add_argument("--checkpoint", "--val_model", dest="checkpoint", default=None,
                   help="checkpoint of train.py or tools/convert_official.py")
    p.add_argument("--device_target", default="GPU", help="CPU, GPU or Ascend")
    p.add_argument("--gt_dir", default=None, help="default <data_path>/ground_truth")
    p.add_argument("--pred_dir", default=cfg["val_predict_save_folder"], help="prediction folder to write")
    p.add_argument("--val_origin_size", action="store_true", help="research variant: original size, resize 1")
    p.add_argument("--target_size", type=int, default=cfg["val_target_size"], help="short side (default 1600)")
    p.add_argument("--max_size", type=int, default=cfg["val_max_size"],
                   help="long-side cap and canvas size (default 2176)")
    p.add_argument("--confidence_threshold", type=float, default=cfg["val_confidence_threshold"])
    p.add_argument("--nms_threshold", type=float, default=cfg["val_nms_threshold"])
    p.add_argument("--iou_threshold", type=float, default=cfg["val_iou_threshold"])
    p.add_argument("--max_images", type=int, default=0, help="evaluate only the first N images (0 = all)")
    p.add_argument("--json", default=None, help="write {'ap': {...}, 'images': n, 'sec_per_image': s} here")
    p.add_argument("--no_eval", action="store_true", help="only write the prediction folder")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.data_path:
        raise ValueError("--data_path is required (root with val/label.txt, val/images/, ground_truth/)")
    if not args.checkpoint:
        raise ValueError("--checkpoint is required")
    label = os.path.join(args.data_path, "val", "label.txt")
    gt_dir = args.gt_dir or os.path.join(args.data_path, "ground_truth")
    if not args.no_eval and not os.path.isfile(os.path.join(gt_dir, "wider_face_val.mat")):
        raise FileNotFoundError(f"{gt_dir}: no wider_face_val.mat (pass --gt_dir)")

    from tqdm import tqdm
    from src.dataset import parse_label_entries, read_image
    from src.device import set_context
    from src.inference import Detector, load_model, origin_canvas

    entries = parse_label_entries(label)
    if args.max_images:
        entries = entries[:args.max_images]
    if not entries:
        raise ValueError(f"{label}: no images")
    images_root = os.path.join(args.data_path, "val", "images")

    set_context(args.device_target)
    net, cfg = load_model(args.checkpoint)
    if args.val_origin_size:
        from PIL import Image, UnidentifiedImageError
        from src.dataset import ImageReadError
        sizes = []
        for path, _ in entries:
            try:
                with Image.open(path) as im:
                    sizes.append((im.height, im.width))
            except FileNotFoundError:
                raise ImageReadError(f"{path}: image file not found") from None
            except (UnidentifiedImageError, OSError):
                raise ImageReadError(f"{path}: cannot decode image (corrupt or not an image)") from None
        det = Detector(net, cfg, mode="origin", canvas_hw=origin_canvas(sizes),
                       confidence_threshold=args.confidence_threshold, nms_threshold=args.nms_threshold)
    else:
        det = Detector(net, cfg, mode="canvas", target_size=args.target_size, max_size=args.max_size,
                       confidence_threshold=args.confidence_threshold, nms_threshold=args.nms_threshold)

    import widerface_eval
    # widerface_eval.PredictionFolder writes <pred_dir>.partial/ and swaps it in only when every image is done:
    # files of an earlier run (other images, another checkpoint) never leak into this run's AP
    pred_dir = os.path.abspath(args.pred_dir)
    t0 = time.time()
    with widerface_eval.PredictionFolder(pred_dir) as folder:
        for path, _ in tqdm(entries, desc="eval", unit="img", file=sys.stdout, mininterval=5):
            rel = os.path.relpath(path, images_root).replace(os.sep, "/")
            dets = det(read_image(path))
            boxes = dets[:, :5].astype(np.float64)
            # the reference writes int(x1), int(y1), int(x2) - int(x1), int(y2) - int(y1)
            boxes[:, :4] = np.trunc(boxes[:, :4])
            folder.write(rel, boxes)
    sec = (time.time() - t0) / len(entries)
    print(f"wrote {len(entries)} prediction files to {args.pred_dir} ({sec:.3f} s/image)", flush=True)
    result = {"images": len(entries), "sec_per_image": sec, "ap": None}
    if not args.no_eval:
        res = widerface_eval.evaluate(pred_dir, gt_dir, iou_thresh=args.iou_threshold)
        aps = {k: float(v) for k, v in res.aps.items()}
        print(f"Easy   Val AP : {aps['easy']:.4f}")
        print(f"Medium Val AP : {aps['medium']:.4f}")
        print(f"Hard   Val AP : {aps['hard']:.4f}")
        result["ap"] = aps
    if args.json:
        tmp = f"{args.json}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "eval.py"))

"""WIDER FACE val inference + evaluation (the reference's test_wider_face.py + evaluate/evaluation.py).

    python eval.py --checkpoint CKPT --data_path DATA [--output_path OUT] [--iou 0.5 | --reference_iou]

Writes OUT/predictions/<event>/<name>.txt (name line, the TRUE count line, "x y w h score" lines; the reference
writes 1 as the count) for every image of DATA/ground_truth/wider_face_val.mat, then prints the easy / medium /
hard AP of widerface_eval at IoU 0.5 (--reference_iou: 0.4 as the reference's evaluation.py, to compare with its
published numbers) and writes OUT/wider_ap.json.
Pre-processing and decode follow the checkpoint's configuration: chenjun2hao = 800x800 letterbox, top-200 peaks,
no threshold; official = the "ceil to /32" resize of the original image (SIO), threshold 0.05, NMS 0.3.
"""
import argparse
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from src.checkpoint import CheckpointError, load_model
from src.dataset import DataError, read_image
from src.detector import DEFAULTS, Detector
from src.device import SetupError, init_device
from src.fileio import os_error_line, write_json_atomic


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data_path", help="WIDER FACE root with WIDER_val/images and ground_truth/ (required)")
    p.add_argument("--gt", help="folder with wider_{face,easy,medium,hard}_val.mat (default DATA/ground_truth)")
    p.add_argument("--output_path", default="outputs/eval", help="prediction folder parent and wider_ap.json")
    p.add_argument("--resize", choices=["letterbox", "ceil32"], help="default: the checkpoint's")
    p.add_argument("--input_size", type=int, help="letterbox size (default: the checkpoint's, 800)")
    p.add_argument("--threshold", type=float, help="score threshold (default per convention: 0 / 0.05)")
    p.add_argument("--nms", type=float, help="box NMS IoU (default per convention: none / 0.3)")
    p.add_argument("--top_k", type=int, default=200)
    p.add_argument("--iou", type=float, default=0.5, help="evaluation IoU threshold (official 0.5)")
    p.add_argument("--reference_iou", action="store_true",
                   help="evaluate at IoU 0.4 like the reference's evaluation.py (not the official protocol)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--jit", action="store_true", help="cpu: TorchScript freeze + oneDNN (faster; deprecated API)")
    p.add_argument("--max_images", type=int, default=0, help="only the first N images (smoke tests)")
    a = p.parse_args(argv)
    if not a.data_path:
        p.error("--data_path is required")
    return a


def run(args):
    try:
        import widerface_eval as we
    except ImportError:
        raise SetupError("the WIDER FACE evaluator is not installed: pip install -e ../../common/widerface_eval") \
            from None
    dev, _ = init_device(args.device)
    model, cfg = load_model(args.checkpoint, dev)
    gt_dir = args.gt or os.path.join(args.data_path, "ground_truth")
    try:
        gt = we.load_ground_truth(gt_dir)
    except (OSError, we.WiderFormatError) as e:
        raise DataError(f"{gt_dir}: cannot load the WIDER val ground truth ({e})") from None
    img_root = os.path.join(args.data_path, "WIDER_val", "images")
    if not os.path.isdir(img_root):
        raise DataError(f"{img_root}: WIDER val image folder not found")
    det = Detector(model, cfg, dev, resize=args.resize, input_size=args.input_size, jit=args.jit)
    d = DEFAULTS[cfg["convention"]]
    thr = d["eval_threshold"] if args.threshold is None else args.threshold
    nms = d["eval_nms"] if args.nms is None else args.nms
    pred_dir = os.path.join(args.output_path, "predictions")
    items = [(ev, stem) for ev, files in zip(gt.events, gt.files) for stem in files]
    if args.max_images:
        items = items[:args.max_images]
    # a fresh folder that replaces OUT/predictions only when every image is done: files of an earlier run
    # (another checkpoint, more images) never count in this evaluation
    with we.PredictionFolder(pred_dir) as folder:
        for ev, stem in tqdm(items, desc="WIDER val"):
            rel = f"{ev}/{stem}.jpg"
            img = read_image(os.path.join(img_root, rel))
            dets = det.detect(img, threshold=thr, nms=nms, top_k=args.top_k, use_default_nms=False)
            try:
                folder.write(rel, dets[:, :5] if len(dets) else np.zeros((0, 5), np.float32))
            except ValueError as e:  # NaN / inf detections: a diverged checkpoint
                raise CheckpointError(f"{args.checkpoint}: {e}") from None
    iou = 0.4 if args.reference_iou else args.iou
    res = we.evaluate(pred_dir, gt_dir, iou_thresh=iou)
    aps = {k: float(res.aps[k]) for k in ("easy", "medium", "hard")}
    print("==================== Results ====================")
    for k in ("easy", "medium", "hard"):
        print(f"{k.capitalize():<6} Val AP: {aps[k]}")
    print("=================================================")
    out = {"ap": aps, "iou": iou, "images": len(items), "checkpoint": os.path.abspath(args.checkpoint),
           "variant": cfg["variant"], "resize": det.resize, "input_size": det.input_size, "threshold": thr,
           "nms": nms, "top_k": args.top_k}
    write_json_atomic(os.path.join(args.output_path, "wider_ap.json"), out, indent=1)
    return out


def main(argv=None):
    args = parse_args(argv)
    try:
        with torch.no_grad():
            run(args)
    except (DataError, CheckpointError, SetupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {os_error_line(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

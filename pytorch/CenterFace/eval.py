"""WIDER FACE val inference + evaluation (the reference's test_wider_face.py + evaluate/evaluation.py).

    python eval.py --checkpoint CKPT --data_path DATA [--output_path OUT] [--iou 0.5 | --reference_iou]

CKPT is a checkpoint, or a training output folder (its latest centerface_step<N>.pth). Writes
OUT/predictions/<event>/<name>.txt (name line, the TRUE count line, "x y w h score" lines; the reference writes 1 as
the count) for every image of DATA/ground_truth/wider_face_val.mat, then prints the easy / medium / hard AP of
widerface_eval at IoU 0.5 (--reference_iou: 0.4 as the reference's evaluation.py, to compare with its published
numbers) and writes OUT/eval_result.json (APs, PR curves and the settings of this evaluation).
Pre-processing and decode follow the checkpoint's configuration: chenjun2hao = 800x800 letterbox, top-200 peaks,
no threshold; official = the "ceil to /32" resize of the original image, threshold 0.05, NMS 0.3.
"""
import argparse
import os
import sys

import numpy as np
from tqdm import tqdm

from src.config import CHOICES, ArgumentParser
from src.device import init_device
from src.errors import CheckpointError, ConfigError, DataError, run_cli
from src.image_io import read_image
from src.inference import Predictor

REFERENCE_IOU = 0.4


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint, or a training output folder (its latest)")
    p.add_argument("--data_path", help="WIDER FACE root with WIDER_val/images and ground_truth/ (required)")
    p.add_argument("--gt", help="folder with wider_{face,easy,medium,hard}_val.mat (default DATA/ground_truth)")
    p.add_argument("--output_path", default="outputs/eval", help="folder of predictions/ and eval_result.json")
    p.add_argument("--resize", choices=CHOICES["test_resize"], help="default: the checkpoint's")
    p.add_argument("--input_size", type=int, help="letterbox size (default: the checkpoint's)")
    p.add_argument("--threshold", type=float, help="score threshold (default: the checkpoint's eval_threshold)")
    p.add_argument("--nms", type=float, help="box NMS IoU (default: the checkpoint's, none for chenjun2hao)")
    p.add_argument("--top_k", type=int, help="peaks per image (default: the checkpoint's, 200)")
    p.add_argument("--iou", type=float, default=0.5, help="evaluation IoU threshold (official 0.5)")
    p.add_argument("--reference_iou", action="store_true",
                   help=f"evaluate at IoU {REFERENCE_IOU} like the reference's evaluation.py (not the official "
                        "protocol)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--jit", action="store_true", help="cpu: TorchScript freeze + oneDNN (faster; deprecated API)")
    p.add_argument("--max_images", type=int, default=0, help="only the first N images (smoke tests)")
    a = p.parse_args(argv)
    if not a.data_path:
        p.error("--data_path is required")
    return a


def main(argv=None):
    args = parse_args(argv)
    try:
        import widerface_eval as we
    except ImportError:
        raise ConfigError("the WIDER FACE evaluator is not installed: pip install -e ../../common/widerface_eval") \
            from None
    gt_dir = args.gt or os.path.join(args.data_path, "ground_truth")
    try:
        gt = we.load_ground_truth(gt_dir)
    except (OSError, we.WiderFormatError) as e:
        raise DataError(f"{gt_dir}: cannot load the WIDER val ground truth ({e})") from None
    img_root = os.path.join(args.data_path, "WIDER_val", "images")
    if not os.path.isdir(img_root):
        raise DataError(f"{img_root}: WIDER val image folder not found")
    dev, _ = init_device(args.device)
    changes = {k: v for k, v in (("test_resize", args.resize), ("input_size", args.input_size),
                                 ("eval_threshold", args.threshold), ("nms", args.nms), ("top_k", args.top_k))
               if v is not None}
    pred = Predictor.from_checkpoint(args.checkpoint, dev, purpose="eval", jit=args.jit, **changes)
    items = [(ev, stem) for ev, files in zip(gt.events, gt.files) for stem in files]
    if args.max_images:
        items = items[:args.max_images]
    # a fresh folder that replaces OUT/predictions only when every image is done: files of an earlier run
    # (another checkpoint, more images) never count in this evaluation
    with we.PredictionFolder(os.path.join(args.output_path, "predictions")) as folder:
        for ev, stem in tqdm(items, desc="WIDER val"):
            rel = f"{ev}/{stem}.jpg"
            dets = pred.detect(read_image(os.path.join(img_root, rel)))
            try:
                folder.write(rel, dets[:, :5] if len(dets) else np.zeros((0, 5), np.float32))
            except ValueError as e:  # NaN / inf detections: a diverged checkpoint
                raise CheckpointError(f"{args.checkpoint}: {e}") from None
    iou = REFERENCE_IOU if args.reference_iou else args.iou
    res = we.evaluate(os.path.join(args.output_path, "predictions"), gt_dir, iou_thresh=iou, gt=gt)
    print("==================== Results ====================")
    print(res.summary())
    print("=================================================")
    c = pred.cfg
    we.write_json(res, os.path.join(args.output_path, "eval_result.json"), extra={
        "checkpoint": os.path.abspath(args.checkpoint), "variant": c.variant, "resize": c.test_resize,
        "input_size": c.input_size, "threshold": c.eval_threshold, "nms": c.nms, "top_k": c.top_k,
        "images": len(items)})
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "eval.py"))

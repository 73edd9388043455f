"""Evaluate RetinaFace on WIDER FACE val with the MindSpore reference protocol.

    python eval.py --data_path=/data/widerface --checkpoint=retinaface_step40200.ckpt --device_target=GPU \\
        --output_path=eval_out          # eval_out/eval_result.json, eval_out/predictions/<event>/<name>.txt

Protocol (``official/cv/RetinaFace_ResNet50/eval.py``): short side to 1600, long side capped at 2176, pasted on a fixed
2176x2176 mean canvas; score > 0.02, sort, greedy NMS 0.4 (+1-pixel areas); boxes truncated to integers as the
reference does. ``--val_origin_size`` is the research variant (resize 1, canvas = the val set's max size rounded
up). The prediction folder is scored with ``widerface_eval`` (easy / medium / hard AP); the APs and PR curves go to
``eval_result.json``. ``--data_path`` holds ``val/label.txt``, ``val/images/`` and ``ground_truth/wider_*_val.mat``.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.config import cfg_res50 as protocol  # noqa: E402  (src first: sets the oneDNN ISA; no MindSpore import)
from src.errors import DataError, run_cli  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Evaluate RetinaFace on WIDER FACE val")
    p.add_argument("--data_path", default=None, help="root with val/label.txt, val/images/, ground_truth/")
    p.add_argument("--checkpoint", "--val_model", dest="checkpoint", default=None,
                   help="checkpoint of train.py or tools/convert_official.py")
    p.add_argument("--device_target", "--device", dest="device_target", default="GPU",
                   help="CPU, GPU or Ascend (cpu / gpu / npu accepted); default GPU as the reference")
    p.add_argument("--device_id", type=int, default=None, help="default $DEVICE_ID or 0")
    p.add_argument("--gt_dir", default=None, help="default <data_path>/ground_truth")
    p.add_argument("--output_path", default="widerface_result",
                   help="gets eval_result.json and predictions/ (replaced only when complete)")
    p.add_argument("--val_origin_size", action="store_true", help="research variant: original size, resize 1")
    p.add_argument("--target_size", type=int, default=protocol["val_target_size"], help="short side (default 1600)")
    p.add_argument("--max_size", type=int, default=protocol["val_max_size"],
                   help="long-side cap and canvas size (default 2176)")
    p.add_argument("--confidence_threshold", type=float, default=protocol["val_confidence_threshold"])
    p.add_argument("--nms_threshold", type=float, default=protocol["val_nms_threshold"])
    p.add_argument("--iou_threshold", type=float, default=protocol["val_iou_threshold"])
    p.add_argument("--max_images", type=int, default=0, help="evaluate only the first N images (0 = all)")
    p.add_argument("--no_eval", action="store_true", help="only write the prediction folder")
    return p.parse_args(argv)


def image_sizes(entries):
    """(h, w) of every image, read from the headers (the origin-size canvas needs them before the first image)."""
    from PIL import Image, UnidentifiedImageError
    sizes = []
    for path, _ in entries:
        try:
            with Image.open(path) as im:
                sizes.append((im.height, im.width))
        except FileNotFoundError:
            raise DataError(f"{path}: image file not found") from None
        except (UnidentifiedImageError, OSError):
            raise DataError(f"{path}: not an image (cannot read its size)") from None
    return sizes


def main(argv=None):
    args = parse_args(argv)
    if not args.data_path:
        raise DataError("--data_path is required (root with val/label.txt, val/images/, ground_truth/)")
    if not args.checkpoint:
        raise DataError("--checkpoint is required")
    label = os.path.join(args.data_path, "val", "label.txt")
    gt_dir = args.gt_dir or os.path.join(args.data_path, "ground_truth")
    if not args.no_eval and not os.path.isfile(os.path.join(gt_dir, "wider_face_val.mat")):
        raise DataError(f"{gt_dir}: no wider_face_val.mat (pass --gt_dir)")

    from src.dataset import parse_label_entries
    from src.device import set_context
    from src.engine import evaluate
    from src.inference import Predictor, load_model, origin_canvas

    entries = parse_label_entries(label)
    if args.max_images:
        entries = entries[:args.max_images]
    if not entries:
        raise DataError(f"{label}: no images")
    images_root = os.path.join(args.data_path, "val", "images")

    set_context(args.device_target, device_id=args.device_id)
    net, cfg = load_model(args.checkpoint)
    post = dict(confidence_threshold=args.confidence_threshold, nms_threshold=args.nms_threshold)
    if args.val_origin_size:
        predictor = Predictor(net, cfg, mode="origin", canvas_hw=origin_canvas(image_sizes(entries)), **post)
    else:
        predictor = Predictor(net, cfg, mode="canvas", target_size=args.target_size, max_size=args.max_size, **post)

    import widerface_eval
    output_path = os.path.abspath(args.output_path)
    pred_dir = os.path.join(output_path, "predictions")
    t0 = time.time()
    n = evaluate(predictor, entries, images_root, pred_dir)
    sec = (time.time() - t0) / n
    print(f"wrote {n} prediction files to {pred_dir} ({sec:.3f} s/image)", flush=True)
    if args.no_eval:
        return 0
    res = widerface_eval.evaluate(pred_dir, gt_dir, iou_thresh=args.iou_threshold)
    for setting in ("easy", "medium", "hard"):
        print(f"{setting.capitalize():<6} Val AP : {res.aps[setting]:.4f}")
    protocol_used = {"val_origin_size": args.val_origin_size, "target_size": args.target_size,
                     "max_size": args.max_size, **post}
    path = widerface_eval.write_json(res, os.path.join(output_path, "eval_result.json"), extra={
        "checkpoint": os.path.abspath(args.checkpoint), "images": n, "sec_per_image": sec,
        "protocol": protocol_used})
    print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "eval.py"))

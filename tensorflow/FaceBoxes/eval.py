"""Evaluate FaceBoxes on WIDER FACE val: writes the official prediction folder and prints easy/medium/hard AP.

    python eval.py --checkpoint CKPT --data_path DATA --output_path OUT [--image_size 1024] [--max_images N]

DATA is the official layout (DATA/WIDER_val/images/<event>/<name>.jpg, DATA/ground_truth/wider_*_val.mat or
--gt_dir). Images are used at native size (zero-padded to a multiple of 128 inside the network, as the original);
--image_size S resizes every image to SxS first (the Ascend port's protocol). The score / NMS thresholds and the
box limit are the checkpoint's (the reference's 0.05 / 0.3 / 200) unless given. Predictions go to OUT/predictions/
(written to OUT/predictions.partial/ and renamed when all images are done), the APs and PR curves to
OUT/eval_result.json (widerface_eval's JSON).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import ConfigError, DataError, run_cli  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def list_val_images(data_path):
    """[(WIDER relative path "event/name.jpg", file path)] of DATA/WIDER_val/images, sorted."""
    img_root = os.path.join(data_path, "WIDER_val", "images")
    if not os.path.isdir(img_root):
        raise DataError("%s: WIDER val image folder not found (expected DATA/WIDER_val/images)" % img_root)
    images = []
    for event in sorted(os.listdir(img_root)):
        d = os.path.join(img_root, event)
        if os.path.isdir(d):
            images += [(event + "/" + f, os.path.join(d, f)) for f in sorted(os.listdir(d))
                       if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not images:
        raise DataError("%s: no images" % img_root)
    return images


def find_gt_dir(data_path, gt_dir):
    cands = [gt_dir] if gt_dir else [os.path.join(data_path, "ground_truth"),
                                     os.path.join(data_path, "wider_face_split")]
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "wider_easy_val.mat")):
            return c
    raise DataError("no WIDER ground truth (wider_easy_val.mat ...) in %s" % ", ".join(c for c in cands if c))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="checkpoint prefix or run folder (its latest checkpoint)")
    p.add_argument("--data_path", default=None, help="WIDER FACE root")
    p.add_argument("--output_path", default=os.path.join("outputs", "eval"))
    p.add_argument("--gt_dir", default=None, help="folder with wider_{face,easy,medium,hard}_val.mat")
    p.add_argument("--image_size", type=int, default=None, help="resize to SxS (Ascend protocol); default native")
    p.add_argument("--score_threshold", type=float, default=None, help="default: the checkpoint's (0.05)")
    p.add_argument("--iou_threshold", type=float, default=None, help="default: the checkpoint's (0.3)")
    p.add_argument("--max_boxes", type=int, default=None, help="default: the checkpoint's (200)")
    p.add_argument("--max_images", type=int, default=None, help="only the first N images (a quick look)")
    p.add_argument("--no_eval", action="store_true", help="only write the prediction folder")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.data_path:
        raise ConfigError("--data_path is required (the WIDER FACE root)")
    if not args.checkpoint:
        raise ConfigError("--checkpoint is required (a checkpoint prefix or a run folder)")
    images = list_val_images(args.data_path)
    gt_dir = None if args.no_eval else find_gt_dir(args.data_path, args.gt_dir)
    if args.max_images:
        images = images[: args.max_images]

    import widerface_eval

    from src.engine import evaluate
    from src.inference import Predictor

    resize = (args.image_size, args.image_size) if args.image_size else None
    predictor = Predictor(args.checkpoint, args.score_threshold, args.iou_threshold, args.max_boxes, resize,
                          device=args.device)
    pred_dir = os.path.join(args.output_path, "predictions")
    sec_per_image = evaluate(predictor, images, pred_dir)
    if gt_dir is None:
        print("predictions of %d images in %s" % (len(images), pred_dir))
        return 0
    try:
        result = widerface_eval.evaluate(pred_dir, gt_dir, iou_thresh=0.5)
    except widerface_eval.WiderFormatError as e:
        raise DataError(str(e)) from None
    mp = predictor.config["model_params"]
    widerface_eval.write_json(result, os.path.join(args.output_path, "eval_result.json"), extra={
        "checkpoint": predictor.source, "images": len(images), "sec_per_image": sec_per_image,
        "image_size": args.image_size, "score_threshold": mp["score_threshold"],
        "iou_threshold": mp["iou_threshold"], "max_boxes": mp["max_boxes"]})
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "eval.py"))

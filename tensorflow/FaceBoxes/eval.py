"""Evaluate FaceBoxes on WIDER FACE val: writes the official prediction folder and prints easy/medium/hard AP.

    python eval.py --checkpoint CKPT --data_path DATA --output_path OUT [--image_size 1024] [--max_images N]

DATA is the official layout (DATA/WIDER_val/images/<event>/<name>.jpg, DATA/ground_truth/wider_*_val.mat or
--gt_dir). Images are used at native size (zero-padded to a multiple of 128 inside the network, as the original);
--image_size S resizes every image to SxS first (the Ascend port's protocol). Predictions go to OUT/predictions/
(written to OUT/predictions.partial/ and renamed when all images are done),
the APs to OUT/eval_result.json.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def list_val_images(data_path):
    img_root = os.path.join(data_path, "WIDER_val", "images")
    if not os.path.isdir(img_root):
        raise FileNotFoundError("%s: WIDER val image folder not found (expected DATA/WIDER_val/images)" % img_root)
    rels = []
    for event in sorted(os.listdir(img_root)):
        d = os.path.join(img_root, event)
        if os.path.isdir(d):
            rels += [event + "/" + f for f in sorted(os.listdir(d)) if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    if not rels:
        raise FileNotFoundError("%s: no images" % img_root)
    return img_root, rels


def find_gt_dir(data_path, gt_dir):
    cands = [gt_dir] if gt_dir else [os.path.join(data_path, "ground_truth"),
                                     os.path.join(data_path, "wider_face_split")]
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "wider_easy_val.mat")):
            return c
    raise FileNotFoundError("no WIDER ground truth (wider_easy_val.mat ...) in %s" % ", ".join(c for c in cands if c))


def run(args):
    from tqdm import tqdm

    from src.inference import Predictor, read_rgb
    from src.io_utils import write_json_atomic

    if not args.data_path:
        raise ValueError("--data_path is required (the WIDER FACE root)")
    img_root, rels = list_val_images(args.data_path)
    gt_dir = None if args.no_eval else find_gt_dir(args.data_path, args.gt_dir)
    if args.max_images:
        rels = rels[: args.max_images]
    resize = (args.image_size, args.image_size) if args.image_size else None
    predictor = Predictor(args.checkpoint, args.score_threshold, args.iou_threshold, args.max_boxes, resize,
                          device=args.device)
    import widerface_eval

    # predictions go to a fresh "predictions.partial" folder that replaces "predictions" only when every image is
    # done: a previous run's files (another checkpoint, more images) never mix into this evaluation, and an
    # interrupted run leaves the previous complete folder intact (and its own partial one for inspection)
    pred_dir = os.path.join(args.output_path, "predictions")
    t0 = time.time()
    with widerface_eval.PredictionFolder(pred_dir) as folder:
        for rel in tqdm(rels, desc="WIDER val", unit="img"):
            folder.write(rel, predictor(read_rgb(os.path.join(img_root, rel))))
    elapsed = time.time() - t0
    result = {"checkpoint": predictor.prefix, "images": len(rels), "sec_per_image": elapsed / len(rels),
              "image_size": args.image_size, "score_threshold": args.score_threshold,
              "iou_threshold": args.iou_threshold, "max_boxes": args.max_boxes}
    if gt_dir:
        res = widerface_eval.evaluate(pred_dir, gt_dir, iou_thresh=0.5)
        result["ap"] = {k: float(v) for k, v in res.aps.items()}
        print("Easy   Val AP: %.4f" % result["ap"]["easy"])
        print("Medium Val AP: %.4f" % result["ap"]["medium"])
        print("Hard   Val AP: %.4f" % result["ap"]["hard"])
    write_json_atomic(os.path.join(args.output_path, "eval_result.json"), result)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint prefix or model directory")
    p.add_argument("--data_path", default=None)
    p.add_argument("--output_path", default=os.path.join("outputs", "eval"))
    p.add_argument("--gt_dir", default=None, help="folder with wider_{face,easy,medium,hard}_val.mat")
    p.add_argument("--image_size", type=int, default=None, help="resize to SxS (Ascend protocol); default native")
    p.add_argument("--score_threshold", type=float, default=0.05)
    p.add_argument("--iou_threshold", type=float, default=0.3)
    p.add_argument("--max_boxes", type=int, default=200)
    p.add_argument("--max_images", type=int, default=None)
    p.add_argument("--no_eval", action="store_true", help="only write the prediction folder")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    args = p.parse_args(argv)
    try:
        from src.checkpoint_utils import CheckpointError
        from src.device import DeviceError

        run(args)
    except (ValueError, OSError, CheckpointError, DeviceError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

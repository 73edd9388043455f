"""WIDER FACE val evaluation of an S3FD checkpoint with the reference's protocol (tools/wider_test.py).

    python tools/wider_test.py --checkpoint CKPT --data_path DATA [--output_path OUT] [--single_scale]

For every val image (the list of the ground truth's ``wider_face_val.mat``): the base scale
``min(1, sqrt(1700 * 1200 / (H * W)))``, its horizontal flip, the multi-scale passes and bbox voting (IoU 0.3, top
750), scores >= 0.05 (``--thresh``); see ``src/inference.py``. The predictions go to ``OUT/predictions/<event>/
<name>.txt`` (replaced only when complete) with ``w = x2 - x1 + 1`` as the reference writes them, the easy /
medium / hard AP (``widerface_eval``, the official protocol) to ``OUT/eval_result.json`` and stdout.

Quick protocols (not the reference's): ``--single_scale`` (the base pass only) and ``--input_size N`` (the image
stretched to N x N, the geometry of training's 'val' preprocessing; for models trained at a reduced size).

DATA holds ``WIDER_val/images/<event>/<name>.jpg`` and the evaluation ground truth
(``wider_{face,easy,medium,hard}_val.mat``) in ``DATA/ground_truth/`` or ``DATA/eval_tools/ground_truth/``, or
``--gt_dir``.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from src.errors import DataError, UserError, run_cli  # noqa: E402


def find_gt_dir(data_path, gt_dir=None):
    from widerface_eval import GT_FILES
    candidates = [gt_dir] if gt_dir else [os.path.join(data_path, "ground_truth"),
                                          os.path.join(data_path, "eval_tools", "ground_truth")]
    for d in candidates:
        if d and all(os.path.isfile(os.path.join(d, f)) for f in GT_FILES.values()):
            return d
    where = gt_dir or f"{candidates[0]} or {candidates[1]}"
    raise DataError(f"{where}: WIDER FACE evaluation ground truth not found (wider_face_val.mat and "
                    f"wider_{{easy,medium,hard}}_val.mat; pass --gt_dir)")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", "--model", dest="checkpoint", help="checkpoint of this folder")
    p.add_argument("--data_path", help="WIDER FACE root with WIDER_val/images")
    p.add_argument("--gt_dir", help="folder of wider_{face,easy,medium,hard}_val.mat (default DATA/ground_truth)")
    p.add_argument("--output_path", default="eval_output", help="OUT/predictions and OUT/eval_result.json")
    p.add_argument("--thresh", type=float, help="score threshold (default 0.05, cfg.EVAL_THRESH)")
    p.add_argument("--single_scale", action="store_true", help="the base-scale pass only")
    p.add_argument("--input_size", type=int, help="stretch every image to N x N, one pass (zoo quick protocol)")
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu", "npu"))
    p.add_argument("--device_id", type=int, default=0)
    p.add_argument("--amp", action="store_true", help="autocast bf16 (cpu) / fp16 (gpu, npu)")
    return p


def evaluate(predictor, data_path, gt_dir, output_path, protocol, thresh=None, input_size=None, progress=True,
             extra=None):
    """Run ``predictor`` on every val image of the ground truth, write the prediction folder and
    ``eval_result.json``; returns the ``widerface_eval`` result."""
    import widerface_eval as we

    gt = we.load_ground_truth(gt_dir)
    img_root = os.path.join(data_path, "WIDER_val", "images")
    if not os.path.isdir(img_root):
        raise DataError(f"{img_root}: WIDER FACE val images not found")
    items = [f"{ev}/{name}.jpg" for ev, names in zip(gt.events, gt.files) for name in names]
    pred_dir = os.path.join(output_path, "predictions")
    t0 = time.time()
    with we.PredictionFolder(pred_dir) as folder:
        for rel in tqdm(items, desc="WIDER val", unit="img", disable=not progress, mininterval=5, file=sys.stdout):
            dets = predictor(os.path.join(img_root, rel), protocol, thresh=thresh, input_size=input_size)
            dets = np.asarray(dets, np.float64).reshape(-1, 5).copy()
            dets[:, 2:4] += 1.0                        # the reference writes w = x2 - x1 + 1, h = y2 - y1 + 1
            folder.write(rel, dets)
    secs = time.time() - t0
    res = we.evaluate(pred_dir, gt_dir, gt=gt)
    info = {"protocol": protocol, "images": len(items), "seconds": round(secs, 2),
            "images_per_s": round(len(items) / secs, 4) if secs > 0 else None}
    if input_size:
        info["input_size"] = input_size
    info.update(extra or {})
    we.write_json(res, os.path.join(output_path, "eval_result.json"), extra=info)
    return res


def main(argv=None):
    a = build_parser().parse_args(argv)
    if not a.data_path:
        raise UserError("--data_path=DIR is required (WIDER FACE root with WIDER_val/images)")
    if not a.checkpoint:
        raise UserError("--checkpoint CKPT is required")
    if not os.path.isdir(a.data_path):
        raise DataError(f"--data_path {a.data_path}: no such directory")
    if a.input_size is not None and a.input_size < 32:
        raise UserError(f"--input_size {a.input_size}: at least 32")
    import torch

    from src.device import select_device
    from src.inference import Predictor

    device = select_device(a.device, a.device_id)
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(os.cpu_count() or 1)
    gt_dir = find_gt_dir(a.data_path, a.gt_dir)
    predictor = Predictor.from_checkpoint(a.checkpoint, device, amp=a.amp)
    protocol = "resize" if a.input_size else ("single" if a.single_scale else "wider")
    res = evaluate(predictor, a.data_path, gt_dir, a.output_path, protocol, a.thresh, a.input_size,
                   extra={"checkpoint": os.path.abspath(a.checkpoint), "amp": a.amp})
    print(res.summary())
    print(f"wrote {os.path.join(a.output_path, 'eval_result.json')} and {os.path.join(a.output_path, 'predictions')}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, os.path.basename(sys.argv[0])))

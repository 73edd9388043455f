"""Evaluate a Faster R-CNN checkpoint: COCO bbox mAP (COCO json, 'other' txt lists) or WIDER FACE AP.

    python eval.py --checkpoint_path=CKPT --data_path=/data/widerface --output_path=out        # face config
    python eval.py --checkpoint_path=CKPT --anno_path=instances_val2017.json --coco_root=/data/coco --output_path=out
    python eval.py --config_path=fasterrcnn_facemask_config_cpu.yaml --checkpoint_path=OFFICIAL.ckpt ...

The network and its settings come from the checkpoint (a checkpoint of the official code, which carries none,
takes them from ``--config_path``); the canvas, thresholds, batch and data paths may be given here. Writes into
``--output_path``: ``eval_result.json`` (WIDER: the APs and PR curves; COCO: the twelve numbers and the per-class
table), ``predictions/`` (WIDER, replaced only when complete), ``pr_curves.png`` (WIDER), ``results.pkl.bbox.json``
and ``eval_result/`` (COCO: statistics.csv and the plots).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import src  # noqa: E402,F401  (caps oneDNN at AVX2 before MindSpore loads)
from src.errors import run_cli  # noqa: E402


def main(argv=None):
    from src.model_utils.config import get_config
    from src.model_utils.moxing_adapter import moxing_wrapper
    cfg = get_config(argv, description="Evaluate a Faster R-CNN checkpoint (COCO mAP or WIDER FACE AP)")

    @moxing_wrapper(cfg)
    def run():
        return eval_fasterrcnn(cfg)

    return run()


def eval_fasterrcnn(cfg):
    from src.device import set_context
    from src.engine import evaluate
    from src.errors import ConfigError
    from src.fileio import write_json_atomic
    from src.inference import Predictor, read_for_inference
    from src.model_utils.config import check_data_root, output_dir
    if not cfg.checkpoint_path:
        raise ConfigError("--checkpoint_path=CKPT is required (the checkpoint to evaluate)")
    start = time.time()
    ecfg, params = read_for_inference(cfg.checkpoint_path, cfg)
    if ecfg.dataset != "coco" or not ecfg.anno_path:
        check_data_root(ecfg)
    set_context(ecfg.device_target, ecfg.device_id)
    out_dir = output_dir(ecfg)
    predictor = Predictor(cfg.checkpoint_path, config=ecfg, params=params)
    print(f"Evaluating {cfg.checkpoint_path} ({ecfg.backbone}, {ecfg.num_classes - 1} classes, "
          f"{ecfg.img_height}x{ecfg.img_width}) on {ecfg.dataset} data", flush=True)
    metric, record = evaluate(ecfg, predictor, out_dir)
    path = os.path.join(out_dir, "eval_result.json")
    extra = {"checkpoint": os.path.abspath(cfg.checkpoint_path), "dataset": ecfg.dataset,
             "input_hw": [ecfg.img_height, ecfg.img_width]}
    if ecfg.dataset == "widerface":
        from widerface_eval import write_json
        write_json(record, path, extra=extra)
    else:
        write_json_atomic(path, dict(extra, coco=record["stats"], per_class=record["per_class"]))
    print(f"\nEvaluation done! ({time.time() - start:.1f} s) Results in {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "eval.py"))

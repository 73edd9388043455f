"""COCO mAP of the binary outputs of the C++ / Ascend 310 inference of an exported MINDIR (the reference's
postprocess.py).

    python postprocess.py --config_path=YAML --anno_path=instances_val2017.json --result_path=RESULT_DIR \\
        [--output_path=DIR]

For every image of the annotation file, ``RESULT_DIR/<file name without extension>_0.bin`` holds the boxes (float16,
rows ``[x1, y1, x2, y2, score]``), ``_1.bin`` the labels (int32) and ``_2.bin`` the mask (bool): the three outputs of
``FasterRcnn_Infer`` (export.py). They go through eval.py's rule (masked rows, the ``num_gts`` best) and the COCO
evaluation of ``src/util.py``. The C++ program that writes them (the reference's ``cpp_infer/``) is not part of
this folder.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import src  # noqa: E402,F401
from src.errors import run_cli  # noqa: E402


def read_results(result_path, file_name):
    """The three outputs of one image, as eval.py's detections ``(N, 6)``."""
    import numpy as np
    from src.errors import DataError
    stem = os.path.splitext(os.path.basename(file_name))[0]
    paths = [os.path.join(result_path, f"{stem}_{k}.bin") for k in range(3)]
    for p in paths:
        if not os.path.isfile(p):
            raise DataError(f"{p}: inference output not found")
    bbox = np.fromfile(paths[0], dtype=np.float16).astype(np.float32)
    label = np.fromfile(paths[1], dtype=np.int32)
    mask = np.fromfile(paths[2], dtype=np.bool_)
    if bbox.size != 5 * label.size or label.size != mask.size:
        raise DataError(f"{paths[0]}: {bbox.size} box values for {label.size} labels and {mask.size} mask entries")
    return bbox.reshape(-1, 5), label, mask


def main(argv=None):
    from src.dataset import load_coco
    from src.errors import ConfigError
    from src.fileio import write_json_atomic
    from src.inference import eval_detections
    from src.model_utils.config import class_names, get_config, output_dir
    from src.util import bbox2result_1image, coco_eval, results2json
    cfg = get_config(argv, description="COCO mAP of the 310 / C++ inference outputs")
    if not cfg.anno_path or not cfg.result_path:
        raise ConfigError("--anno_path (COCO json) and --result_path (folder of the .bin outputs) are required")
    coco = load_coco(cfg.anno_path)
    ids = coco.getImgIds()
    results = []
    for img_id in ids:
        bbox, label, mask = read_results(cfg.result_path, coco.loadImgs(img_id)[0]["file_name"])
        dets = eval_detections(bbox, label, mask, cfg.num_gts)
        results.append(bbox2result_1image(dets[:, :5], dets[:, 5], cfg.num_classes))
    out = output_dir(cfg)
    files = results2json(coco, ids, results, os.path.join(out, "results.pkl"))
    record = coco_eval(coco, files["bbox"], out, class_names=class_names(cfg))
    write_json_atomic(os.path.join(out, "eval_result.json"), {"coco": record["stats"],
                                                             "per_class": record["per_class"]})
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "postprocess.py"))

"""The training and evaluation loops (torchvision's ``references/detection`` split: train.py and eval.py orchestrate).

Training is MindSpore's ``Model.train``; ``train`` only cuts the global steps ``start + 1 .. end`` into the calls
it needs: one call in non-sink mode; in sink mode (GPU / Ascend) the rest of a resumed epoch, the whole epochs
(``sink_size`` = one epoch) and a last partial epoch, each with its own dataset. The per-step logging,
checkpointing and evaluation are callbacks (``network_define``, ``eval_callback``).

Evaluation runs the ``Predictor`` over image files in batches, reading the next batch in a thread while the
network runs, with a progress bar in images/s: ``detect_images`` (COCO / 'other' lists, eval.py's top-128
detections per image) and ``evaluate_wider`` (WIDER FACE val, prediction folder + easy / medium / hard AP).
"""
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm

from .errors import DataError


def train(model, make_dataset, start_step, end_step, steps_per_epoch, sink, callbacks):
    """Train the global steps ``start_step + 1 .. end_step``; ``make_dataset(a, b)`` gives the batches of steps
    ``a + 1 .. b``."""
    if start_step >= end_step:
        return
    if not sink:
        model.train(1, make_dataset(start_step, end_step), callbacks=callbacks, dataset_sink_mode=False)
        return
    segments = []
    step = start_step
    if step % steps_per_epoch:
        nxt = min(end_step, (step // steps_per_epoch + 1) * steps_per_epoch)
        segments.append((step, nxt, 1, nxt - step))
        step = nxt
    full = (end_step - step) // steps_per_epoch
    if full:
        segments.append((step, step + full * steps_per_epoch, full, steps_per_epoch))
        step += full * steps_per_epoch
    if step < end_step:
        segments.append((step, end_step, 1, end_step - step))
    for a, b, epochs, sink_size in segments:
        model.train(epochs, make_dataset(a, b), callbacks=callbacks, dataset_sink_mode=True, sink_size=sink_size)


def _batches(predictor, paths):
    """Preprocessed batches of ``paths``, the next one prepared in a thread while the current one runs."""
    def load(chunk):
        return chunk, [predictor.preprocess(p) for p in chunk]
    chunks = [paths[k:k + predictor.batch_size] for k in range(0, len(paths), predictor.batch_size)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load, chunks[0]) if chunks else None
        for k in range(len(chunks)):
            chunk, pre = pending.result()
            if k + 1 < len(chunks):
                pending = pool.submit(load, chunks[k + 1])
            yield chunk, pre


def detect_images(predictor, paths, desc="eval", progress=True):
    """eval.py's detections ``(N, 6)`` ``[x1, y1, x2, y2, score, label]`` of every image in ``paths``."""
    from .inference import eval_detections
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DataError(f"{missing[0]}: image not found ({len(missing)} of {len(paths)} images of the evaluation "
                        f"set are missing)")
    out = []
    bar = tqdm(total=len(paths), desc=desc, unit="img", disable=not progress, mininterval=1.0)
    t0 = time.time()
    for chunk, pre in _batches(predictor, paths):
        bbox, label, mask = predictor.run([p[0] for p in pre], [p[1] for p in pre])
        out += [eval_detections(bbox[i], label[i], mask[i], predictor.config.num_gts) for i in range(len(chunk))]
        bar.update(len(chunk))
        bar.set_postfix_str(f"{len(out) / max(time.time() - t0, 1e-9):.2f} img/s", refresh=False)
    bar.close()
    return out


def wider_predictions(dets):
    """eval.py's detections -> WIDER prediction rows ``[x1, y1, x2, y2, score]`` (boxes ``x2 = x + w`` as the
    training boxes, so that ``w = x2 - x1``). The box decoder clips each coordinate to the canvas on its own, so a
    box beyond the canvas edge can come out inverted: it is written with zero width / height."""
    rows = np.asarray(dets, np.float32).reshape(-1, 6)[:, :5].copy()
    rows[:, 2] = np.maximum(rows[:, 2], rows[:, 0])
    rows[:, 3] = np.maximum(rows[:, 3], rows[:, 1])
    return rows


def evaluate_wider(predictor, wider_root, gt_dir, pred_dir, max_images=0, progress=True, log=print):
    """Detect every image of WIDER FACE val, write ``pred_dir`` (replaced only when complete) and evaluate it
    against ``gt_dir``: the ``widerface_eval`` result."""
    from widerface_eval import PredictionFolder, evaluate, load_ground_truth
    from .dataset import read_wider_split
    try:
        gt = load_ground_truth(gt_dir)
    except (OSError, ValueError) as e:
        raise DataError(f"{gt_dir}: WIDER FACE ground truth not usable ({str(e).splitlines()[0]})") from None
    entries = read_wider_split(wider_root, is_training=False)
    if max_images:
        entries = entries[:max_images]
    paths = [os.path.join(wider_root, "WIDER_val", "images", e.name) for e in entries]
    dets = detect_images(predictor, paths, desc="WIDER val", progress=progress)
    with PredictionFolder(pred_dir) as folder:
        for e, d in zip(entries, dets):
            folder.write(e.name, wider_predictions(d))
    result = evaluate(pred_dir, gt_dir, gt=gt)
    if max_images and result.num_missing:
        log(f"note: {result.num_missing} ground-truth images were not evaluated (--eval_max_images={max_images})")
    return result


def coco_eval_set(cfg):
    """``(COCO object, image ids, image paths)`` of the configured evaluation set (coco json or 'other' list)."""
    from .dataset import coco_annotation_file, load_coco, parse_json_annos_from_txt
    if cfg.dataset == "other":
        from pycocotools.coco import COCO
        if not cfg.anno_path:
            raise DataError("dataset other: --anno_path (the txt list to evaluate against) is required")
        coco = COCO()
        coco.dataset = parse_json_annos_from_txt(cfg.anno_path, cfg)
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
        root = cfg.image_dir
    else:
        default_json, data_type = coco_annotation_file(cfg, is_training=False)
        coco = load_coco(cfg.anno_path or default_json)
        root = os.path.join(cfg.coco_root, data_type)
    ids = coco.getImgIds()
    if cfg.eval_max_images:
        ids = ids[:cfg.eval_max_images]
    paths = [os.path.join(root, coco.loadImgs(i)[0]["file_name"]) for i in ids]
    return coco, ids, paths


def evaluate(cfg, predictor, out_dir, progress=True, plot=True, log=print):
    """Evaluate ``predictor`` on the configured evaluation set, writing into ``out_dir``; returns ``(metric,
    record)``: for WIDER FACE the mean of the easy / medium / hard AP and the ``widerface_eval`` result, for COCO
    json / 'other' lists the bbox mAP and the COCO numbers with the per-class table."""
    from .util import bbox2result_1image, coco_eval, results2json
    os.makedirs(out_dir, exist_ok=True)
    if cfg.dataset == "widerface":
        gt_dir = cfg.wider_gt_dir or os.path.join(cfg.wider_root, "ground_truth")
        result = evaluate_wider(predictor, cfg.wider_root, gt_dir, os.path.join(out_dir, "predictions"),
                                max_images=cfg.eval_max_images, progress=progress, log=log)
        log(result.summary())
        if plot:
            try:
                from widerface_eval import plot_pr_curves
                plot_pr_curves(result, os.path.join(out_dir, "pr_curves.png"), legend="Faster R-CNN")
            except Exception as e:                              # noqa: BLE001 - plots never fail an evaluation
                log(f"warning: the PR curves were not drawn ({type(e).__name__}: {e})")
        return float(np.mean([result.aps[k] for k in ("easy", "medium", "hard")])), result
    coco, ids, paths = coco_eval_set(cfg)
    log(f"total images num: {len(paths)}")
    dets = detect_images(predictor, paths, progress=progress)
    results = [bbox2result_1image(d[:, :5], d[:, 5], cfg.num_classes) for d in dets]
    files = results2json(coco, ids, results, os.path.join(out_dir, "results.pkl"))
    record = coco_eval(coco, files["bbox"], out_dir, class_names=predictor.class_names, plot=plot, log=log,
                       img_ids=ids)
    return record["stats"]["AP"], record

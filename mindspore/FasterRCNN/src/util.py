"""COCO evaluation (the reference's ``util.py`` + ``detecteval.py`` plots): results json, mAP, per-class table, PR
curves.

Conventions kept from the reference: a detection ``[x1, y1, x2, y2]`` becomes the COCO box
``[x1, y1, x2 - x1 + 1, y2 - y1 + 1]`` (its ``+1`` width / height), the label ``j`` becomes the ``j``-th category id
of the annotation file in ascending order, and at most ``num_gts`` (128) detections per image are kept (eval.py's
rule, in ``inference.eval_detections``). The json is written without mmcv, atomically.

``coco_eval`` prints pycocotools' twelve numbers as pycocotools prints them, then the per-class table; the plots
(PR curves per class, precision / recall / F1 against the score threshold) and ``statistics.csv`` go to
``<output>/eval_result/``. A failure while plotting is reported in one line and never fails the evaluation (the
reference exits -1 when its plots are missing, even after printing the mAP).
"""
import contextlib
import csv
import io
import json
import os

import numpy as np

from .fileio import atomic_file, write_json_atomic

STAT_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR1", "AR10", "AR100", "AR100_small", "AR100_medium", "AR100_large")


def xyxy2xywh(bbox):
    """The reference's COCO box of ``[x1, y1, x2, y2]``: width and height with ``+1``."""
    b = [float(v) for v in bbox[:4]]
    return [b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1]


def bbox2result_1image(bboxes, labels, num_classes):
    """Rows ``(n, 5)`` and their 0-based labels -> one ``(k, 5)`` array per foreground class."""
    bboxes = np.asarray(bboxes, np.float32).reshape(-1, 5)
    labels = np.asarray(labels).reshape(-1)
    return [bboxes[labels == i, :] for i in range(num_classes - 1)]


def det2json(coco, image_ids, results):
    """COCO result dicts of the per-image, per-class results (``image_ids`` in the order of ``results``)."""
    cat_ids = coco.getCatIds()
    out = []
    for img_id, result in zip(image_ids, results):
        for label, boxes in enumerate(result):
            for row in boxes:
                out.append({"image_id": int(img_id), "bbox": xyxy2xywh(row), "score": float(row[4]),
                            "category_id": int(cat_ids[label])})
    return out


def results2json(coco, image_ids, results, out_file):
    """Write ``<out_file>.bbox.json`` (atomically); returns ``{"bbox": path}``."""
    path = f"{out_file}.bbox.json"
    write_json_atomic(path, det2json(coco, image_ids, results), indent=None)
    return {"bbox": path}


def coco_eval(coco, result_file, output_dir=None, class_names=None, plot=True, log=print, img_ids=None):
    """pycocotools bbox evaluation of ``result_file`` against ``coco``; returns ``{"stats": {name: value}, "per_class":
    [...]}`` over ``img_ids`` (default: every image). An empty result file gives zeros (the reference's
    summary_init)."""
    from pycocotools.cocoeval import COCOeval
    with open(result_file, encoding="utf-8") as f:
        anns = json.load(f)
    if not anns:
        log("no detections: every COCO number is 0")
        return {"stats": {k: 0.0 for k in STAT_NAMES}, "per_class": []}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dets = coco.loadRes(result_file)
    evaluator = COCOeval(coco, coco_dets, "bbox")
    evaluator.params.imgIds = list(img_ids) if img_ids is not None else coco.getImgIds()
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    evaluator.summarize()                                   # prints the twelve lines as pycocotools does
    stats = {k: float(v) for k, v in zip(STAT_NAMES, evaluator.stats)}
    per_class = per_class_table(evaluator, coco, class_names)
    log(format_per_class(per_class))
    if plot and output_dir:
        try:
            write_plots(evaluator, per_class, os.path.join(output_dir, "eval_result"), stats)
        except Exception as e:                              # noqa: BLE001 - plots never fail an evaluation
            log(f"warning: the evaluation plots were not written ({type(e).__name__}: {e})")
    return {"stats": stats, "per_class": per_class}


def _tp_fp_scores(evaluator, k, iou_index=0):
    """Scores and true-positive flags of class ``k``'s detections at IoU threshold ``iouThrs[iou_index]`` (area
    'all', 100 detections per image), and the number of non-ignored ground-truth boxes."""
    p = evaluator.params
    n_area = len(p.areaRng)
    n_img = len(p.imgIds)
    scores, tps, n_gt = [], [], 0
    for i in range(n_img):
        e = evaluator.evalImgs[k * n_area * n_img + i]           # area index 0 = all
        if e is None:
            continue
        dt = np.asarray(e["dtScores"][:p.maxDets[-1]])
        matched = np.asarray(e["dtMatches"])[iou_index, :p.maxDets[-1]] > 0
        ignored = np.asarray(e["dtIgnore"])[iou_index, :p.maxDets[-1]].astype(bool)
        scores.append(dt[~ignored])
        tps.append(matched[~ignored])
        n_gt += int((~np.asarray(e["gtIgnore"]).astype(bool)).sum())
    if not scores:
        return np.zeros(0), np.zeros(0, bool), n_gt
    return np.concatenate(scores), np.concatenate(tps), n_gt


def per_class_table(evaluator, coco, class_names=None):
    """Per class: AP (IoU 0.5:0.95), AP50, AP75, and at IoU 0.5 the ground truth, detections, true positives,
    precision and recall over all detections, and the score threshold of the best F1."""
    precision = evaluator.eval["precision"]                  # [T, R, K, A, M]
    cat_ids = evaluator.params.catIds
    names = {c["id"]: c["name"] for c in coco.loadCats(cat_ids)}
    rows = []
    for k, cat in enumerate(cat_ids):
        def ap(t=None):
            pr = precision[:, :, k, 0, -1] if t is None else precision[t, :, k, 0, -1]
            pr = pr[pr > -1]
            return float(pr.mean()) if pr.size else float("nan")
        scores, tp, n_gt = _tp_fp_scores(evaluator, k)
        order = np.argsort(-scores, kind="stable")
        tp_c = np.cumsum(tp[order])
        prec = tp_c / np.arange(1, len(tp_c) + 1) if len(tp_c) else np.zeros(0)
        rec = tp_c / n_gt if n_gt and len(tp_c) else np.zeros(len(tp_c))
        f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
        best = int(np.argmax(f1)) if len(f1) else None
        name = names.get(cat, str(cat))
        if class_names and k < len(class_names) and class_names[k] != name:
            name = f"{name} ({class_names[k]})"
        rows.append({"class": name, "category_id": int(cat), "AP": ap(), "AP50": ap(0), "AP75": ap(5),
                     "gt": n_gt, "dt": int(len(scores)), "tp": int(tp.sum()),
                     "precision": float(prec[-1]) if len(prec) else 0.0,
                     "recall": float(rec[-1]) if len(rec) else 0.0,
                     "best_f1": float(f1[best]) if best is not None else 0.0,
                     "best_f1_score_thr": float(scores[order][best]) if best is not None else 0.0})
    return rows


def format_per_class(rows):
    head = f"{'class':<24} {'AP':>6} {'AP50':>6} {'AP75':>6} {'gt':>6} {'dt':>7} {'tp':>6} {'prec':>6} {'rec':>6}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['class'][:24]:<24} {r['AP']:6.3f} {r['AP50']:6.3f} {r['AP75']:6.3f} {r['gt']:6d} "
                     f"{r['dt']:7d} {r['tp']:6d} {r['precision']:6.3f} {r['recall']:6.3f}")
    return "\n".join(lines)


def write_plots(evaluator, per_class, folder, stats):
    """``statistics.csv``, ``pr_curve_image/<class>.png`` (PR at IoU 0.5, 0.75 and the 0.5:0.95 mean) and
    ``mc_curve.png`` (precision, recall and F1 against the score threshold at IoU 0.5, every class)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(os.path.join(folder, "pr_curve_image"), exist_ok=True)
    with atomic_file(os.path.join(folder, "statistics.csv"), "w") as f:
        w = csv.writer(f)
        w.writerow(["ap@0.5:0.95", "ap@0.5", "ap@0.75", "ar@1", "ar@10", "ar@100"])
        w.writerow([round(stats[k], 3) for k in ("AP", "AP50", "AP75", "AR1", "AR10", "AR100")])
        w.writerow([])
        keys = ["class", "AP", "AP50", "AP75", "gt", "dt", "tp", "precision", "recall", "best_f1",
                "best_f1_score_thr"]
        w.writerow(keys)
        for r in per_class:
            w.writerow([r[k] for k in keys])
    precision = evaluator.eval["precision"]
    recall_pts = evaluator.params.recThrs
    for k, row in enumerate(per_class):
        fig, ax = plt.subplots(figsize=(6, 5))
        for t, label in ((0, "IoU 0.50"), (5, "IoU 0.75")):
            pr = precision[t, :, k, 0, -1]
            ax.plot(recall_pts[pr > -1], pr[pr > -1], label=label)
        mean = np.where(precision[:, :, k, 0, -1] > -1, precision[:, :, k, 0, -1], np.nan)
        ax.plot(recall_pts, np.nanmean(mean, axis=0) if np.isfinite(mean).any() else np.zeros_like(recall_pts),
                label="mean IoU 0.50:0.95")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{row['class']}: AP50 {row['AP50']:.3f}, AP {row['AP']:.3f}")
        ax.legend(loc="lower left")
        ax.grid(True, alpha=0.3)
        _save(fig, os.path.join(folder, "pr_curve_image", f"{_safe(row['class'])}.png"))
        plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for k, row in enumerate(per_class):
        scores, tp, n_gt = _tp_fp_scores(evaluator, k)
        if not len(scores):
            continue
        order = np.argsort(-scores, kind="stable")
        tp_c = np.cumsum(tp[order])
        prec = tp_c / np.arange(1, len(tp_c) + 1)
        rec = tp_c / max(n_gt, 1)
        f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
        for ax, vals in zip(axes, (prec, rec, f1)):
            ax.plot(scores[order], vals, label=row["class"])
    for ax, name in zip(axes, ("precision", "recall", "F1")):
        ax.set_xlabel("score threshold")
        ax.set_ylabel(name)
        ax.set_xlim(1, 0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    _save(fig, os.path.join(folder, "mc_curve.png"))
    plt.close(fig)


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _save(fig, path):
    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=90)

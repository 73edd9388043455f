"""The WIDER FACE evaluation protocol (official MATLAB ``evaluation.m``; same numbers as the widely used
Python port on score-sorted input), vectorised per image.

Protocol:
1. per image, predictions sorted by score, descending (stable);
2. scores normalised once over all images: ``(s - min) / (max - min)``;
3. per setting (easy / medium / hard): faces outside the setting's keep list are "ignore" faces; each
   prediction takes the ground-truth face of maximum IoU (+1 pixel convention); with IoU >= the threshold,
   a hit on an ignore face makes the prediction neither true nor false positive, a first hit on a kept face
   recalls it, a repeated hit stays a false positive;
4. for 1000 score thresholds ``1 - t/1000`` (t = 1..1000) the proposals and recalled faces above the
   threshold are summed over images; precision = recalled / proposals, recall = recalled / kept faces;
5. AP is the VOC all-point area under the monotone precision envelope.
"""

import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from .io import SETTINGS, GroundTruth, WiderFormatError, load_ground_truth, read_prediction

THRESH_NUM = 1000


def bbox_overlaps(boxes, query_boxes):
    """IoU with the +1 pixel convention between (N, 4) and (K, 4) ``x1 y1 x2 y2`` boxes.

    A pair whose intersection width or height (``min x2 - max x1 + 1``) is not positive has IoU 0.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    query_boxes = np.asarray(query_boxes, dtype=np.float64)
    q_area = (query_boxes[:, 2] - query_boxes[:, 0] + 1) * (query_boxes[:, 3] - query_boxes[:, 1] + 1)
    b_area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    iw = np.minimum(boxes[:, None, 2], query_boxes[None, :, 2]) - np.maximum(boxes[:, None, 0],
                                                                            query_boxes[None, :, 0]) + 1
    ih = np.minimum(boxes[:, None, 3], query_boxes[None, :, 3]) - np.maximum(boxes[:, None, 1],
                                                                            query_boxes[None, :, 1]) + 1
    valid = (iw > 0) & (ih > 0)
    inter = iw * ih
    ua = b_area[:, None] + q_area[None, :] - inter
    out = np.zeros(inter.shape, dtype=np.float64)
    np.divide(inter, ua, out=out, where=valid)
    return out


def voc_ap(recall, precision):
    """VOC all-point AP: the area under the right-to-left running maximum of precision."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def thresholds(thresh_num=THRESH_NUM):
    """The score thresholds ``1 - t/thresh_num`` for t = 1..thresh_num (0.999 down to 0.0)."""
    return np.array([1 - (t + 1) / thresh_num for t in range(thresh_num)], dtype=np.float64)


def image_match(pred_xywh, gt_xywh):
    """Best ground-truth face of each prediction: (max IoU, argmax index). Inputs are ``x y w h``."""
    p = pred_xywh[:, :4].astype(np.float64).copy()
    g = gt_xywh[:, :4].astype(np.float64).copy()
    p[:, 2:4] += p[:, 0:2]
    g[:, 2:4] += g[:, 0:2]
    ov = bbox_overlaps(p, g)
    return ov.max(axis=1), ov.argmax(axis=1)


def image_pr(scores, max_iou, argmax, kept_mask, iou_thresh, thr):
    """Per-threshold (proposals, recalled faces) of one image for one setting.

    ``scores`` are normalised and sorted descending; ``kept_mask`` flags the faces of the setting.
    Returns a (len(thr), 2) float64 array.
    """
    hit = max_iou >= iou_thresh
    on_ignored = hit & ~kept_mask[argmax]
    proposal = (~on_ignored).astype(np.int64)
    recall_hit = hit & kept_mask[argmax]
    first = np.zeros(len(scores), dtype=np.int64)
    if recall_hit.any():
        idx = np.flatnonzero(recall_hit)
        _, first_pos = np.unique(argmax[idx], return_index=True)
        first[idx[first_pos]] = 1
    pred_recall = np.cumsum(first)
    cum_prop = np.cumsum(proposal)
    # number of predictions with score >= threshold (scores sorted descending)
    k = np.searchsorted(-scores, -thr, side="right")
    out = np.zeros((len(thr), 2), dtype=np.float64)
    pos = k > 0
    out[pos, 0] = cum_prop[k[pos] - 1]
    out[pos, 1] = pred_recall[k[pos] - 1]
    return out


@dataclass
class WiderEvalResult:
    """APs and PR curves of one evaluation."""

    aps: Dict[str, float]
    curves: Dict[str, Dict[str, np.ndarray]]   # setting -> {"precision", "recall", "threshold"}
    iou_thresh: float = 0.5
    num_images: int = 0
    num_missing: int = 0
    num_predictions: int = 0
    score_min: float = 0.0
    score_max: float = 1.0
    faces: Dict[str, int] = field(default_factory=dict)

    @property
    def easy(self):
        return self.aps["easy"]

    @property
    def medium(self):
        return self.aps["medium"]

    @property
    def hard(self):
        return self.aps["hard"]

    def to_dict(self):
        return {
            "aps": dict(self.aps),
            "iou_thresh": self.iou_thresh,
            "num_images": self.num_images,
            "num_missing_predictions": self.num_missing,
            "num_predictions": self.num_predictions,
            "score_range": [self.score_min, self.score_max],
            "faces": dict(self.faces),
            "curves": {s: {k: [float(x) for x in v] for k, v in c.items()} for s, c in self.curves.items()},
        }

    def summary(self):
        return (f"Easy   Val AP: {self.aps['easy']:.4f}\n"
                f"Medium Val AP: {self.aps['medium']:.4f}\n"
                f"Hard   Val AP: {self.aps['hard']:.4f}")


def _normalise(preds, score_norm):
    lo, hi = (1.0, 0.0) if score_norm == "python" else (np.inf, -np.inf)
    for p in preds:
        if len(p):
            lo = min(lo, float(p[:, 4].min()))
            hi = max(hi, float(p[:, 4].max()))
    if not np.isfinite(lo):
        lo, hi = 0.0, 1.0
    diff = hi - lo
    return lo, hi, diff


def collect_predictions(pred_dir, gt: GroundTruth, strict=False, progress=False):
    """Read the prediction file of every ground-truth image.

    Returns ``(preds, n_missing)`` with ``preds`` a flat list (event-major, as in the ground truth) of
    (N, 5) ``x y w h score`` arrays. Errors: the folder is missing or holds no prediction file, a folder
    is not an event of the ground truth; with ``strict`` also a missing prediction file.
    """
    if not os.path.isdir(pred_dir):
        raise WiderFormatError(f"{pred_dir}: prediction folder does not exist")
    entries = [e for e in os.listdir(pred_dir) if os.path.isdir(os.path.join(pred_dir, e))]
    known = set(gt.events)
    unknown = sorted(e for e in entries if e not in known)
    if unknown:
        raise WiderFormatError(f"{pred_dir}: folder {unknown[0]!r} is not an event of the ground truth "
                               f"({len(unknown)} unknown event folder{'s' if len(unknown) > 1 else ''})")
    n_files = sum(1 for e in entries for f in os.listdir(os.path.join(pred_dir, e)) if f.endswith(".txt"))
    if n_files == 0:
        raise WiderFormatError(f"{pred_dir}: prediction folder holds no prediction file "
                               "(expected <event>/<image>.txt)")
    preds, missing = [], []
    iterator = [(ev, stem) for ev, stems in zip(gt.events, gt.files) for stem in stems]
    if progress:
        try:
            from tqdm import tqdm
            iterator = tqdm(iterator, desc="Reading predictions", unit="img", file=sys.stderr)
        except ImportError:  # pragma: no cover
            pass
    for ev, stem in iterator:
        path = os.path.join(pred_dir, ev, stem + ".txt")
        if os.path.isfile(path):
            preds.append(read_prediction(path))
        else:
            missing.append(path)
            preds.append(np.zeros((0, 5), dtype=np.float64))
    if missing:
        if strict:
            raise WiderFormatError(f"{missing[0]}: prediction file missing ({len(missing)} of "
                                   f"{len(preds)} images have none; --strict)")
        warnings.warn(f"{len(missing)} of {len(preds)} images have no prediction file (first: {missing[0]}); "
                      "they count as images without detections", stacklevel=2)
    return preds, len(missing)


def evaluate_predictions(preds, gt: GroundTruth, iou_thresh=0.5, score_norm="python",
                         thresh_num=THRESH_NUM):
    """Evaluate in-memory predictions: ``preds`` is a flat list (ground-truth order) of (N, 5) arrays
    ``x y w h score``, in any order within an image.

    ``score_norm``: ``"python"`` starts the global min/max at 1/0 as the widely used Python evaluator does;
    ``"matlab"`` uses the plain min/max of the scores as the MATLAB code does. Both agree whenever the
    scores span a range that includes a value <= 1 and a value >= 0 (e.g. probabilities).
    """
    if score_norm not in ("python", "matlab"):
        raise ValueError(f"score_norm must be 'python' or 'matlab', got {score_norm!r}")
    flat_boxes = [b for ev in gt.boxes for b in ev]
    if len(preds) != len(flat_boxes):
        raise ValueError(f"{len(preds)} prediction arrays for {len(flat_boxes)} ground-truth images")
    lo, hi, diff = _normalise(preds, score_norm)
    thr = thresholds(thresh_num)
    keep_flat = {s: [k for ev in gt.keep[s] for k in ev] for s in SETTINGS}
    pr = {s: np.zeros((thresh_num, 2), dtype=np.float64) for s in SETTINGS}
    faces = {s: 0 for s in SETTINGS}
    n_pred = 0
    for i, (p, g) in enumerate(zip(preds, flat_boxes)):
        for s in SETTINGS:
            faces[s] += len(keep_flat[s][i])
        n_pred += len(p)
        if len(g) == 0 or len(p) == 0:
            continue
        order = np.argsort(-p[:, 4], kind="stable")
        p = p[order]
        scores = (p[:, 4] - lo) / diff if diff > 0 else np.ones(len(p))
        max_iou, argmax = image_match(p, g)
        for s in SETTINGS:
            kept = np.zeros(len(g), dtype=bool)
            k = keep_flat[s][i]
            if len(k):
                kept[k - 1] = True
            pr[s] += image_pr(scores, max_iou, argmax, kept, iou_thresh, thr)
    aps, curves = {}, {}
    for s in SETTINGS:
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = pr[s][:, 1] / pr[s][:, 0]
            recall = pr[s][:, 1] / faces[s] if faces[s] else np.zeros(thresh_num)
        aps[s] = voc_ap(recall, precision)
        curves[s] = {"precision": precision, "recall": recall, "threshold": thr}
    return WiderEvalResult(aps=aps, curves=curves, iou_thresh=iou_thresh, num_images=len(preds),
                           num_predictions=n_pred, score_min=lo, score_max=hi, faces=faces)


def evaluate(pred_dir, gt_dir, iou_thresh=0.5, strict=False, score_norm="python", progress=False,
             gt: Optional[GroundTruth] = None):
    """Evaluate a prediction folder against the ground-truth folder (``wider_*_val.mat``)."""
    if gt is None:
        gt = load_ground_truth(gt_dir)
    preds, n_missing = collect_predictions(pred_dir, gt, strict=strict, progress=progress)
    res = evaluate_predictions(preds, gt, iou_thresh=iou_thresh, score_norm=score_norm)
    res.num_missing = n_missing
    return res

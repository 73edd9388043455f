"""The WIDER FACE evaluation protocol (official MATLAB ``evaluation.m``; same numbers as the widely used
Python port on score-sorted input).

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

How it is computed (``image_match`` / ``image_pr`` below are the plain per-image form, kept as the reference):

* The IoU and the best face of each prediction do not depend on the setting, so there is one matching pass
  for all three settings; only the ignore flags differ.
* Only the best face of a prediction whose IoU reaches the threshold matters. A face can reach a positive
  threshold only if the two boxes intersect (``min x2 - max x1 + 1 > 0``, same for y); candidate pairs are found
  per image with that test in float32, rounded outwards so it never drops a pair the float64 test keeps; the
  IoU of the candidates is then computed exactly as the reference does (float64, same operation order), and the
  maximum with ties to the lowest face index is the reference's ``argmax``.
* Per setting, the proposals above a threshold are all predictions of the images with faces minus those on
  ignore faces, and the recalled faces above a threshold are the kept faces whose best-scoring hit is above it
  (with scores sorted, the first hit is the highest-scoring one). Both are histograms over the threshold bins,
  summed over all images at once, with exactly the per-image counts of the reference.
* Prediction files are read by :mod:`widerface_eval.reader` (same results as the plain parser); with
  ``workers > 1`` the images are split between forked processes.
"""

import os
import pickle
import sys
import warnings
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from . import reader
from .io import SETTINGS, GroundTruth, NoMatchingPredictionsError, WiderFormatError, load_ground_truth

THRESH_NUM = 1000


class MissingPredictionsWarning(UserWarning):
    """Some ground-truth images have no prediction file (they count as images without detections).

    Hidden by default: :func:`collect_predictions` prints the same message as one plain line on stderr; the
    warning is there for code (and tests) that want to catch it.
    """


warnings.filterwarnings("ignore", category=MissingPredictionsWarning)


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


def _default_workers():
    """Processes for the CLI: the CPUs this process may use (at most 4), where ``fork`` is safe (Linux)."""
    if not sys.platform.startswith("linux"):
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


# --------------------------------------------------------------------------------------------------
# Ground truth as flat arrays
# --------------------------------------------------------------------------------------------------
class _FlatGroundTruth:
    """The faces of all images as flat arrays (image ``i`` owns faces ``off[i]:off[i+1]``)."""

    def __init__(self, gt: GroundTruth, settings=SETTINGS):
        boxes = [b for ev in gt.boxes for b in ev]
        self.n_images = len(boxes)
        n = np.array([len(b) for b in boxes], dtype=np.int64)
        self.n_faces = n
        self.off = np.concatenate(([0], np.cumsum(n)))
        b = np.concatenate(boxes).reshape(-1, 4).astype(np.float64) if boxes else np.zeros((0, 4))
        self.boxes = b                       # x y w h as loaded
        self.x1, self.y1 = b[:, 0].copy(), b[:, 1].copy()
        self.x2, self.y2 = self.x1 + b[:, 2], self.y1 + b[:, 3]
        self.area = (self.x2 - self.x1 + 1) * (self.y2 - self.y1 + 1)
        # intersection test of the matching; a face whose own x2 + 1 < x1 (w < -1) never intersects
        self.x2p1, self.y2p1 = self.x2 + 1, self.y2 + 1
        self.x1_test = np.where(self.x2p1 >= self.x1, self.x1, np.inf)
        self.y1_test = np.where(self.y2p1 >= self.y1, self.y1, np.inf)
        self.kept, self.faces = {}, {}
        for s in settings:
            keep = [k for ev in gt.keep[s] for k in ev]
            lens = np.array([len(k) for k in keep], dtype=np.int64)
            mask = np.zeros(len(b), dtype=bool)
            if lens.sum():
                idx = np.concatenate([np.asarray(k).reshape(-1) for k in keep]).astype(np.int64) - 1
                mask[idx + np.repeat(self.off[:-1], lens)] = True
            self.kept[s] = mask
            self.faces[s] = int(lens.sum())


# --------------------------------------------------------------------------------------------------
# Matching: the best face (IoU >= threshold) of each prediction
# --------------------------------------------------------------------------------------------------
def match_predictions(preds, counts, flat, first_image=0, iou_thresh=0.5):
    """Best face of each prediction, for consecutive images.

    ``preds``: (N, 5+) ``x y w h ...`` of images ``first_image, first_image + 1, ...`` concatenated;
    ``counts``: predictions per image. Returns ``(pred_index, face_index)`` of the predictions whose
    maximum IoU reaches ``iou_thresh``; ``face_index`` is global (into the flat faces), the face of maximum IoU
    with ties to the lowest index, as ``numpy.argmax`` in the reference.

    A pair has a positive IoU only if ``iw = min(x2, x2') - max(x1, x1') + 1 > 0`` (as computed in float64),
    which implies ``x2 + 1 >= x1'`` and ``x2' + 1 >= x1`` (rounding is monotone), and the same in y: that
    test, per image on all pairs, selects the candidates; their IoU is then computed exactly as the reference
    computes it.
    """
    counts = np.asarray(counts, dtype=np.int64)
    poff = np.concatenate(([0], np.cumsum(counts))).tolist()
    goff = flat.off[first_image:first_image + len(counts) + 1].tolist()
    if not iou_thresh > 0:   # every prediction hits its argmax face, even at IoU 0: the plain form
        return _match_dense(preds, poff, goff, flat, iou_thresh)
    px1 = preds[:, 0]
    py1 = preds[:, 1]
    px2 = px1 + preds[:, 2]
    py2 = py1 + preds[:, 3]
    px2p1, py2p1 = px2 + 1, py2 + 1
    px1_test = np.where(px2p1 >= px1, px1, np.inf)
    py1_test = np.where(py2p1 >= py1, py1, np.inf)
    gx1, gx2p1, gy1, gy2p1 = flat.x1_test, flat.x2p1, flat.y1_test, flat.y2p1
    cand_p, cand_g = [], []
    for s, e, gs, ge in zip(poff[:-1], poff[1:], goff[:-1], goff[1:]):
        if s == e or gs == ge:
            continue
        m = np.greater_equal(px2p1[None, s:e], gx1[gs:ge, None])       # (G, P): inner loops over predictions
        m &= np.less_equal(px1_test[None, s:e], gx2p1[gs:ge, None])
        m &= np.greater_equal(py2p1[None, s:e], gy1[gs:ge, None])
        m &= np.less_equal(py1_test[None, s:e], gy2p1[gs:ge, None])
        k = np.flatnonzero(m)
        if len(k):
            g, p = np.divmod(k, e - s)
            cand_p.append(p + s)
            cand_g.append(g + gs)
    if not cand_p:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    p = np.concatenate(cand_p)
    g = np.concatenate(cand_g)
    # the reference's IoU (box_overlaps.pyx): the same float64 operations in the same order
    iw = np.minimum(px2[p], flat.x2[g]) - np.maximum(px1[p], flat.x1[g]) + 1
    ih = np.minimum(py2[p], flat.y2[g]) - np.maximum(py1[p], flat.y1[g]) + 1
    ok = (iw > 0) & (ih > 0)
    p, g, iw, ih = p[ok], g[ok], iw[ok], ih[ok]
    inter = iw * ih
    ua = (px2[p] - px1[p] + 1) * (py2[p] - py1[p] + 1) + flat.area[g] - inter
    iou = inter / ua
    ok = iou >= iou_thresh
    p, g, iou = p[ok], g[ok], iou[ok]
    order = np.lexsort((g, -iou, p))            # per prediction: highest IoU, then lowest face index
    p, g = p[order], g[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    return p[first], g[first]


def _match_dense(preds, poff, goff, flat, iou_thresh):
    out_p, out_g = [], []
    for s, e, gs, ge in zip(poff[:-1], poff[1:], goff[:-1], goff[1:]):
        if s == e or gs == ge:
            continue
        max_iou, argmax = image_match(preds[s:e], flat.boxes[gs:ge])
        hit = np.flatnonzero(max_iou >= iou_thresh)
        out_p.append(hit + s)
        out_g.append(argmax[hit] + gs)
    if not out_p:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_p), np.concatenate(out_g)


# --------------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------------
def _score_range(scores, score_norm):
    if score_norm == "python":
        lo, hi = 1.0, 0.0
        if len(scores):
            lo, hi = min(lo, float(scores.min())), max(hi, float(scores.max()))
    else:
        lo, hi = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)
    return lo, hi


def _threshold_bins(s, thr):
    """Per normalised score, the first threshold index ``t`` with ``s >= thr[t]`` (``len(thr)`` if none).

    ``thr`` descends; the bin is guessed from ``s * T`` and corrected until it satisfies the comparisons
    exactly (the same comparisons as the reference's ``score >= thresh``).
    """
    T = len(thr)
    ext = np.concatenate(([-np.inf], thr[::-1], [np.inf]))     # ascending, padded: ext[k] = asc[k - 1]
    k = np.clip(np.floor(s * T).astype(np.int64) + 1, 0, T)   # k = number of thresholds <= s
    for _ in range(4):
        low = ext[k] > s
        high = ext[k + 1] <= s
        if not (low.any() or high.any()):
            return T - k
        k = k - low + high
    k = np.searchsorted(ext[1:T + 1], s, side="right")        # pragma: no cover (never needed in practice)
    return T - k


def _curves(scores, counts, hit_p, hit_g, flat, score_norm, thresh_num, settings):
    lo, hi = _score_range(scores, score_norm)
    diff = hi - lo
    thr = thresholds(thresh_num)
    if diff > 0:
        norm = (scores - lo) / diff
    else:
        norm = np.ones(len(scores))
    col = _threshold_bins(norm, thr)
    in_gt_image = np.repeat(flat.n_faces > 0, counts)
    n_bins = thresh_num + 1
    all_props = np.bincount(col[in_gt_image], minlength=n_bins)
    hit_col = col[hit_p]
    best = np.full(len(flat.x1), n_bins, dtype=np.int64)      # best-scoring hit of each face
    np.minimum.at(best, hit_g, hit_col)
    aps, curves = {}, {}
    for s in settings:
        kept = flat.kept[s]
        on_ignored = ~kept[hit_g]
        props = np.cumsum(all_props - np.bincount(hit_col[on_ignored], minlength=n_bins))[:thresh_num]
        recalled_cols = best[kept]
        recalled = np.cumsum(np.bincount(recalled_cols[recalled_cols < n_bins], minlength=n_bins))[:thresh_num]
        faces = flat.faces[s]
        props, recalled = props.astype(np.float64), recalled.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = recalled / props
            recall = recalled / faces if faces else np.zeros(thresh_num)
        aps[s] = voc_ap(recall, precision)
        curves[s] = {"precision": precision, "recall": recall, "threshold": thr}
    return aps, curves, lo, hi


# --------------------------------------------------------------------------------------------------
# Reading a prediction folder
# --------------------------------------------------------------------------------------------------
def _check_prediction_dir(pred_dir, gt):
    """The folder checks done before reading: it exists, its folders are events, it holds .txt files."""
    if not os.path.isdir(pred_dir):
        raise WiderFormatError(f"{pred_dir}: prediction folder does not exist")
    entries = [e for e in os.listdir(pred_dir) if os.path.isdir(os.path.join(pred_dir, e))]
    known = set(gt.events)
    unknown = sorted(e for e in entries if e not in known)
    if unknown:
        raise WiderFormatError(f"{pred_dir}: folder {unknown[0]!r} is not an event of the ground truth "
                               f"({len(unknown)} unknown event folder{'s' if len(unknown) > 1 else ''})")
    found = [(e, f) for e in sorted(entries) for f in sorted(os.listdir(os.path.join(pred_dir, e)))
             if f.endswith(".txt")]
    if not found:
        raise WiderFormatError(f"{pred_dir}: prediction folder holds no prediction file "
                               "(expected <event>/<image>.txt)")
    return found


def _prediction_paths(pred_dir, gt):
    """``os.path.join(pred_dir, event, stem + ".txt")`` of every image (one join per event)."""
    paths = []
    for ev, stems in zip(gt.events, gt.files):
        prefix = os.path.join(pred_dir, ev, "")
        paths += [prefix + stem + ".txt" for stem in stems]
    return paths


def _report_missing(pred_dir, gt, paths, found_mask, listed, strict):
    """No match at all is an error; some missing files are an error with ``strict``, else one stderr line."""
    n_missing = int(len(paths) - found_mask.sum())
    if n_missing == len(paths) and paths:
        where = f" ({gt.gt_dir})" if gt.gt_dir else ""
        raise NoMatchingPredictionsError(
            f"{pred_dir}: no prediction file matches an image of the ground truth{where}: expected e.g. "
            f"{os.path.relpath(paths[0], pred_dir)} (one of {len(paths)} images), found e.g. "
            f"{os.path.join(*listed[0])} "
            f"(one of {len(listed)} files); the predictions are of another image set")
    if n_missing:
        first = paths[int(np.flatnonzero(~found_mask)[0])]
        if strict:
            raise WiderFormatError(f"{first}: prediction file missing ({n_missing} of "
                                   f"{len(paths)} images have none; --strict)")
        message = (f"{n_missing} of {len(paths)} images have no prediction file (first: {first}); "
                   "they count as images without detections")
        print(f"widerface_eval: warning: {message}", file=sys.stderr, flush=True)
        warnings.warn(message, MissingPredictionsWarning, stacklevel=3)
    return n_missing


def _read_and_match(paths, flat, lo, hi, iou_thresh, progress=None):
    """Read, parse and match the prediction files of images ``lo:hi`` in groups of about
    ``reader.CHUNK_BYTES``. Returns a dict of flat arrays for these images."""
    counts = np.zeros(hi - lo, dtype=np.int64)
    found = np.zeros(hi - lo, dtype=bool)
    scores, hit_p, hit_g = [], [], []
    n_pred = 0
    i = lo
    while i < hi:
        start, datas, size = i, [], 0
        while i < hi and (size < reader.CHUNK_BYTES or i == start):
            data = reader.read_file(paths[i])
            datas.append(data)
            size += len(data) if data is not None else 0
            i += 1
        values, c = reader.parse_files(paths[start:i], datas)
        counts[start - lo:i - lo] = c
        found[start - lo:i - lo] = [d is not None for d in datas]
        p, g = match_predictions(values, c, flat, first_image=start, iou_thresh=iou_thresh)
        scores.append(values[:, 4].copy())
        hit_p.append(p + n_pred)
        hit_g.append(g)
        n_pred += len(values)
        if progress is not None:
            progress.update(i - start)
    cat = (lambda a, dt: np.concatenate(a) if a else np.zeros(0, dt))
    return {"counts": counts, "found": found, "scores": cat(scores, np.float64),
            "hit_p": cat(hit_p, np.int64), "hit_g": cat(hit_g, np.int64)}


def _read_parallel(paths, flat, iou_thresh, workers, progress=None):
    """:func:`_read_and_match` over ``workers`` contiguous image ranges, the first in this process and the
    others in forked children (results through pipes). Errors are raised as the sequential reading raises
    them: the first in image order."""
    n = len(paths)
    bounds = [n * k // workers for k in range(workers + 1)]
    children = []
    try:
        for k in range(1, workers):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:   # child: compute its range, send the result (or the exception), never return
                try:
                    os.close(r)
                    try:
                        res = ("ok", _read_and_match(paths, flat, bounds[k], bounds[k + 1], iou_thresh))
                    except BaseException as exc:  # noqa: BLE001 (re-raised by the parent)
                        res = ("error", exc)
                    try:
                        payload = pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL)
                    except Exception as exc:  # an unpicklable exception
                        payload = pickle.dumps(("error", RuntimeError(repr(res[1]))))
                    with os.fdopen(w, "wb") as f:
                        f.write(payload)
                finally:
                    os._exit(0)
            os.close(w)
            children.append((pid, r))
        parts = [_read_and_match(paths, flat, bounds[0], bounds[1], iou_thresh, progress)]
        for k, (pid, r) in enumerate(children, start=1):
            with os.fdopen(r, "rb") as f:
                payload = f.read()
            os.waitpid(pid, 0)
            children[k - 1] = None
            if not payload:
                raise RuntimeError(f"widerface_eval worker {k} died without a result")
            status, res = pickle.loads(payload)
            if status == "error":
                raise res
            parts.append(res)
            if progress is not None:
                progress.update(bounds[k + 1] - bounds[k])
    finally:
        for child in children:
            if child is not None:
                pid, r = child
                try:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
                try:
                    os.close(r)
                except OSError:
                    pass
    return _join_parts(parts)


def _join_parts(parts):
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("counts", "found", "scores", "hit_g")}
    offsets = np.cumsum([0] + [len(p["scores"]) for p in parts[:-1]])
    out["hit_p"] = np.concatenate([p["hit_p"] + o for p, o in zip(parts, offsets)])
    return out


def _progress_bar(total, enabled):
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc="Reading predictions", unit="img", file=sys.stderr)


def collect_predictions(pred_dir, gt: GroundTruth, strict=False, progress=False):
    """Read the prediction file of every ground-truth image.

    Returns ``(preds, n_missing)`` with ``preds`` a flat list (event-major, as in the ground truth) of
    (N, 5) ``x y w h score`` arrays. Errors: the folder is missing or holds no prediction file, a folder
    is not an event of the ground truth, no prediction file matches a ground-truth image; with ``strict`` also
    a missing prediction file. Some missing files: one warning line on stderr (and a
    :class:`MissingPredictionsWarning`).
    """
    listed = _check_prediction_dir(pred_dir, gt)
    paths = _prediction_paths(pred_dir, gt)
    bar = _progress_bar(len(paths), progress)
    datas = []
    for p in paths:
        datas.append(reader.read_file(p))
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    found = np.array([d is not None for d in datas], dtype=bool)
    values, counts = reader.parse_files(paths, datas)
    n_missing = _report_missing(pred_dir, gt, paths, found, listed, strict)
    ends = np.cumsum(counts).tolist()
    preds = [values[a:b] for a, b in zip([0] + ends[:-1], ends)]
    return preds, n_missing


def _validate_settings(settings):
    settings = tuple(settings)
    bad = [s for s in settings if s not in SETTINGS]
    if bad or not settings:
        raise ValueError(f"settings must be a non-empty subset of {SETTINGS}, got {settings!r}")
    return settings


def evaluate_predictions(preds, gt: GroundTruth, iou_thresh=0.5, score_norm="python",
                         thresh_num=THRESH_NUM, settings=SETTINGS):
    """Evaluate in-memory predictions: ``preds`` is a flat list (ground-truth order) of (N, 5) arrays
    ``x y w h score``, in any order within an image.

    ``score_norm``: ``"python"`` starts the global min/max at 1/0 as the widely used Python evaluator does;
    ``"matlab"`` uses the plain min/max of the scores as the MATLAB code does. Both agree whenever the
    scores span a range that includes a value <= 1 and a value >= 0 (e.g. probabilities).
    ``settings``: the settings to compute (each is computed independently of the others).
    """
    if score_norm not in ("python", "matlab"):
        raise ValueError(f"score_norm must be 'python' or 'matlab', got {score_norm!r}")
    settings = _validate_settings(settings)
    flat = _FlatGroundTruth(gt, settings)
    if len(preds) != flat.n_images:
        raise ValueError(f"{len(preds)} prediction arrays for {flat.n_images} ground-truth images")
    arrays = [np.asarray(p, dtype=np.float64).reshape(-1, 5) for p in preds]
    counts = np.array([len(p) for p in arrays], dtype=np.int64)
    values = np.concatenate(arrays) if arrays else np.zeros((0, 5))
    if not np.isfinite(values).all():
        raise ValueError("predictions contain NaN or inf")
    hit_p, hit_g = match_predictions(values, counts, flat, iou_thresh=iou_thresh)
    return _result(values[:, 4], counts, hit_p, hit_g, flat, iou_thresh, score_norm, thresh_num, settings)


def _result(scores, counts, hit_p, hit_g, flat, iou_thresh, score_norm, thresh_num, settings):
    aps, curves, lo, hi = _curves(scores, counts, hit_p, hit_g, flat, score_norm, thresh_num, settings)
    return WiderEvalResult(aps=aps, curves=curves, iou_thresh=iou_thresh, num_images=flat.n_images,
                           num_predictions=int(len(scores)), score_min=lo, score_max=hi,
                           faces={s: flat.faces[s] for s in settings})


def evaluate(pred_dir, gt_dir, iou_thresh=0.5, strict=False, score_norm="python", progress=False,
             gt: Optional[GroundTruth] = None, workers=1):
    """Evaluate a prediction folder against the ground-truth folder (``wider_*_val.mat``).

    ``workers``: processes that read and match the files (forked; the CLI uses the available CPUs).
    Keep 1 inside programs whose threads must not be forked.
    """
    if score_norm not in ("python", "matlab"):
        raise ValueError(f"score_norm must be 'python' or 'matlab', got {score_norm!r}")
    if gt is None:
        gt = load_ground_truth(gt_dir)
    listed = _check_prediction_dir(pred_dir, gt)
    flat = _FlatGroundTruth(gt)
    paths = _prediction_paths(pred_dir, gt)
    workers = max(1, min(int(workers), len(paths) // 64 + 1)) if hasattr(os, "fork") else 1
    bar = _progress_bar(len(paths), progress)
    try:
        if workers > 1:
            res = _read_parallel(paths, flat, iou_thresh, workers, bar)
        else:
            res = _read_and_match(paths, flat, 0, len(paths), iou_thresh, bar)
    finally:
        if bar is not None:
            bar.close()
    n_missing = _report_missing(pred_dir, gt, paths, res["found"], listed, strict)
    out = _result(res["scores"], res["counts"], res["hit_p"], res["hit_g"], flat, iou_thresh, score_norm,
                  THRESH_NUM, SETTINGS)
    out.num_missing = n_missing
    return out

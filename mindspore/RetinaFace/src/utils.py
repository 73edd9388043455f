"""Priors, matching / encoding, decoding, NMS, post-processing and checkpoint helpers (NumPy, framework-free)."""
import json
import math
import os
import tempfile
from itertools import product

import numpy as np


# ----------------------------------------------------------------------------------------------- priors
def feature_map_sizes(image_size, steps):
    """ceil(H / s), ceil(W / s) per level. ``image_size`` = (H, W)."""
    h, w = image_size
    return [(int(math.ceil(h / s)), int(math.ceil(w / s))) for s in steps]


def prior_box(image_size, min_sizes=((16, 32), (64, 128), (256, 512)), steps=(8, 16, 32), clip=False):
    """Anchors (cx, cy, w, h) normalised by the input (H, W); order level -> row -> column -> min size.

    29,126 priors at 840x840, 16,800 at 640x640, 194,208 at 2176x2176.
    """
    h, w = image_size
    anchors = []
    for (fh, fw), sizes, step in zip(feature_map_sizes(image_size, steps), min_sizes, steps):
        for i, j in product(range(fh), range(fw)):
            for m in sizes:
                anchors += [(j + 0.5) * step / w, (i + 0.5) * step / h, m / w, m / h]
    out = np.asarray(anchors, dtype=np.float64).reshape(-1, 4)
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return out.astype(np.float32)


def num_priors(image_size, steps=(8, 16, 32), anchors_per_cell=2):
    return anchors_per_cell * sum(fh * fw for fh, fw in feature_map_sizes(image_size, steps))


def priors_from_cfg(cfg, image_size):
    return prior_box(image_size, cfg["min_sizes"], cfg["steps"], cfg["clip"])


# ----------------------------------------------------------------------------------------------- box geometry
def point_form(priors):
    """(cx, cy, w, h) -> (x1, y1, x2, y2)."""
    return np.concatenate((priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2), axis=1)


def box_iou(box_a, box_b):
    """IoU matrix (A, B) of xyxy boxes, areas (x2-x1)*(y2-y1) (no +1), as the reference's match()."""
    lt = np.maximum(box_a[:, None, :2], box_b[None, :, :2])
    rb = np.minimum(box_a[:, None, 2:], box_b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = ((box_a[:, 2] - box_a[:, 0]) * (box_a[:, 3] - box_a[:, 1]))[:, None]
    area_b = ((box_b[:, 2] - box_b[:, 0]) * (box_b[:, 3] - box_b[:, 1]))[None, :]
    return inter / (area_a + area_b - inter)


# ----------------------------------------------------------------------------------------------- encode / decode
def encode(matched, priors, variances):
    """xyxy ground truth matched to each prior -> (dcx, dcy, dw, dh) regression targets."""
    g_cxcy = (matched[:, :2] + matched[:, 2:]) / 2 - priors[:, :2]
    g_cxcy /= variances[0] * priors[:, 2:]
    g_wh = (matched[:, 2:] - matched[:, :2]) / priors[:, 2:]
    g_wh = np.where(g_wh == 0, 1e-12, g_wh)
    g_wh = np.log(g_wh) / variances[1]
    return np.concatenate([g_cxcy, g_wh], axis=1)


def encode_landm(matched, priors, variances):
    """(P, 10) landmarks -> offsets from the prior centre in units of variance[0] * prior size."""
    pts = matched.reshape(-1, 5, 2)
    c = priors[:, None, :2]
    wh = priors[:, None, 2:]
    return ((pts - c) / (variances[0] * wh)).reshape(-1, 10)


def decode(loc, priors, variances):
    """Inverse of :func:`encode`; returns normalised xyxy. Same float32 op order as the PyTorch original."""
    loc = np.asarray(loc, np.float32)
    priors = np.asarray(priors, np.float32)
    boxes = np.concatenate((priors[:, :2] + loc[:, :2] * np.float32(variances[0]) * priors[:, 2:],
                            priors[:, 2:] * np.exp(loc[:, 2:] * np.float32(variances[1]))), axis=1)
    boxes[:, :2] -= boxes[:, 2:] / 2
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def decode_landm(pre, priors, variances):
    """Inverse of :func:`encode_landm`; returns normalised (N, 10) landmarks."""
    pre = np.asarray(pre, np.float32)
    priors = np.asarray(priors, np.float32)
    v0 = np.float32(variances[0])
    return np.concatenate([priors[:, :2] + pre[:, 2 * k:2 * k + 2] * v0 * priors[:, 2:] for k in range(5)], axis=1)


# ----------------------------------------------------------------------------------------------- matching
def match(threshold, truths, priors, variances, labels, landms):
    """Assign ground truth to priors (reference ``utils.match``).

    truths (G, 4) normalised xyxy, labels (G,) in {1 (landmarks), -1 (no landmarks)}, landms (G, 10) normalised.
    GTs whose best prior has IoU < 0.2 are left out of the forced matching; if none reaches 0.2 the image is all
    background. Each kept GT's best prior is forced to it (overlap 2); priors with best overlap < threshold are
    background. Returns loc_t (P, 4) float32, conf_t (P,) int32, landm_t (P, 10) float32.
    """
    num_p = priors.shape[0]
    truths = np.asarray(truths, np.float64).reshape(-1, 4)
    if truths.shape[0] == 0:
        return (np.zeros((num_p, 4), np.float32), np.zeros((num_p,), np.int32), np.zeros((num_p, 10), np.float32))
    overlaps = box_iou(truths, point_form(priors.astype(np.float64)))      # (G, P)
    best_prior_overlap = overlaps.max(axis=1)
    best_prior_idx = overlaps.argmax(axis=1)
    valid_gt = best_prior_overlap >= 0.2
    best_prior_idx_filter = best_prior_idx[valid_gt]
    if best_prior_idx_filter.shape[0] <= 0:
        return (np.zeros((num_p, 4), np.float32), np.zeros((num_p,), np.int32), np.zeros((num_p, 10), np.float32))
    best_truth_overlap = overlaps.max(axis=0)
    best_truth_idx = overlaps.argmax(axis=0)
    best_truth_overlap[best_prior_idx_filter] = 2.0
    for j in range(best_prior_idx.shape[0]):        # every GT (the filtered ones too), later GTs win ties
        best_truth_idx[best_prior_idx[j]] = j
    matches = truths[best_truth_idx]
    conf = np.asarray(labels)[best_truth_idx].astype(np.int32)
    conf[best_truth_overlap < threshold] = 0
    loc = encode(matches, priors.astype(np.float64), variances)
    landm = encode_landm(np.asarray(landms, np.float64)[best_truth_idx], priors.astype(np.float64), variances)
    return loc.astype(np.float32), conf, landm.astype(np.float32)


# ----------------------------------------------------------------------------------------------- NMS / detection
def nms(dets, thresh):
    """Greedy NMS, float32, +1-pixel areas; keeps boxes with IoU <= thresh to every kept box (py_cpu_nms)."""
    dets = np.asarray(dets, np.float32)
    if dets.shape[0] == 0:
        return np.zeros((0,), np.int64)
    x1, y1, x2, y2, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return np.asarray(keep, np.int64)


def detect(loc, conf, landms, priors, variances, scale_hw, resize=1.0, confidence_threshold=0.02,
           nms_threshold=0.4, top_k=None, keep_top_k=None):
    """Decode one image's raw outputs into (N, 15) [x1, y1, x2, y2, score, 10 landmark coords] in image pixels.

    loc (P, 4), conf (P, 2) softmax scores, landms (P, 10) or None; ``scale_hw`` = (H, W) of the network input the
    priors were built for; coordinates are divided by ``resize`` (the image -> input scale factor).
    Defaults are the MindSpore eval protocol (0.02 / 0.4, no top-k); the PyTorch test.py uses 0.05 / 0.3 /
    top_k 5000 / keep_top_k 750.
    """
    h, w = scale_hw
    with np.errstate(over="ignore", invalid="ignore"):
        boxes = decode(np.asarray(loc).reshape(-1, 4), priors, variances)
        boxes = boxes * np.array([w, h, w, h], np.float32) / np.float32(resize)
    scores = np.asarray(conf).reshape(-1, 2)[:, 1]
    if landms is not None:
        lm = decode_landm(np.asarray(landms).reshape(-1, 10), priors, variances)
        lm = lm * np.array([w, h] * 5, np.float32) / np.float32(resize)
    else:
        lm = np.zeros((boxes.shape[0], 10), np.float32)
    # an untrained network can overflow exp() in the decode: a non-finite box is not a detection
    inds = np.where((scores > confidence_threshold) & np.isfinite(boxes).all(axis=1))[0]
    boxes, lm, scores = boxes[inds], lm[inds], scores[inds]
    order = scores.argsort()[::-1]
    if top_k is not None:
        order = order[:top_k]
    boxes, lm, scores = boxes[order], lm[order], scores[order]
    dets = np.hstack((boxes, scores[:, None])).astype(np.float32, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):     # finite but huge boxes of an untrained network
        keep = nms(dets, nms_threshold)
    out = np.concatenate((dets[keep], lm[keep]), axis=1)
    if keep_top_k is not None:
        out = out[:keep_top_k]
    return out


# ----------------------------------------------------------------------------------------------- checkpoints
CONFIG_KEY = "zoo_model_config"


def save_ckpt(net_or_params, path, model_cfg, extra=None):
    """Atomic ``save_checkpoint`` (temp file + rename) that embeds the model configuration as JSON."""
    import mindspore as ms
    append = {CONFIG_KEY: json.dumps(model_cfg, sort_keys=True)}
    if extra:
        append.update(extra)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".ckpt", dir=d)
    os.close(fd)
    try:
        ms.save_checkpoint(net_or_params, tmp, append_dict=append)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_ckpt(path):
    """(param_dict, model_cfg or None, extras dict). Clear errors for missing or unreadable files."""
    import mindspore as ms
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        params = ms.load_checkpoint(path)
    except Exception as e:  # noqa: BLE001 - MindSpore raises ValueError/RuntimeError for corrupt files
        raise ValueError(f"{path}: not a readable MindSpore checkpoint ({e.__class__.__name__}: {e})") from None
    model_cfg = None
    extras = {}
    for k in list(params):
        v = params[k]
        if k == CONFIG_KEY:
            model_cfg = json.loads(str(v))
            del params[k]
        elif isinstance(v, (str, int, float)):
            extras[k] = v
            del params[k]
    return params, model_cfg, extras

"""Box utilities of S3FD: box forms, IoU, the scale-compensation ``match``, the SSD box coder, greedy ``nms``.

Boxes are ``(x1, y1, x2, y2)`` ("point form") or ``(cx, cy, w, h)`` ("center size", the priors), normalised by
the network input's width and height. IoU uses plain areas ``(x2 - x1) * (y2 - y1)`` (no +1), as the reference.
Every operation keeps the reference's float32 operation order, so results agree with it bit for bit.
"""
import numpy as np
import torch


def point_form(boxes):
    """(cx, cy, w, h) -> (x1, y1, x2, y2)."""
    return torch.cat((boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2), 1)


def center_size(boxes):
    """(x1, y1, x2, y2) -> (cx, cy, w, h)."""
    return torch.cat(((boxes[:, 2:] + boxes[:, :2]) / 2, boxes[:, 2:] - boxes[:, :2]), 1)


def intersect(box_a, box_b):
    """[A, B] intersection areas of two sets of point-form boxes."""
    max_xy = torch.min(box_a[:, None, 2:], box_b[None, :, 2:])
    min_xy = torch.max(box_a[:, None, :2], box_b[None, :, :2])
    inter = torch.clamp(max_xy - min_xy, min=0)
    return inter[:, :, 0] * inter[:, :, 1]


def jaccard(box_a, box_b):
    """[A, B] IoU of two sets of point-form boxes (plain areas)."""
    inter = intersect(box_a, box_b)
    area_a = ((box_a[:, 2] - box_a[:, 0]) * (box_a[:, 3] - box_a[:, 1]))[:, None]
    area_b = ((box_b[:, 2] - box_b[:, 0]) * (box_b[:, 3] - box_b[:, 1]))[None, :]
    union = area_a + area_b - inter
    return inter / union


def encode(matched, priors, variances):
    """SSD box coder: point-form targets relative to center-size priors,
    ``t_xy = (g_c - p_c) / (v0 * p_wh)``, ``t_wh = log(g_wh / p_wh) / v1``."""
    g_cxcy = (matched[:, :2] + matched[:, 2:]) / 2 - priors[:, :2]
    g_cxcy /= variances[0] * priors[:, 2:]
    g_wh = (matched[:, 2:] - matched[:, :2]) / priors[:, 2:]
    g_wh = torch.log(g_wh) / variances[1]
    return torch.cat([g_cxcy, g_wh], 1)


def decode(loc, priors, variances):
    """The inverse of ``encode``: ``c = p_c + loc_xy * v0 * p_wh``, ``wh = p_wh * exp(loc_wh * v1)``, then
    ``x1y1 = c - wh / 2`` and ``x2y2 = x1y1 + wh`` (float32, the reference's order of operations)."""
    boxes = torch.cat((priors[:, :2] + loc[:, :2] * variances[0] * priors[:, 2:],
                       priors[:, 2:] * torch.exp(loc[:, 2:] * variances[1])), 1)
    boxes[:, :2] -= boxes[:, 2:] / 2
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def log_sum_exp(x):
    """``log(sum(exp(x), 1))`` per row, [N, 1].

    Stabilised per row (``torch.logsumexp``). The reference subtracts the maximum of the whole batch instead: a row
    whose logits lie ~90 below that maximum underflows to ``log(0) = -inf``, and hard negative mining then never
    selects it, however wrong its score (seen here from scratch, with logits of +-430). Where nothing underflows,
    the two agree to float rounding."""
    return torch.logsumexp(x, dim=1, keepdim=True)


def match(threshold, truths, priors, variances, labels, stage2="image"):
    """S3FD's scale-compensation anchor matching of one image; returns ``(loc_t [P, 4], conf_t [P])``.

    ``threshold = (th1, th2, th3)`` = (0.1, 0.35, 0.5); ``truths`` [G, 4] point form, ``priors`` [P, 4] center size.

    Stage 1 (SSD matching at a lowered threshold):
      1. every prior takes the ground truth of highest IoU (``best_truth``);
      2. every ground truth forces its best prior to itself (IoU set to 2; GTs later in the list win a shared prior);
      3. priors whose best IoU is below th2 are background (label 0).
    Stage 2 (scale compensation), ``stage2="image"``, the reference's implementation:
      4. ``N = (#GT whose best-prior IoU >= th2 + #GT whose best-prior IoU >= th3) // 2``, over the whole image;
      5. the priors with th1 < IoU < th2 are sorted by IoU, descending, over the whole image (not per face), and the
         first N of them (fewer if fewer than N have IoU > th1) become positive, regressing to their best GT.
    ``stage2="face"``, the paper's rule: N_p = the mean number of stage-1 positives per face (rounded, at least 1);
    each face with fewer than N_p positives takes its highest-IoU priors with IoU > th1 that are still background
    until it has N_p (faces in list order).

    Location targets are ``encode(matched GT, prior)`` for every prior (only positives are used by the loss).
    """
    th1, th2, th3 = threshold
    overlaps = jaccard(truths, point_form(priors))                     # [G, P]
    best_prior_overlap, best_prior_idx = overlaps.max(1)                # [G]
    best_truth_overlap, best_truth_idx = overlaps.max(0)                # [P]
    best_truth_overlap.index_fill_(0, best_prior_idx, 2)
    for j in range(best_prior_idx.size(0)):
        best_truth_idx[best_prior_idx[j]] = j
    conf = labels[best_truth_idx].long()
    conf[best_truth_overlap < th2] = 0
    if stage2 == "image":
        n = int((torch.sum(best_prior_overlap >= th2) + torch.sum(best_prior_overlap >= th3)) // 2)
        candidate = best_truth_overlap.gt(th1) & best_truth_overlap.lt(th2)
        stage2_overlap, stage2_idx = torch.where(candidate, best_truth_overlap,
                                                 torch.zeros_like(best_truth_overlap)).sort(descending=True)
        if n > 0:
            n = min(n, int(stage2_overlap[:n].gt(th1).sum()))
            conf[stage2_idx[:n]] = labels[best_truth_idx[stage2_idx[:n]]].long()
    elif stage2 == "face":
        positive = conf > 0
        counts = torch.bincount(best_truth_idx[positive], minlength=truths.size(0))
        n_p = max(1, int(round(float(counts.float().mean())))) if truths.size(0) else 0
        for g in range(truths.size(0)):
            need = n_p - int(counts[g])
            if need <= 0:
                continue
            free = (~positive) & overlaps[g].gt(th1)
            cand = torch.nonzero(free).flatten()
            if cand.numel() == 0:
                continue
            order = torch.argsort(overlaps[g, cand], descending=True, stable=True)[:need]
            take = cand[order]
            conf[take] = labels[g].long()
            best_truth_idx[take] = g
            positive[take] = True
    else:
        raise ValueError(f"stage2 must be 'image' or 'face', not {stage2!r}")
    loc = encode(truths[best_truth_idx], priors, variances)
    return loc, conf


# ----------------------------------------------------------------------------------------------- NMS
def _greedy_keep(x1, y1, x2, y2, order, overlap, max_keep=None):
    """Greedy NMS over boxes visited in ``order`` (numpy float32 coordinates): a box is kept unless a kept box
    before it has ``not (IoU <= overlap)`` with it. Same arithmetic as the reference: ``w = max(min(x2) - max(x1),
    0)``, ``inter = w * h``, ``IoU = inter / ((area_j - inter) + area_i)``.

    Exact and fast: a regular box (finite, positive area) can only suppress a box whose x-range meets its own (any
    other pair has IoU exactly 0), so each kept regular box is compared with the boxes whose x1 lies in
    ``[x1 - widest, x2]`` (a window of the x1-sorted boxes) plus the irregular ones; an irregular box (zero area,
    inf or NaN, where IoU can be NaN and the reference suppresses) is compared with every remaining box.
    """
    n = x1.size
    area = (x2 - x1) * (y2 - y1)
    with np.errstate(invalid="ignore", over="ignore"):
        regular = np.isfinite(x1) & np.isfinite(y1) & np.isfinite(x2) & np.isfinite(y2) & (area > 0)
    rank = np.full(n, -1, np.int64)              # position in ``order``; -1: not visited (beyond top_k)
    rank[order] = np.arange(order.size)
    removed = np.zeros(n, bool)                    # indexed by box
    reg_ids = np.flatnonzero(regular)
    irr_ids = np.flatnonzero(~regular)
    by_x = reg_ids[np.argsort(x1[reg_ids], kind="stable")]
    xs = x1[by_x]
    widest = float(np.max(x2[reg_ids] - x1[reg_ids])) if reg_ids.size else 0.0
    keep = []
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i in order:
            if removed[i]:
                continue
            keep.append(i)
            if max_keep is not None and len(keep) >= max_keep:
                break
            if regular[i]:
                lo = np.searchsorted(xs, x1[i] - widest * 1.0001 - 1e-6, side="left")
                hi = np.searchsorted(xs, x2[i], side="right")
                cand = by_x[lo:hi]
                if irr_ids.size:
                    cand = np.concatenate((cand, irr_ids))
            else:
                cand = order[rank[i] + 1:]
            cand = cand[(rank[cand] > rank[i]) & ~removed[cand]]
            if cand.size == 0:
                continue
            w = np.maximum(np.minimum(x2[cand], x2[i]) - np.maximum(x1[cand], x1[i]), np.float32(0))
            h = np.maximum(np.minimum(y2[cand], y2[i]) - np.maximum(y1[cand], y1[i]), np.float32(0))
            inter = w * h
            iou = inter / ((area[cand] - inter) + area[i])
            removed[cand[~(iou <= np.float32(overlap))]] = True
    return np.asarray(keep, np.int64)


def nms(boxes, scores, overlap=0.5, top_k=200, max_keep=None):
    """Greedy non-maximum suppression of the reference: the ``top_k`` highest scores (ties broken as the
    reference's ascending sort leaves them), a box is dropped when its IoU with a kept box exceeds ``overlap``.

    Returns ``(keep, count)``: a LongTensor of the kept indices (into ``boxes``) in descending score order, and
    their number. ``max_keep`` stops after that many kept boxes (greedy NMS is sequential, so the first
    ``max_keep`` are the same). An empty input gives ``(empty, 0)`` (the reference returned a bare tensor there).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long), 0
    _, idx = scores.sort(0)
    order = idx[-top_k:].flip(0).cpu().numpy()
    b = boxes.detach().float().cpu().numpy()
    keep = _greedy_keep(b[:, 0], b[:, 1], b[:, 2], b[:, 3], order, overlap, max_keep)
    return torch.from_numpy(keep), int(keep.size)

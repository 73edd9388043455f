"""Target assignment: which ground-truth face each prior learns (the reference's ``match``).

The rule, step by step (spec section 1.5):

1. IoU between every ground-truth box and every prior in point form, areas ``(x2 - x1) * (y2 - y1)`` (no +1).
2. For each ground truth, its best prior. Ground truths whose best IoU is below 0.2 take no part in the forcing of
   step 4; when none reaches 0.2 the image is all background.
3. For each prior, its best ground truth and that IoU.
4. The best prior of each ground truth kept in step 2 gets IoU 2 (always a positive); then every ground truth's best
   prior (the filtered ones too, later ground truths winning ties) is re-pointed to that ground truth.
5. Priors whose IoU is below ``threshold`` (0.35) are background (label 0); the others take the label of their
   ground truth (1: face with landmarks, -1: face without), and their box and landmark targets are encoded.
"""
import numpy as np

from .box_coder import encode, encode_landm, point_form

VALID_GT_IOU = 0.2      # step 2: ground truths whose best prior overlaps less take no part in the forcing


def box_iou(box_a, box_b):
    """IoU matrix (A, B) of xyxy boxes, areas (x2-x1)*(y2-y1) (no +1), as the reference's match()."""
    lt = np.maximum(box_a[:, None, :2], box_b[None, :, :2])
    rb = np.minimum(box_a[:, None, 2:], box_b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = ((box_a[:, 2] - box_a[:, 0]) * (box_a[:, 3] - box_a[:, 1]))[:, None]
    area_b = ((box_b[:, 2] - box_b[:, 0]) * (box_b[:, 3] - box_b[:, 1]))[None, :]
    return inter / (area_a + area_b - inter)


def _background(num_p):
    return np.zeros((num_p, 4), np.float32), np.zeros((num_p,), np.int32), np.zeros((num_p, 10), np.float32)


def match(threshold, truths, priors, variances, labels, landms):
    """Assign ground truth to priors; returns loc_t (P, 4) float32, conf_t (P,) int32, landm_t (P, 10) float32.

    truths (G, 4) normalised xyxy, labels (G,) in {1 (landmarks), -1 (no landmarks)}, landms (G, 10) normalised.
    """
    num_p = priors.shape[0]
    truths = np.asarray(truths, np.float64).reshape(-1, 4)
    if truths.shape[0] == 0:
        return _background(num_p)
    overlaps = box_iou(truths, point_form(priors.astype(np.float64)))      # step 1: (G, P)
    best_prior_overlap = overlaps.max(axis=1)                               # step 2
    best_prior_idx = overlaps.argmax(axis=1)
    best_prior_idx_filter = best_prior_idx[best_prior_overlap >= VALID_GT_IOU]
    if best_prior_idx_filter.shape[0] <= 0:
        return _background(num_p)
    best_truth_overlap = overlaps.max(axis=0)                               # step 3
    best_truth_idx = overlaps.argmax(axis=0)
    best_truth_overlap[best_prior_idx_filter] = 2.0                         # step 4
    for j in range(best_prior_idx.shape[0]):
        best_truth_idx[best_prior_idx[j]] = j
    matches = truths[best_truth_idx]                                        # step 5
    conf = np.asarray(labels)[best_truth_idx].astype(np.int32)
    conf[best_truth_overlap < threshold] = 0
    loc = encode(matches, priors.astype(np.float64), variances)
    landm = encode_landm(np.asarray(landms, np.float64)[best_truth_idx], priors.astype(np.float64), variances)
    return loc.astype(np.float32), conf, landm.astype(np.float32)

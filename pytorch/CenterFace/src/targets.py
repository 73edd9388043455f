"""Training targets (datasets/sample/multi_pose.py of the reference): Gaussian heatmap with the CornerNet radius,
size, sub-pixel offset and landmark targets for up to ``max_objs`` faces (the config's, 32).

Two encodings (see src/decode.py): ``chenjun2hao`` (wh = log(w_out/4), log(h_out/4); offset (x, y) = centre −
integer centre; landmarks (x, y) = point − integer centre in output px) and ``official`` (scale = log(h_in/4),
log(w_in/4) = log(h_out), log(w_out); offset (y, x) relative to the cell centre (+0.5 convention); landmarks (y, x)
normalised by the box height/width from its top-left corner). The heatmap is the same for both, except that
the official convention puts the peak in the cell that CONTAINS the centre, floor(c − 0.5) + 0.5 ≈ c.
"""
import math

import numpy as np

NUM_LANDMARKS = 5
WH_UNIT = 4  # chenjun2hao's size encoding: wh = log(size in output px / 4)


def gaussian_radius(det_size, min_overlap=0.7):
    """CornerNet radius as implemented in CenterNet (the three quadratic cases, each root taken as (b + sqrt)/2)."""
    height, width = det_size
    a1 = 1
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * a1 * c1)) / 2
    a2 = 4
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def gaussian2d(shape, sigma=1.0):
    m, n = [(s - 1.0) / 2.0 for s in shape]
    y, x = np.ogrid[-m:m + 1, -n:n + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h


def draw_umich_gaussian(heatmap, center, radius, k=1):
    """Element-wise max of ``heatmap`` and a Gaussian (sigma = (2r+1)/6) with its peak at integer ``center``."""
    diameter = 2 * radius + 1
    gaussian = gaussian2d((diameter, diameter), sigma=diameter / 6)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    masked_heatmap = heatmap[y - top:y + bottom, x - left:x + right]
    masked_gaussian = gaussian[radius - top:radius + bottom, radius - left:radius + right]
    if min(masked_gaussian.shape) > 0 and min(masked_heatmap.shape) > 0:
        np.maximum(masked_heatmap, masked_gaussian * k, out=masked_heatmap)
    return heatmap


def build_targets(boxes, landmarks, out_hw, max_objs, lm_allowed=None, convention="chenjun2hao"):
    """boxes: (N,4) x1 y1 x2 y2 and landmarks: (N,5,3) x y v, both in OUTPUT-map pixels (v > 0 = labelled).
    lm_allowed: (N,) bool, False masks a face's landmarks (the reference: box area <= 16 px² after DAS).
    Returns a dict of numpy arrays: hm [1,H,W], ind [K], reg_mask [K], wh [K,2], reg [K,2], landmarks [K,10],
    lm_mask [K,10]."""
    out_h, out_w = out_hw
    hm = np.zeros((1, out_h, out_w), np.float32)
    ind = np.zeros(max_objs, np.int64)
    reg_mask = np.zeros(max_objs, np.float32)
    wh = np.zeros((max_objs, 2), np.float32)
    reg = np.zeros((max_objs, 2), np.float32)
    lms = np.zeros((max_objs, NUM_LANDMARKS * 2), np.float32)
    lm_mask = np.zeros((max_objs, NUM_LANDMARKS * 2), np.float32)
    n = min(len(boxes), max_objs)
    for k in range(n):
        b = np.array(boxes[k], np.float32).copy()
        b[[0, 2]] = np.clip(b[[0, 2]], 0, out_w - 1)
        b[[1, 3]] = np.clip(b[[1, 3]], 0, out_h - 1)
        h, w = b[3] - b[1], b[2] - b[0]
        if h <= 0 or w <= 0:
            continue
        radius = max(0, int(gaussian_radius((math.ceil(h), math.ceil(w)), 0.7)))
        ct = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2], np.float32)
        if convention == "official":
            cell = np.floor(ct - 0.5).astype(np.int32)
            cell = np.clip(cell, 0, [out_w - 1, out_h - 1])
            wh[k] = math.log(h), math.log(w)  # log(h_in / stride) = log(h_out)
            reg[k] = ct[1] - 0.5 - cell[1], ct[0] - 0.5 - cell[0]
        else:
            cell = ct.astype(np.int32)
            wh[k] = math.log(w / WH_UNIT), math.log(h / WH_UNIT)
            reg[k] = ct - cell
        ind[k] = cell[1] * out_w + cell[0]
        reg_mask[k] = 1
        draw_umich_gaussian(hm[0], cell, radius)
        if lm_allowed is not None and not lm_allowed[k]:
            continue
        pts = np.asarray(landmarks[k], np.float32).reshape(NUM_LANDMARKS, 3)
        for j in range(NUM_LANDMARKS):
            x, y, v = pts[j]
            if v > 0 and 0 <= x < out_w and 0 <= y < out_h:
                if convention == "official":
                    lms[k, 2 * j:2 * j + 2] = (y - b[1]) / h, (x - b[0]) / w
                else:
                    lms[k, 2 * j:2 * j + 2] = x - cell[0], y - cell[1]
                lm_mask[k, 2 * j:2 * j + 2] = 1
    return {"hm": hm, "ind": ind, "reg_mask": reg_mask, "wh": wh, "reg": reg, "landmarks": lms, "lm_mask": lm_mask}

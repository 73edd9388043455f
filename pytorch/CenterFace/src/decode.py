"""Decoding of the four output maps into detections, for both conventions.

Both decoders take the maps of ONE image as numpy arrays ``hm [1,h,w]``, ``wh [2,h,w]``, ``off [2,h,w]``,
``lm [10,h,w]`` (stride 4) and return an (N, 15) float32 array
``[x1, y1, x2, y2, score, lx0, ly0, ..., lx4, ly4]`` in INPUT-tensor pixels, sorted by descending score.
Use ``transforms.to_image_coords`` to map them to the original image.

* ``official`` (Star-Clouds prj-python/centerface.py): candidates = every cell with hm > threshold (no peak
  extraction); size (h, w) = 4·exp(scale) in input px; centre = (cell + offset(y, x) + 0.5)·4; x1, y1 clamped to
  [0, W], x2 = min(x1 + w, W); landmarks (y, x) pairs normalised by the box size from the clamped top-left;
  greedy NMS (IoU with +1 areas, suppress IoU >= 0.3).
* ``chenjun2hao`` (models/decode.centerface_decode): 3x3 max-pool peak NMS, top-K (200); centre = cell +
  offset(x, y) (no +0.5); size (w, h) = 4·exp(wh) in OUTPUT px; landmarks (x, y) pairs in output px relative to the
  integer cell (the cell the targets were built from; the reference adds them to the sub-pixel centre, see README);
  no threshold and no box NMS by default.
"""
import numpy as np
import torch
import torch.nn.functional as F

from .config import OUTPUT_STRIDE
from .targets import WH_UNIT


GRID_SPAN = 8  # a box that spans more grid cells than this per axis is compared with every box instead
CELL_LIMIT = 2.0 ** 31  # grid coordinates are clipped to +-this (monotonic: still exact) so that cell ids fit int64


def overlaps_plus1(x1, y1, x2, y2, areas, i, rest):
    """IoU with +1 areas of box ``i`` and the boxes ``rest``, computed exactly as the reference's loop does (float32;
    NaN for boxes with non-finite coordinates, which never reaches a threshold)."""
    xx1 = np.maximum(x1[i], x1[rest])
    yy1 = np.maximum(y1[i], y1[rest])
    xx2 = np.minimum(x2[i], x2[rest])
    yy2 = np.minimum(y2[i], y2[rest])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        inter = np.maximum(0, xx2 - xx1 + 1) * np.maximum(0, yy2 - yy1 + 1)
        return inter / (areas[i] + areas[rest] - inter)


class _Grid:
    """Boxes by the cells of a uniform grid that their +1 extents [x1, x2 + 1) x [y1, y2 + 1) cover. Two boxes with a
    positive intersection share a cell (the cell index is a monotonic function of the coordinate, also where it is
    clipped to ``CELL_LIMIT`` for coordinates of ~10^18 and more, a diverged network's exp(wh)), so the boxes
    that can overlap box ``i`` are the members of its cells plus the ``large`` boxes (more than GRID_SPAN cells per
    axis, not registered). Boxes with a non-finite coordinate are left out: their IoU is never a number >= 0."""

    def __init__(self, x1, y1, x2, y2):
        finite = np.isfinite(x1) & np.isfinite(y1) & np.isfinite(x2) & np.isfinite(y2)
        self.skip = ~finite
        idx = np.flatnonzero(finite)
        f64 = [v[idx].astype(np.float64) for v in (x1, y1, x2, y2)]
        ext = np.maximum(f64[2] - f64[0], f64[3] - f64[1]) + 1
        self.size = max(1.0, float(np.median(ext))) if len(idx) else 1.0
        self.ox, self.oy = (float(f64[0].min()), float(f64[1].min())) if len(idx) else (0.0, 0.0)
        cells = [np.zeros(len(x1), np.int64) for _ in range(4)]
        for c, v, o in zip(cells, (f64[0], f64[1], f64[2] + 1, f64[3] + 1), (self.ox, self.oy, self.ox, self.oy)):
            c[idx] = np.floor(np.clip((v - o) / self.size, -CELL_LIMIT, CELL_LIMIT)).astype(np.int64)
        self.cx0, self.cy0 = cells[0], cells[1]
        self.cx1, self.cy1 = np.maximum(cells[2], cells[0]), np.maximum(cells[3], cells[1])
        self.ncx = int(self.cx1[idx].max()) + 1 if len(idx) else 1
        large = finite & ((self.cx1 - self.cx0 >= GRID_SPAN) | (self.cy1 - self.cy0 >= GRID_SPAN))
        self.is_large = large
        self.large = np.flatnonzero(large)
        small = np.flatnonzero(finite & ~large)
        nx, ny = self.cx1[small] - self.cx0[small] + 1, self.cy1[small] - self.cy0[small] + 1
        reps = nx * ny
        box = np.repeat(small, reps)
        k = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        rx = np.repeat(nx, reps)
        cell = (self.cy0[box] + k // rx) * self.ncx + self.cx0[box] + k % rx
        by_cell = np.argsort(cell, kind="stable")
        self.members = box[by_cell]
        self.cells, self.starts = np.unique(cell[by_cell], return_index=True)
        self.ends = np.append(self.starts[1:], len(self.members))

    def near(self, i, everything):
        """Indices of the boxes that may intersect box ``i`` (with repeats)."""
        if self.skip[i]:
            return everything[:0]
        if self.is_large[i]:
            return everything
        cx = np.arange(self.cx0[i], self.cx1[i] + 1)
        cy = np.arange(self.cy0[i], self.cy1[i] + 1)
        ids = (cy[:, None] * self.ncx + cx[None, :]).ravel()
        at = np.searchsorted(self.cells, ids)
        ok = at < len(self.cells)
        at, ids = at[ok], ids[ok]
        at = at[self.cells[at] == ids]
        parts = [self.members[self.starts[a]:self.ends[a]] for a in at]
        return np.concatenate(parts + [self.large])


def nms_plus1(dets, thresh):
    """Greedy NMS in descending score order (``argsort()[::-1]``); areas with the +1 convention; a box is
    suppressed when its IoU with a kept box is >= ``thresh``. Returns kept indices, in score order.

    The result is the reference's loop exactly: each kept box suppresses the later boxes still standing whose IoU
    with it, computed with the reference's float32 formula, reaches ``thresh``. For ``thresh`` > 0 only boxes that
    intersect it can, so a kept box is compared with the boxes of its cells of a uniform grid (``_Grid``) instead of
    all later boxes: the ~10^5 boxes an untrained network gives at evaluation take about a second, not minutes."""
    n = len(dets)
    if n == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2, s = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    with np.errstate(invalid="ignore", over="ignore"):  # inf / NaN areas: IoU NaN or 0, as in the reference
        areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s)[::-1]
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    grid = _Grid(x1, y1, x2, y2) if thresh > 0 else None
    suppressed = np.zeros(n, bool)
    keep = []
    for a, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[a + 1:] if grid is None else grid.near(i, order)
        rest = rest[(rank[rest] > a) & ~suppressed[rest]]
        if len(rest):
            suppressed[rest[overlaps_plus1(x1, y1, x2, y2, areas, i, rest) >= thresh]] = True
    return np.array(keep, np.int64)


def decode_official(hm, scale, off, lm, input_hw, threshold, nms_thresh, return_pre_nms=False):
    hn, wn = input_hw
    heat = hm[0]
    rows, cols = np.where(heat > threshold)
    n = len(rows)
    dets = np.zeros((n, 15), np.float32)
    if n:
        s0 = np.exp(scale[0, rows, cols]) * OUTPUT_STRIDE
        s1 = np.exp(scale[1, rows, cols]) * OUTPUT_STRIDE
        o0 = off[0, rows, cols]
        o1 = off[1, rows, cols]
        x1 = np.maximum(0, (cols + o1 + 0.5) * OUTPUT_STRIDE - s1 / 2)
        y1 = np.maximum(0, (rows + o0 + 0.5) * OUTPUT_STRIDE - s0 / 2)
        x1 = np.minimum(x1, wn)
        y1 = np.minimum(y1, hn)
        dets[:, 0], dets[:, 1] = x1, y1
        dets[:, 2] = np.minimum(x1 + s1, wn)
        dets[:, 3] = np.minimum(y1 + s0, hn)
        dets[:, 4] = heat[rows, cols]
        for k in range(5):
            dets[:, 5 + 2 * k] = lm[2 * k + 1, rows, cols] * s1 + x1
            dets[:, 6 + 2 * k] = lm[2 * k, rows, cols] * s0 + y1
    pre = dets.copy()
    if nms_thresh is not None and n:
        dets = dets[nms_plus1(dets, nms_thresh)]
    else:
        dets = dets[np.argsort(dets[:, 4])[::-1]]
    return (dets, pre) if return_pre_nms else dets


def peak_topk(hm, k):
    """3x3 max-pool peak extraction and top-K over one heatmap [1,h,w]. Returns (scores, rows, cols)."""
    heat = torch.as_tensor(hm, dtype=torch.float32)[None]
    hmax = F.max_pool2d(heat, 3, stride=1, padding=1)
    heat = (heat * (hmax == heat).float()).flatten()
    k = min(k, heat.numel())
    scores, inds = torch.topk(heat, k)
    w = hm.shape[-1]
    return scores.numpy(), (inds // w).numpy(), (inds % w).numpy()


def decode_chenjun2hao(hm, wh, off, lm, top_k, threshold=0.0, nms_thresh=None, landmark_origin="cell"):
    scores, rows, cols = peak_topk(hm, top_k)
    keep = scores > threshold if threshold > 0 else np.ones(len(scores), bool)
    scores, rows, cols = scores[keep], rows[keep], cols[keep]
    n = len(scores)
    dets = np.zeros((n, 15), np.float32)
    if n:
        cx = cols + off[0, rows, cols]
        cy = rows + off[1, rows, cols]
        w = np.exp(wh[0, rows, cols]) * WH_UNIT
        h = np.exp(wh[1, rows, cols]) * WH_UNIT
        dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3] = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if landmark_origin == "cell":
            ox, oy = cols.astype(np.float32), rows.astype(np.float32)
        elif landmark_origin == "center":  # the reference's decode
            ox, oy = cx, cy
        else:
            raise ValueError(f"unknown landmark_origin {landmark_origin!r}")
        for k in range(5):
            dets[:, 5 + 2 * k] = lm[2 * k, rows, cols] + ox
            dets[:, 6 + 2 * k] = lm[2 * k + 1, rows, cols] + oy
        xy = [0, 1, 2, 3] + list(range(5, 15))
        dets[:, xy] *= OUTPUT_STRIDE
        dets[:, 4] = scores
    if nms_thresh is not None and n:
        dets = dets[nms_plus1(dets, nms_thresh)]
    return dets


def decode(outputs, convention, input_hw, threshold, nms_thresh, top_k):
    """Decodes one image's maps (dict of numpy arrays [C,h,w]) with the given convention."""
    if convention == "official":
        return decode_official(outputs["hm"], outputs["wh"], outputs["hm_offset"], outputs["landmarks"], input_hw,
                               threshold=threshold, nms_thresh=nms_thresh)
    if convention == "chenjun2hao":
        return decode_chenjun2hao(outputs["hm"], outputs["wh"], outputs["hm_offset"], outputs["landmarks"],
                                  top_k=top_k, threshold=threshold, nms_thresh=nms_thresh)
    raise ValueError(f"unknown convention {convention!r}")

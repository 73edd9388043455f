"""Greedy non-maximum suppression of the reference (``py_cpu_nms``), exact and fast on 10^5 boxes.

The rule (``nms_plain``, the reference's loop): sort by score, descending (``scores.argsort()[::-1]``); take the
first remaining box, keep it, and drop every remaining box whose IoU with it is not ``<= thresh``; repeat. IoU uses
the +1-pixel convention, areas ``(x2 - x1 + 1) * (y2 - y1 + 1)``, all in float32.

That loop costs (kept boxes) x (boxes): an untrained network at the 2176^2 evaluation canvas passes ~100,000 boxes
to it and takes minutes per image. ``nms`` returns exactly the same indices in the same order, computing the IoU of
a pair with the same float32 operations, but only for the pairs that can suppress one another:

* two ordinary boxes (finite, positive extents, coordinates within +-2^22) that do not intersect have IoU 0, so
  they never suppress each other when ``thresh >= 0``. Boxes are bucketed by size class (the power of two ``c``
  at or above their larger side) and by the ``c x c`` grid cell of their top-left corner; a box is compared only
  with boxes of its own or a smaller class whose top-left cell can lie within reach, widened by a margin that
  covers float32 rounding.
* a pair whose smaller area is below ``thresh`` times the larger cannot have IoU above ``thresh``
  (IoU <= min area / max area); whole smaller classes are skipped on that bound (with a 1 % margin).
* every pair involving a box that is not ordinary (non-finite, empty or negative extent, huge coordinates) is
  computed in full, as in the loop.

The suppressing pairs form a sparse graph in score order; one pass over it in that order keeps a box unless a
kept box points at it, which is what the loop does. When the rule has no shortcut (``thresh`` negative or NaN:
every box suppresses every other) or too many boxes are not ordinary, ``nms`` runs ``nms_plain``.
"""
import numpy as np

_COORD_LIMIT = float(2 ** 22)   # float32 keeps +-0.5 precision below this: the +1 and the margins stay exact enough
_MARGIN = 4.0                    # pixels of slack in the reach test, for float32 rounding of (x2 - x1 + 1)
_AREA_SLACK = 0.99               # the area-ratio bound is applied with 1 % to spare
_PAIRS_PER_CHUNK = 1 << 21       # candidate pairs evaluated per vectorised batch
_MAX_IRREGULAR_PAIRS = 3 * 10 ** 7


def nms_plain(dets, thresh):
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


def _suppressed(a, b, x1, y1, x2, y2, areas, thresh):
    """For pairs (a, b), a ranked before b: whether a kept ``a`` drops ``b`` (the loop's float32 operations)."""
    xx1 = np.maximum(x1[a], x1[b])
    yy1 = np.maximum(y1[a], y1[b])
    xx2 = np.minimum(x2[a], x2[b])
    yy2 = np.minimum(y2[a], y2[b])
    w = np.maximum(0.0, xx2 - xx1 + 1)
    h = np.maximum(0.0, yy2 - yy1 + 1)
    inter = w * h
    ovr = inter / (areas[a] + areas[b] - inter)
    return ~(ovr <= thresh)


def _expand_ranges(starts, ends):
    """Concatenation of ``arange(s, e)`` for every pair, and the index of the range each element came from."""
    lengths = ends - starts
    total = int(lengths.sum())
    owner = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.cumsum(lengths) - lengths
    return starts[owner] + (np.arange(total) - offsets[owner]), owner


class _SizeClass:
    """The ordinary boxes of one size class ``c = 2^k``, sorted by the grid cell (c x c) of their top-left corner."""

    def __init__(self, members, k, x1, y1):
        self.c = float(2.0 ** k)
        cx = np.floor(x1[members].astype(np.float64) / self.c).astype(np.int64)
        cy = np.floor(y1[members].astype(np.float64) / self.c).astype(np.int64)
        self.cx0, self.cy0 = int(cx.min()), int(cy.min())
        self.ncols = int(cx.max()) - self.cx0 + 1
        self.nrows = int(cy.max()) - self.cy0 + 1
        key = (cy - self.cy0) * self.ncols + (cx - self.cx0)
        order = np.argsort(key, kind="stable")
        self.members = members[order]
        self.keys = key[order]

    def row_ranges(self, queries, x1, y1, x2, y2):
        """For each (query box, grid row) in reach, the slice ``[lo, hi)`` of ``members`` to compare with: a member
        of this class (extent <= c) can intersect the query only if its x1 lies in (qx1 - c, qx2 + 1), likewise
        its y1. Returns (query of the row, lo, hi)."""
        c = self.c
        col_lo = np.floor((x1[queries].astype(np.float64) - c - _MARGIN) / c).astype(np.int64) - self.cx0
        col_hi = np.floor((x2[queries].astype(np.float64) + 1 + _MARGIN) / c).astype(np.int64) - self.cx0
        row_lo = np.floor((y1[queries].astype(np.float64) - c - _MARGIN) / c).astype(np.int64) - self.cy0
        row_hi = np.floor((y2[queries].astype(np.float64) + 1 + _MARGIN) / c).astype(np.int64) - self.cy0
        col_lo, col_hi = np.maximum(col_lo, 0), np.minimum(col_hi, self.ncols - 1)
        row_lo, row_hi = np.maximum(row_lo, 0), np.minimum(row_hi, self.nrows - 1)
        q_idx = np.nonzero((col_lo <= col_hi) & (row_lo <= row_hi))[0]
        rows, owner = _expand_ranges(row_lo[q_idx], row_hi[q_idx] + 1)
        q_of_row = q_idx[owner]
        lo = np.searchsorted(self.keys, rows * self.ncols + col_lo[q_of_row], side="left")
        hi = np.searchsorted(self.keys, rows * self.ncols + col_hi[q_of_row], side="right")
        return queries[q_of_row], lo, hi


def _edges(x1, y1, x2, y2, areas, thresh):
    """Suppressing pairs (a, b), a < b in rank order (arrays are in rank order), or None when too many boxes are
    not ordinary for the shortcut to pay off."""
    n = x1.shape[0]
    w1 = x2 - x1 + 1
    h1 = y2 - y1 + 1
    with np.errstate(invalid="ignore"):
        ordinary = (np.isfinite(x1) & np.isfinite(y1) & np.isfinite(x2) & np.isfinite(y2) & np.isfinite(areas)
                    & (w1 > 0) & (h1 > 0) & (areas > 0)
                    & (np.maximum(np.maximum(np.abs(x1), np.abs(x2)), np.maximum(np.abs(y1), np.abs(y2)))
                       <= _COORD_LIMIT))
    irregular = np.nonzero(~ordinary)[0]
    if irregular.size * n > _MAX_IRREGULAR_PAIRS:
        return None
    pieces_a, pieces_b = [], []

    def add(a, b):
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        for s in range(0, lo.shape[0], _PAIRS_PER_CHUNK):
            la, lb = lo[s:s + _PAIRS_PER_CHUNK], hi[s:s + _PAIRS_PER_CHUNK]
            hit = _suppressed(la, lb, x1, y1, x2, y2, areas, thresh)
            pieces_a.append(la[hit])
            pieces_b.append(lb[hit])

    everyone = np.arange(n)
    for r in irregular:                                   # every pair with a box the shortcut does not cover
        others = everyone[(everyone != r) & (ordinary | (everyone > r))]
        add(np.full(others.shape, r), others)

    idx = np.nonzero(ordinary)[0]
    if idx.size:
        side = np.maximum(w1[idx], h1[idx]).astype(np.float64)
        k = np.maximum(np.ceil(np.log2(side)), 0).astype(np.int64)
        k += 2.0 ** k < side                              # log2 rounding: the class size must be >= the side
        ks = np.unique(k)
        classes = {int(kk): _SizeClass(idx[k == kk], int(kk), x1, y1) for kk in ks}
        area64 = areas.astype(np.float64)
        for kq in ks:                                     # query class kq against classes kc <= kq
            queries_all = idx[k == kq]
            for kc in ks[ks <= kq]:
                cls = classes[int(kc)]
                queries = queries_all
                if kc < kq:                               # members' areas are <= c^2: skip when c^2 < thresh * area
                    queries = queries[cls.c * cls.c >= _AREA_SLACK * thresh * area64[queries]]
                if queries.size == 0:
                    continue
                q_row, lo, hi = cls.row_ranges(queries, x1, y1, x2, y2)
                # expand the slices into pairs in batches of about _PAIRS_PER_CHUNK
                cum = np.cumsum(hi - lo)
                cuts = np.searchsorted(cum, np.arange(_PAIRS_PER_CHUNK, int(cum[-1]) if cum.size else 0,
                                                      _PAIRS_PER_CHUNK), side="right")
                for r0, r1 in zip(np.r_[0, cuts], np.r_[cuts, q_row.size]):
                    pos, owner = _expand_ranges(lo[r0:r1], hi[r0:r1])
                    qa, mb = q_row[r0:r1][owner], cls.members[pos]
                    if kc == kq:
                        sel = qa < mb                     # each pair of the same class once, never a box with itself
                        qa, mb = qa[sel], mb[sel]
                    add(qa, mb)
    if not pieces_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(pieces_a), np.concatenate(pieces_b)


def nms(dets, thresh):
    """Greedy NMS with exactly the result of :func:`nms_plain` (indices into ``dets``, in score order), in time
    that grows with the number of overlapping pairs instead of kept boxes x boxes."""
    dets = np.asarray(dets, np.float32)
    n = dets.shape[0]
    if n == 0:
        return np.zeros((0,), np.int64)
    if not thresh >= 0:
        return nms_plain(dets, thresh)
    x1, y1, x2, y2, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    edges = _edges(x1[order], y1[order], x2[order], y2[order], areas[order], thresh)
    if edges is None:
        return nms_plain(dets, thresh)
    a, b = edges
    by_a = np.argsort(a, kind="stable")
    targets = b[by_a]
    bounds = np.searchsorted(a[by_a], np.arange(n + 1)).tolist()
    removed = np.zeros(n, bool)
    keep = []
    for i in range(n):                                   # rank order: the loop's sequence of kept boxes
        if removed[i]:
            continue
        keep.append(i)
        lo, hi = bounds[i], bounds[i + 1]
        if hi > lo:
            removed[targets[lo:hi]] = True
    return order[np.asarray(keep, np.int64)].astype(np.int64)

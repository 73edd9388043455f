"""Anchors (mmdetection v1 style): the base anchors of a level centred on its first cell, shifted over the grid.

Rule (``AnchorGenerator``): for a level of stride ``s`` (= base size) the base anchor centre is
``c = (s - 1) / 2``; for ratio ``r`` (height / width) and scale ``k``, ``h = s * k * sqrt(r)`` and
``w = s * k / sqrt(r)``, and the corners ``c -+ (w - 1) / 2``, ``c -+ (h - 1) / 2`` are rounded (NumPy's
round-half-even). ``grid_anchors`` adds the shifts ``(x s, y s, x s, y s)`` with y outer, x inner and the anchors of
one cell innermost, so that anchor ``(y W + x) A + a`` pairs with the RPN output at cell ``(y, x)``, channel ``a``.
At 768 x 1280 the five levels hold 245,520 anchors.
"""
import numpy as np


class AnchorGenerator:
    """Anchors of one pyramid level: ``base_size`` (= the stride), ``scales``, ``ratios``; scale-major order."""

    def __init__(self, base_size, scales, ratios, scale_major=True, ctr=None):
        self.base_size = base_size
        self.scales = np.array(scales, dtype=np.float64)
        self.ratios = np.array(ratios, dtype=np.float64)
        self.scale_major = scale_major
        self.ctr = ctr
        self.base_anchors = self.gen_base_anchors()

    def gen_base_anchors(self):
        """The anchors of the cell at the origin, ``(A, 4)`` ``[x1, y1, x2, y2]``."""
        size = float(self.base_size)
        cx, cy = ((size - 1) / 2, (size - 1) / 2) if self.ctr is None else self.ctr
        h_ratio = np.sqrt(self.ratios)
        w_ratio = 1.0 / h_ratio
        if self.scale_major:
            ws = (size * w_ratio[:, None] * self.scales[None, :]).ravel()
            hs = (size * h_ratio[:, None] * self.scales[None, :]).ravel()
        else:
            ws = (size * self.scales[:, None] * w_ratio[None, :]).ravel()
            hs = (size * self.scales[:, None] * h_ratio[None, :]).ravel()
        half_w, half_h = (ws - 1) / 2, (hs - 1) / 2
        return np.round(np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1))

    def grid_anchors(self, featmap_size, stride=16):
        """All anchors of a ``(H, W)`` feature map: ``(H * W * A, 4)``, cell-major (row by row), anchors innermost."""
        feat_h, feat_w = featmap_size
        xs = np.arange(feat_w) * stride
        ys = np.arange(feat_h) * stride
        shift_x = np.tile(xs, feat_h)
        shift_y = np.repeat(ys, feat_w)
        shifts = np.stack([shift_x, shift_y, shift_x, shift_y], axis=-1).astype(self.base_anchors.dtype)
        return (shifts[:, None, :] + self.base_anchors[None, :, :]).reshape(-1, 4)


def multi_level_anchors(cfg):
    """The anchors of every level of the configured canvas, float32, as a list."""
    out = []
    for stride, shape in zip(cfg.anchor_strides, cfg.feature_shapes):
        gen = AnchorGenerator(stride, cfg.anchor_scales, cfg.anchor_ratios)
        out.append(gen.grid_anchors(shape, stride).astype(np.float32))
    return out


def num_anchors(cfg):
    """Anchors per image at the configured canvas (``num_bboxes``)."""
    return int(sum(a.shape[0] for a in multi_level_anchors(cfg)))

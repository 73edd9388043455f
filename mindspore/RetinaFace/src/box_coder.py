"""The box coder: ground truth <-> regression targets relative to the priors (reference ``encode`` / ``decode``).

Boxes: ``(dcx, dcy) = (g_c - p_c) / (variance[0] * p_wh)``, ``(dw, dh) = log(g_wh / p_wh) / variance[1]`` (a zero
size becomes 1e-12 before the log); landmarks: each point ``(pt - p_c) / (variance[0] * p_wh)``. Priors are
(cx, cy, w, h), boxes xyxy, everything normalised by the input size. ``decode`` / ``decode_landm`` are the exact
inverses, in float32 with the PyTorch original's operation order.
"""
import numpy as np


def point_form(priors):
    """(cx, cy, w, h) -> (x1, y1, x2, y2)."""
    return np.concatenate((priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2), axis=1)


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
    """Inverse of :func:`encode`; returns normalised xyxy."""
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

"""Priors (anchors) of RetinaFace: the reference's ``prior_box``.

Rule: level k has a ``ceil(H / steps[k]) x ceil(W / steps[k])`` grid; each cell (i, j) emits one square prior per
size ``m`` of ``min_sizes[k]``, centred at ``((j + 0.5) * step / W, (i + 0.5) * step / H)`` with size
``(m / W, m / H)``, in (cx, cy, w, h) normalised by the input. Order: level, row, column, size. Not clipped
(``clip`` False in both presets). 29,126 priors at 840x840, 16,800 at 640x640, 194,208 at 2176x2176.
"""
import math
from itertools import product

import numpy as np


def feature_map_sizes(image_size, steps):
    """``(ceil(H / s), ceil(W / s))`` per level. ``image_size`` = (H, W)."""
    h, w = image_size
    return [(int(math.ceil(h / s)), int(math.ceil(w / s))) for s in steps]


def prior_box(image_size, min_sizes=((16, 32), (64, 128), (256, 512)), steps=(8, 16, 32), clip=False):
    """(P, 4) float32 priors (cx, cy, w, h) for an input of ``image_size`` = (H, W)."""
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


def priors_for(cfg, image_size):
    """The priors of the configuration ``cfg`` at ``image_size`` = (H, W)."""
    return prior_box(image_size, cfg["min_sizes"], cfg["steps"], cfg["clip"])


def num_priors(image_size, steps=(8, 16, 32), anchors_per_cell=2):
    return anchors_per_cell * sum(fh * fw for fh, fw in feature_map_sizes(image_size, steps))

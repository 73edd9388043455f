"""PriorBox: one square prior per feature-map cell, from the feature maps' actual sizes at every forward pass.

For level k (stride ``STEPS[k]``, side ``ANCHOR_SIZES[k]``) with an ``fh x fw`` map on an ``H x W`` input, the prior
of row i, column j is ``(cx, cy, w, h) = ((j + 0.5) / (W / step), (i + 0.5) / (H / step), size / W, size / H)``,
computed in float64 (as the reference's Python floats) and stored as float32, rows in level, row, column order.
No clipping (``cfg.CLIP`` is False). 160² + 80² + 40² + 20² + 10² + 5² = 34,125 priors at 640 x 640 (yxlijun).
"""
import functools
import math

import numpy as np
import torch


def feature_map_sizes(height, width, cfg):
    """The six source maps' (h, w) for an input of ``height x width``, as the network computes them.

    Two 2x2 max-pools give conv3_3 (floor); pool3 rounds up (``yxlijun``) or down (``sfd``); pool4 and pool5 round
    down; fc6 keeps the size (padding 6, dilation 6) or grows it by 4 (``sfd``: padding 3, no dilation); conv6_2 and
    conv7_2 are 3x3 stride-2 padding-1 convolutions (ceil(n / 2)). Raises ``ValueError`` if a map would be empty.
    """
    arch = cfg.arch

    def chain(n):
        c3 = n // 2 // 2
        c4 = math.ceil(c3 / 2) if arch["pool3_ceil_mode"] else c3 // 2
        c5 = c4 // 2
        pool5 = c5 // 2
        fc7 = pool5 + 2 * arch["fc6_padding"] - 2 * arch["fc6_dilation"]
        c6 = (fc7 - 1) // 2 + 1
        c7 = (c6 - 1) // 2 + 1
        return [c3, c4, c5, fc7, c6, c7], pool5

    (hs, hp5), (ws, wp5) = chain(int(height)), chain(int(width))
    sizes = list(zip(hs, ws))
    if min(min(s) for s in sizes) < 1 or min(hp5, wp5) < 1:
        raise ValueError(f"input {height}x{width} is too small for S3FD ({cfg.ARCH}): a feature map would be empty")
    return sizes


def min_input_side(cfg):
    """The smallest height (or width) that gives non-empty feature maps."""
    n = 1
    while True:
        try:
            feature_map_sizes(n, n, cfg)
            return n
        except ValueError:
            n += 1


def num_priors(height, width, cfg):
    """Number of priors (= of output boxes) for an input of ``height x width``."""
    return sum(h * w for h, w in feature_map_sizes(height, width, cfg))


class PriorBox:
    """Priors of an input of size ``input_size = (H, W)`` with the given ``feature_maps`` [(fh, fw), ...]."""

    def __init__(self, input_size, feature_maps, cfg):
        self.imh, self.imw = int(input_size[0]), int(input_size[1])
        self.feature_maps = [(int(h), int(w)) for h, w in feature_maps]
        self.min_sizes = cfg.ANCHOR_SIZES
        self.steps = cfg.STEPS
        self.clip = cfg.CLIP
        if any(v <= 0 for v in cfg.VARIANCE):
            raise ValueError("variances must be greater than 0")

    def forward(self):
        out = []
        for k, (fh, fw) in enumerate(self.feature_maps):
            f_kw = self.imw / self.steps[k]
            f_kh = self.imh / self.steps[k]
            cx = (np.arange(fw, dtype=np.float64) + 0.5) / f_kw
            cy = (np.arange(fh, dtype=np.float64) + 0.5) / f_kh
            grid = np.empty((fh, fw, 4), np.float64)
            grid[:, :, 0] = cx[None, :]
            grid[:, :, 1] = cy[:, None]
            grid[:, :, 2] = self.min_sizes[k] / self.imw
            grid[:, :, 3] = self.min_sizes[k] / self.imh
            out.append(grid.reshape(-1, 4))
        priors = torch.from_numpy(np.concatenate(out).astype(np.float32))
        if self.clip:
            priors.clamp_(min=0, max=1)
        return priors

    __call__ = forward


@functools.lru_cache(maxsize=32)
def _cached(input_hw, maps, steps, sizes, clip):
    from data.config import Config
    return PriorBox(input_hw, maps, Config(ANCHOR_SIZES=list(sizes), STEPS=list(steps), CLIP=clip,
                                           VARIANCE=[1.0])).forward()


def priors_for(input_hw, maps, cfg):
    """``PriorBox(input_hw, maps, cfg).forward()``, cached for the last 32 (input size, maps, geometry); the
    returned tensor is shared: read it, do not modify it in place."""
    return _cached(tuple(int(v) for v in input_hw), tuple((int(h), int(w)) for h, w in maps), tuple(cfg.STEPS),
                   tuple(cfg.ANCHOR_SIZES), bool(cfg.CLIP))

"""NMS: the reference's greedy rule on hand-computed boxes, and the fast NMS against the plain loop."""
import numpy as np
import pytest

from src.box_coder import decode
from src.nms import nms, nms_plain
from src.prior_box import prior_box


@pytest.mark.parametrize("fn", [nms, nms_plain])
def test_nms_plus_one_and_keep_equal(fn):
    dets = np.array([[0, 0, 9, 9, 0.9],     # area 100 (+1 convention)
                     [5, 0, 14, 9, 0.8],    # inter 5*10=50 -> IoU 50/150 = 0.333
                     [100, 100, 110, 110, 0.7]], np.float32)
    assert fn(dets, 0.3).tolist() == [0, 2]
    assert fn(dets, 1 / 3 + 1e-6).tolist() == [0, 1, 2]   # kept when IoU <= thresh
    assert fn(dets[[2, 1, 0]], 0.3).tolist() == [2, 0]    # indices into the input, in score order
    assert fn(np.zeros((0, 5), np.float32), 0.4).tolist() == []


def _random_dets(rng, n):
    """Boxes of 4 to 600 px (aspect ratios around 1) over a 2176^2 canvas, a third of the scores rounded to 2
    decimals (ties), plus boxes the shortcut must not trust: infinite, NaN, negative or zero extent, huge."""
    cx, cy = rng.uniform(0, 2176, n), rng.uniform(0, 2176, n)
    side = np.exp(rng.uniform(np.log(4), np.log(600), n))
    ar = np.exp(rng.normal(0, 0.3, n))
    w, h = side * ar, side / ar
    d = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, rng.uniform(0, 1, n)], 1).astype(np.float32)
    d[: n // 3, 4] = np.round(d[: n // 3, 4], 2)
    k = rng.choice(n, 20, replace=False)
    d[k[:3], 2] = np.inf
    d[k[3:6], :2] = np.nan
    d[k[6:9], 2] = d[k[6:9], 0] - 5          # x2 < x1 - 1: negative area
    d[k[9:12], 2] = d[k[9:12], 0] - 1        # zero area
    d[k[12:15], :4] *= 1e7                   # beyond float32's integer precision
    d[k[15:20], :4] = np.round(d[k[15:20], :4])
    return d


@pytest.mark.parametrize("thresh", [0.4, 0.0, 1.0, -0.1])
def test_fast_nms_equals_plain_loop_on_a_large_random_case(thresh):
    dets = _random_dets(np.random.default_rng(0), 20000 if thresh == 0.4 else 4000)
    with np.errstate(invalid="ignore", over="ignore"):
        plain = nms_plain(dets, thresh)
        fast = nms(dets, thresh)
    assert fast.dtype == plain.dtype and np.array_equal(fast, plain)
    if thresh == 0.4:
        assert 0.3 * len(dets) < len(plain) < 0.9 * len(dets)    # the case has many suppressions and many keeps


def test_fast_nms_equals_plain_loop_on_decoded_priors():
    """Boxes as an untrained network outputs them: the priors of a 640x480 input decoded with random offsets
    (dense, overlapping, many of the same size)."""
    rng = np.random.default_rng(1)
    pri = prior_box((480, 640))
    boxes = decode(rng.normal(0, 1.0, (len(pri), 4)).astype(np.float32), pri, [0.1, 0.2]) * [640, 480, 640, 480]
    dets = np.hstack([boxes, rng.uniform(0, 1, (len(pri), 1))]).astype(np.float32)
    plain = nms_plain(dets, 0.4)
    assert np.array_equal(nms(dets, 0.4), plain) and len(plain) > 3000

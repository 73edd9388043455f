"""Anchors, the valid-anchor check, the box coder (encode / decode) and NMS, against formulas and hand-made cases."""
import hashlib

import numpy as np
import pytest

from helpers import FACEMASK_YAML, config
from src.FasterRcnn.anchor_generator import AnchorGenerator, multi_level_anchors, num_anchors


def test_anchor_count_and_hand_checked_cells(ref_dir):
    cfg = config(FACEMASK_YAML)
    levels = multi_level_anchors(cfg)
    assert [a.shape[0] for a in levels] == [184320, 46080, 11520, 2880, 720]
    assert num_anchors(cfg) == 245520 == cfg.num_bboxes
    # P2 base anchors (stride 4, scale 8 -> 32 px; centre 1.5): ratio 0.5 -> w 45.25, h 22.63
    np.testing.assert_array_equal(levels[0][:3], [[-21, -9, 24, 12], [-14, -14, 17, 17], [-9, -21, 12, 24]])
    # cell (y 1, x 2) of P2, ratio 1: shifted by (2 * 4, 1 * 4)
    np.testing.assert_array_equal(levels[0][(1 * 320 + 2) * 3 + 1], [-6, -10, 25, 21])
    # P6 (stride 64, 512 px), ratio 0.5, as the fixture README hand-checks it; last cell of P6
    np.testing.assert_array_equal(levels[4][0], [-330, -149, 393, 212])
    np.testing.assert_array_equal(levels[4][-1], np.array([-149, -330, 212, 393]) + [19 * 64, 11 * 64] * 2)
    ref = np.load(f"{ref_dir}/reference_outputs/anchors.npz")
    for i, a in enumerate(levels):
        np.testing.assert_array_equal(a, ref[f"anchor_list_{i}"])
    digest = hashlib.sha256(b"".join(a.astype("<f4").tobytes() for a in levels)).hexdigest()
    assert digest == "a4635f695f799830c77a949e3bb50f52c09684cc5a3701286980bfa1faf8527c"


def test_base_anchor_corners_round_half_even():
    # stride 8, ratio 2: h = 64 sqrt 2 = 90.51, w = 45.25; centre 3.5 -> -18.63, -41.26, 25.63, 48.26
    assert AnchorGenerator(8, [8], [2.0]).base_anchors.tolist() == [[-19.0, -41.0, 26.0, 48.0]]
    # base 4, scale 1.25: a 5 px anchor centred at 1.5 -> corners -0.5 and 3.5, rounded half to even
    assert AnchorGenerator(4, [1.25], [1.0]).base_anchors.tolist() == [[0.0, 0.0, 4.0, 4.0]]


def test_check_valid_equals_the_op():
    import mindspore as ms
    from mindspore import nn, ops
    from src.FasterRcnn.rpn import check_valid

    class CheckValid(nn.Cell):
        def construct(self, boxes, meta):
            return check_valid(boxes, meta)
    rng = np.random.default_rng(0)
    boxes = rng.uniform(-50, 1400, (4000, 4)).astype(np.float32)
    boxes[:10] = [[0, 0, 1279, 767], [0, 0, 1280, 768], [-0.5, 0, 10, 10], [0, 0, 1279.5, 5], [0, 0, 5, 767.5],
                  [0, -1e-3, 5, 5], [0, 0, 639, 383], [0, 0, 640, 383], [0, 0, 5, 799], [0, 0, 1199, 5]]
    for meta in ([768, 1280, 1.0], [384, 640, 1.0], [400, 600, 2.0], [768, 1280, 0.5]):
        want = ops.CheckValid()(ms.Tensor(boxes), ms.Tensor(np.array(meta, np.float32))).asnumpy()
        got = CheckValid()(ms.Tensor(boxes), ms.Tensor(np.array(meta, np.float32))).asnumpy()
        np.testing.assert_array_equal(got, want)
        assert 0 < want.sum() < len(want)


def _encode_formula(box, gt, stds):
    """The +1 pixel convention: centres and sizes with w = x2 - x1 + 1."""
    pw, ph = box[2] - box[0] + 1, box[3] - box[1] + 1
    px, py = box[0] + 0.5 * (pw - 1), box[1] + 0.5 * (ph - 1)
    gw, gh = gt[2] - gt[0] + 1, gt[3] - gt[1] + 1
    gx, gy = gt[0] + 0.5 * (gw - 1), gt[1] + 0.5 * (gh - 1)
    return np.array([(gx - px) / pw, (gy - py) / ph, np.log(gw / pw), np.log(gh / ph)]) / np.array(stds)


def test_encode_decode_round_trip_with_stds():
    import mindspore as ms
    from mindspore import ops
    stds = (0.1, 0.1, 0.2, 0.2)
    boxes = np.array([[10, 20, 110, 80], [300, 300, 340, 420], [5, 5, 600, 400]], np.float32)
    gts = np.array([[15, 18, 120, 90], [290, 310, 350, 400], [40, 30, 500, 380]], np.float32)
    deltas = ops.BoundingBoxEncode(means=(0.0,) * 4, stds=stds)(ms.Tensor(boxes), ms.Tensor(gts)).asnumpy()
    for b, g, d in zip(boxes, gts, deltas):
        np.testing.assert_allclose(d, _encode_formula(b.astype(np.float64), g.astype(np.float64), stds), rtol=1e-5,
                                   atol=1e-6)
    dec = ops.BoundingBoxDecode(max_shape=(768, 1280), means=(0.0,) * 4, stds=stds)(ms.Tensor(boxes),
                                                                                  ms.Tensor(deltas)).asnumpy()
    np.testing.assert_allclose(dec, gts, atol=1e-3)
    # clipping to the canvas (x <= W, y <= H) and of |dw| at |log(0.016)| = 4.135
    big = ops.BoundingBoxDecode(max_shape=(768, 1280), means=(0.0,) * 4, stds=(1.0,) * 4)(
        ms.Tensor(np.array([[600, 300, 699, 399]], np.float32)), ms.Tensor(np.array([[0, 0, 10.0, 0]], np.float32)))
    x1, y1, x2, y2 = big.asnumpy()[0]
    assert x1 == 0 and x2 == 1280 and y2 - y1 == pytest.approx(99, abs=1e-3)


def plain_greedy_nms(dets, thr):
    """Greedy NMS the way NMSWithMask defines it: score order, IoU without +1, suppress when IoU > thr."""
    order = np.argsort(-dets[:, 4], kind="stable")
    keep = np.zeros(len(dets), bool)
    suppressed = np.zeros(len(dets), bool)
    area = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
    for i in order:
        if suppressed[i]:
            continue
        keep[i] = True
        xx1, yy1 = np.maximum(dets[i, 0], dets[:, 0]), np.maximum(dets[i, 1], dets[:, 1])
        xx2, yy2 = np.minimum(dets[i, 2], dets[:, 2]), np.minimum(dets[i, 3], dets[:, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / (area[i] + area - inter)
        suppressed |= iou > thr
    return keep


def test_nms_with_mask_is_exact_greedy_nms():
    """NMSWithMask on 2000 boxes (the most it sees: the training proposals of a level) equals a plain greedy NMS."""
    import mindspore as ms
    from mindspore import ops
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 600, (2000, 2))
    wh = rng.uniform(8, 120, (2000, 2))
    scores = rng.permutation(2000) / 2000.0 + 1e-3                   # distinct scores
    dets = np.concatenate([xy, xy + wh, scores[:, None]], 1).astype(np.float32)
    dets = dets[np.argsort(-dets[:, 4])]                             # the callers feed TopK-sorted rows
    for thr in (0.5, 0.7):
        out, idx, mask = ops.NMSWithMask(thr)(ms.Tensor(dets))
        out, idx, mask = out.asnumpy(), idx.asnumpy(), mask.asnumpy()
        np.testing.assert_array_equal(out, dets)
        np.testing.assert_array_equal(idx, np.arange(2000))
        want = plain_greedy_nms(dets, thr)
        np.testing.assert_array_equal(mask, want)
        assert 0 < want.sum() < 2000

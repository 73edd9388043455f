"""RoIAlign's level rule and values, the proposal generator on known scores, the RPN and RCNN losses on tiny cases."""
import numpy as np
import pytest

from helpers import small_config
from src.model_utils.config import Config


def roi_align_numpy(feat, roi, scale, out=7, sample=2, end_plus_one=True):
    """RoIAlign of one RoI ``[x1, y1, x2, y2]`` (pixel coordinates) on ``feat`` (C, H, W), as Detectron's
    average pooling of ``sample x sample`` bilinear samples per bin."""
    c, h, w = feat.shape
    x1, y1 = roi[0] * scale, roi[1] * scale
    x2, y2 = (roi[2] + (1 if end_plus_one else 0)) * scale, (roi[3] + (1 if end_plus_one else 0)) * scale
    rw, rh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    bw, bh = rw / out, rh / out
    res = np.zeros((c, out, out))
    for py in range(out):
        for px in range(out):
            acc = np.zeros(c)
            for iy in range(sample):
                for ix in range(sample):
                    y = y1 + py * bh + (iy + 0.5) * bh / sample
                    x = x1 + px * bw + (ix + 0.5) * bw / sample
                    if y < -1 or y > h or x < -1 or x > w:
                        continue
                    y, x = max(y, 0.0), max(x, 0.0)
                    y0, x0 = int(y), int(x)
                    if y0 >= h - 1:
                        y0 = y1_ = h - 1
                        y = float(y0)
                    else:
                        y1_ = y0 + 1
                    if x0 >= w - 1:
                        x0 = x1_ = w - 1
                        x = float(x0)
                    else:
                        x1_ = x0 + 1
                    ly, lx = y - y0, x - x0
                    acc += ((1 - ly) * (1 - lx) * feat[:, y0, x0] + (1 - ly) * lx * feat[:, y0, x1_]
                            + ly * (1 - lx) * feat[:, y1_, x0] + ly * lx * feat[:, y1_, x1_])
            res[:, py, px] = acc / (sample * sample)
    return res


def test_roi_levels_and_values_on_a_hand_made_pyramid():
    import mindspore as ms
    from mindspore import nn
    from src.FasterRcnn.roi_align import SingleRoIExtractor
    cfg = Config(dict(roi_sample_num=6, rpn_max_num=6, test_batch_size=1))
    layer = Config(dict(out_size=7, sample_num=2))
    # a linear ramp per level and channel: value = 100 level + 10 c + 0.5 x + 0.25 y (in feature pixels)
    feats = []
    for lvl, (h, w) in enumerate(((64, 96), (32, 48), (16, 24), (8, 12))):
        c, y, x = np.meshgrid(np.arange(4), np.arange(h), np.arange(w), indexing="ij")
        feats.append((100 * lvl + 10 * c + 0.5 * x + 0.25 * y).astype(np.float32)[None])
    # side + 1: 56 (level 0), 112 = 2 x 56 exactly (level 1), 121 (1), 224 (2), 448 (3), 997 (clamped to 3)
    rois = np.array([[0, 10, 20, 65, 75], [0, 5, 5, 116, 116], [0, 30, 40, 150, 160], [0, 20, 10, 243, 233],
                     [0, 0, 0, 447, 447], [0, 3, 7, 999, 999]], np.float32)

    class Extract(nn.Cell):
        def __init__(self, per_level):
            super().__init__()
            self.roi = SingleRoIExtractor(cfg, layer, 4, [4, 8, 16, 32], 1, 56, per_level)
            self.roi.set_train_local(cfg, False)

        def construct(self, r, f0, f1, f2, f3):
            return self.roi.map_roi_levels(r), self.roi(r, f0, f1, f2, f3)

    args = [ms.Tensor(rois)] + [ms.Tensor(f) for f in feats]
    levels, pooled = (o.asnumpy() for o in Extract(True)(*args))
    np.testing.assert_array_equal(levels.ravel(), [0, 1, 1, 2, 3, 3])
    for k, lvl in enumerate(levels.ravel()):
        want = roi_align_numpy(feats[lvl][0], rois[k, 1:], 1.0 / (4 * 2 ** lvl))
        np.testing.assert_allclose(pooled[k], want, rtol=1e-5, atol=1e-3)
    # the reference's all-levels computation gives the same numbers
    _, pooled_all = (o.asnumpy() for o in Extract(False)(*args))
    np.testing.assert_array_equal(pooled, pooled_all)


def test_proposals_on_known_scores():
    import mindspore as ms
    from mindspore import nn
    from src.FasterRcnn.anchor_generator import multi_level_anchors
    from src.FasterRcnn.proposal_generator import Proposal
    cfg = small_config()                                 # 128 x 192: P2 32 x 48 ... P6 2 x 3; test top-k 500
    anchors = multi_level_anchors(cfg)
    cls = [np.full((1, 3, h, w), -8.0, np.float32) for h, w in cfg.feature_shapes]
    reg = [np.zeros((1, 12, h, w), np.float32) for h, w in cfg.feature_shapes]
    # P3 cell (y 5, x 7) anchor 1 (64 px square): logit 4; its neighbour cell (y 5, x 8), IoU 0.78: logit 3 (NMS
    # 0.7 suppresses it); P4 cell (2, 3) anchor 2 (ratio 2): logit 2, shifted by deltas (0.1, 0, 0, 0)
    cls[1][0, 1, 5, 7], cls[1][0, 1, 5, 8], cls[2][0, 2, 2, 3] = 4.0, 3.0, 2.0
    reg[2][0, 8, 2, 3] = 0.1

    class Gen(nn.Cell):
        def __init__(self):
            super().__init__()
            self.p = Proposal(cfg, 1, 2, True)
            self.p.set_train_local(cfg, False)
            self.anchors = tuple(ms.Tensor(a) for a in anchors)

        def construct(self, c0, c1, c2, c3, c4, r0, r1, r2, r3, r4):
            return self.p((c0, c1, c2, c3, c4), (r0, r1, r2, r3, r4), self.anchors)

    props, masks = Gen()(*[ms.Tensor(x) for x in cls + reg])
    props, masks = props[0].asnumpy(), masks[0].asnumpy()
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    a1 = anchors[1][(5 * 24 + 7) * 3 + 1]
    np.testing.assert_allclose(props[0, :4], np.clip(a1, 0, [192, 128, 192, 128]), atol=1e-4)
    assert props[0, 4] == pytest.approx(sig(4.0), rel=1e-6) and masks[0]
    a3 = anchors[2][(2 * 12 + 3) * 3 + 2]
    w = a3[2] - a3[0] + 1
    np.testing.assert_allclose(props[1, :4], np.clip(a3 + [0.1 * w, 0, 0.1 * w, 0], 0, [192, 128, 192, 128]),
                               atol=1e-3)
    assert props[1, 4] == pytest.approx(sig(2.0), rel=1e-6) and masks[1]
    # the suppressed neighbour is not among the valid proposals; the rest score sigmoid(-8)
    a2 = anchors[1][(5 * 24 + 8) * 3 + 1]
    valid = props[masks]
    assert not any(np.allclose(r[:4], np.clip(a2, 0, [192, 128, 192, 128])) and r[4] > 0.9 for r in valid)
    np.testing.assert_allclose(props[2:, 4][masks[2:]], sig(-8.0), rtol=1e-5)
    assert props.shape == (500, 5)


def test_rcnn_loss_tiny_case():
    import mindspore as ms
    from mindspore import nn
    from src.FasterRcnn.rcnn import Rcnn
    cfg = Config(dict(rcnn_loss_cls_weight=1, rcnn_loss_reg_weight=1, rcnn_fc_out_channels=16, without_bg_loss=True,
                      num_expected_pos_stage2=2, num_expected_neg_stage2=2))
    rng = np.random.default_rng(0)
    cls = rng.normal(0, 1, (4, 3)).astype(np.float32)
    reg = rng.normal(0, 0.5, (4, 8)).astype(np.float32)
    targets = rng.normal(0, 1.5, (4, 4)).astype(np.float32)
    labels = np.array([2, 1, 0, 0], np.int32)
    mask = np.array([True, True, True, False])

    class Loss(nn.Cell):
        def __init__(self):
            super().__init__()
            self.rcnn = Rcnn(cfg, 8, 1, 3)

        def construct(self, c, r, t, lab, m):
            weights = ms.ops.cast(ms.ops.logical_and(lab > 0, m), ms.int32) * lab
            onehot = ms.ops.one_hot(lab, 3, ms.Tensor(1.0, ms.float32), ms.Tensor(0.0, ms.float32))
            tiled = ms.ops.tile(ms.ops.expand_dims(t, 1), (1, 2, 1))
            return self.rcnn.loss(c, r, tiled, weights, onehot, m)[:3]

    loss, loss_cls, loss_reg = (float(o.asnumpy()) for o in Loss()(*[ms.Tensor(x) for x in (cls, reg, targets,
                                                                                           labels, mask)]))
    logp = cls - np.log(np.exp(cls).sum(1, keepdims=True))
    want_cls = -(logp[np.arange(4), labels] * mask).sum() / mask.sum()

    def smooth_l1(d):
        d = np.abs(d)
        return np.where(d < 1.0, 0.5 * d * d, d - 0.5)

    want_reg = sum(smooth_l1(reg[i, 4 * (labels[i] - 1):4 * labels[i]] - targets[i]).sum() for i in (0, 1))
    want_reg /= mask.sum() + 1e-4
    assert loss_cls == pytest.approx(want_cls, rel=1e-5)
    assert loss_reg == pytest.approx(want_reg, rel=1e-5)
    assert loss == pytest.approx(want_cls + want_reg, rel=1e-5)


def test_rpn_loss_tiny_case():
    """The RPN loss from the head's outputs and the sampler's targets: sigmoid CE over the sampled anchors and
    smooth-L1 (beta 1/9) over the positives, both over num_expected_neg x batch, summed over the levels."""
    import mindspore as ms
    from mindspore import nn, ops
    from src.FasterRcnn.anchor_generator import multi_level_anchors
    from src.FasterRcnn.rpn import RPN, check_valid
    cfg = small_config("--num_expected_neg=64", "--num_expected_pos=16")
    anchors = multi_level_anchors(cfg)
    rng = np.random.default_rng(1)
    feats = [rng.normal(0, 1, (2, 256, h, w)).astype(np.float32) for h, w in cfg.feature_shapes]
    metas = np.array([[128, 192, 1.0]] * 2, np.float32)
    gts = np.zeros((2, 16, 4), np.float32)
    gts[0, :2] = [[20, 30, 80, 100], [100, 20, 170, 60]]
    gts[1, :1] = [[40, 40, 120, 110]]
    gt_valid = np.zeros((2, 16), bool)
    gt_valid[0, :2] = gt_valid[1, :1] = True
    labels = np.ones((2, 16), np.uint8)
    prio = rng.random((2, cfg.num_bboxes)).astype(np.float32)

    class Run(nn.Cell):
        def __init__(self):
            super().__init__()
            self.rpn = RPN(cfg, 2, 256, 256, 3, 1)
            self.anchors = tuple(ms.Tensor(a) for a in anchors)

        def construct(self, f0, f1, f2, f3, f4, m, g, lab, v, p):
            loss, cls, reg, cls_loss, reg_loss, _ = self.rpn((f0, f1, f2, f3, f4), m, self.anchors, g, lab, v, p)
            all_anchors = ops.concat(self.anchors)
            t0 = self.rpn.get_targets(g[0], lab[0], check_valid(all_anchors, m[0]), all_anchors, v[0], p[0])
            t1 = self.rpn.get_targets(g[1], lab[1], check_valid(all_anchors, m[1]), all_anchors, v[1], p[1])
            return loss, cls_loss, reg_loss, cls, reg, t0, t1

    net = Run()
    net.set_train(True)
    out = net(*[ms.Tensor(x) for x in feats + [metas, gts, labels, gt_valid, prio]])
    loss, cls_loss, reg_loss = (float(o.asnumpy().reshape(-1)[0]) for o in out[:3])
    cls = [c.asnumpy() for c in out[3]]
    reg = [r.asnumpy() for r in out[4]]
    targets = [[t.asnumpy() for t in ts] for ts in out[5:]]
    sizes = [h * w * 3 for h, w in cfg.feature_shapes]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    norm = 64 * 2
    want_cls = want_reg = 0.0
    for lvl in range(5):
        for i in range(2):
            logits = cls[lvl][i].transpose(1, 2, 0).reshape(-1)
            deltas = reg[lvl][i].transpose(1, 2, 0).reshape(-1, 4)
            sl = slice(bounds[lvl], bounds[lvl + 1])
            tgt, tgt_w, lab, lab_w = (t[sl] for t in targets[i])
            bce = np.maximum(logits, 0) - logits * lab + np.log1p(np.exp(-np.abs(logits)))
            want_cls += (bce * lab_w).sum() / norm
            d = np.abs(deltas - tgt)
            sl1 = np.where(d < 1 / 9, 0.5 * d * d * 9, d - 0.5 / 9)
            want_reg += (sl1 * tgt_w[:, None]).sum() / norm
    n_sampled = sum(t[3].sum() for t in targets)
    assert n_sampled == 2 * 64 and sum(t[1].sum() for t in targets) > 0
    assert cls_loss == pytest.approx(want_cls, rel=1e-4)
    assert reg_loss == pytest.approx(want_reg, rel=1e-4)
    assert loss == pytest.approx(want_cls + want_reg, rel=1e-4)

"""The RPN and RCNN assigners / samplers on hand-built cases."""
import numpy as np

from src.model_utils.config import Config


def _encode(box, gt, stds):
    pw, ph = box[2] - box[0] + 1, box[3] - box[1] + 1
    gw, gh = gt[2] - gt[0] + 1, gt[3] - gt[1] + 1
    d = [(gt[0] + 0.5 * (gw - 1) - box[0] - 0.5 * (pw - 1)) / pw, (gt[1] + 0.5 * (gh - 1) - box[1] - 0.5 * (ph - 1)) / ph,
         np.log(gw / pw), np.log(gh / ph)]
    return np.array(d) / np.array(stds)


def test_forced_best_assignment_ties_and_last_box_wins():
    import mindspore as ms
    from mindspore import nn
    from src.FasterRcnn.bbox_assign_sample import assign

    class Assign(nn.Cell):
        def construct(self, overlaps):
            return assign(overlaps, 0.3, 0.7, 0.3)

    overlaps = np.array([[0.9, 0.5, 0.5, 0.1, 0.0],     # gt 0: best 0.9 at box 0
                         [0.1, 0.5, 0.5, 0.2, 0.0],     # gt 1: best 0.5, tied at boxes 1 and 2
                         [0.0, 0.0, 0.5, 0.25, 0.0]],   # gt 2: best 0.5 at box 2 (claims it after gt 1)
                        np.float32)
    got = Assign()(ms.Tensor(overlaps)).asnumpy()
    # box 0 positive (>= 0.7) for gt 0; boxes 1, 2 forced; box 2's last claimant is gt 2; box 3 max 0.25 -> negative
    np.testing.assert_array_equal(got, [1, 2, 3, 0, 0])


def _rpn_cfg():
    return Config(dict(neg_iou_thr=0.3, pos_iou_thr=0.7, min_pos_iou=0.3, num_gts=3, num_expected_pos=2,
                       num_expected_neg=4))


def test_rpn_assigner_sampler_hand_case():
    import mindspore as ms
    from src.FasterRcnn.bbox_assign_sample import BboxAssignSample
    gts = np.array([[0, 0, 9, 9], [50, 50, 69, 69], [5, 5, 30, 30]], np.float32)
    gt_valid = np.array([True, True, False])                     # the third ground-truth slot is padding
    anchors = np.array([[0, 0, 9, 9],          # 0: IoU 1 with gt 0 -> positive
                        [0, 0, 9, 19],         # 1: IoU 0.5 -> ignored
                        [50, 50, 59, 59],      # 2: IoU 0.25 -> negative
                        [50, 50, 64, 64],      # 3: IoU 0.5625, gt 1's best -> forced positive
                        [50, 50, 64, 64],      # 4: ties 3 -> forced positive too
                        [200, 200, 220, 220],  # 5: negative
                        [-1, 0, 9, 9],         # 6: IoU 0.91 with gt 0, but invalid (outside the canvas) -> ignored
                        [300, 300, 310, 310]], np.float32)  # 7: negative
    valid = np.array([True] * 6 + [False, True])
    labels = np.array([1, 1, 1], np.uint8)
    priority = np.array([0.9, 0.5, 0.8, 0.1, 0.7, 0.2, 0.95, 0.6], np.float32)
    net = BboxAssignSample(_rpn_cfg(), 1, 8, False)
    tgt, tgt_w, lab, lab_w = (o.asnumpy() for o in net(*(ms.Tensor(x) for x in (gts, labels, valid, anchors,
                                                                                   gt_valid, priority))))
    # positives {0, 3, 4}: the 2 of highest priority, 0 and 4; negatives {2, 5, 7}: 4 slots = 2 + 0 unused positive
    # slots, so the 2 of highest priority, 2 and 7
    np.testing.assert_array_equal(tgt_w, [1, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(lab_w, [1, 0, 1, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(lab, [1, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_allclose(tgt[0], 0, atol=1e-7)
    np.testing.assert_allclose(tgt[4], _encode(anchors[4], gts[1], (1, 1, 1, 1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(tgt[[1, 2, 3, 5, 6, 7]], 0)
    # with a single positive candidate, the unused positive slot goes to the negatives: 3 negatives
    priority2 = priority.copy()
    valid2 = valid.copy()
    valid2[[3, 4]] = False
    _, tgt_w, _, lab_w = (o.asnumpy() for o in net(*(ms.Tensor(x) for x in (gts, labels, valid2, anchors, gt_valid,
                                                                            priority2))))
    np.testing.assert_array_equal(tgt_w, [1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(lab_w, [1, 0, 1, 0, 0, 1, 0, 1])


def test_rcnn_sampler_prepends_ground_truth():
    import mindspore as ms
    from src.FasterRcnn.bbox_assign_sample_stage2 import BboxAssignSampleForRcnn
    cfg = Config(dict(neg_iou_thr_stage2=0.5, pos_iou_thr_stage2=0.5, min_pos_iou_stage2=0.5, num_gts=2,
                      num_expected_pos_stage2=2, num_expected_neg_stage2=4))
    gts = np.array([[100, 100, 199, 199], [0, 0, 50, 50]], np.float32)
    gt_valid = np.array([True, False])
    labels = np.array([3, 2], np.uint8)
    proposals = np.array([[110, 110, 209, 209],   # IoU 0.68 with gt 0 -> positive
                          [150, 150, 260, 260],   # IoU 0.13 -> negative
                          [100, 100, 199, 199],   # suppressed by NMS (invalid) -> ignored
                          [400, 400, 450, 450]], np.float32)  # negative
    pmask = np.array([True, True, False, True])
    priority = np.array([0.3, 0.9, 0.5, 0.4, 0.99, 0.2], np.float32)   # over [gt0, gt1, p0, p1, p2, p3]
    net = BboxAssignSampleForRcnn(cfg, 1, 4, True)
    boxes, deltas, lab, mask = (o.asnumpy() for o in net(*(ms.Tensor(x) for x in (gts, labels, pmask, proposals,
                                                                                  gt_valid, priority))))
    # positives: p0 (priority 0.5) then gt 0 itself (0.3); negatives: p1, p3 (4 slots: 2 + 0 unused)
    np.testing.assert_array_equal(boxes[:2], [proposals[0], gts[0]])
    np.testing.assert_array_equal(lab[:2], [3, 3])
    np.testing.assert_allclose(deltas[0], _encode(proposals[0], gts[0], (0.1, 0.1, 0.2, 0.2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(deltas[1], 0, atol=1e-7)
    np.testing.assert_array_equal(boxes[2:4], [proposals[1], proposals[3]])
    np.testing.assert_array_equal(mask.ravel(), [1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(lab[2:], 0)
    np.testing.assert_array_equal(deltas[2:], 0)


def test_random_choice_with_mask_takes_the_highest_priorities():
    import mindspore as ms
    from mindspore import nn
    from src.FasterRcnn.bbox_assign_sample import random_choice_with_mask

    class Choice(nn.Cell):
        def construct(self, mask, priority):
            return random_choice_with_mask(mask, priority, 4)

    mask = np.array([True, False, True, True, False, True, True])
    prio = np.array([0.1, 0.99, 0.7, 0.3, 0.98, 0.9, 0.05], np.float32)
    idx, valid = (o.asnumpy() for o in Choice()(ms.Tensor(mask), ms.Tensor(prio)))
    np.testing.assert_array_equal(idx.ravel(), [5, 2, 3, 0])
    np.testing.assert_array_equal(valid, [True] * 4)
    idx, valid = (o.asnumpy() for o in Choice()(ms.Tensor(np.array([False, True, False, False, False, True, False])),
                                                 ms.Tensor(prio)))
    np.testing.assert_array_equal(idx.ravel(), [1, 5, 0, 0])
    np.testing.assert_array_equal(valid, [True, True, False, False])

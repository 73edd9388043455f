"""RPN targets: assign every anchor to a ground-truth box (``match``) and sample 256 anchors per image.

Assignment rule (``BboxAssignSample``, the mmdetection ``MaxIoUAssigner`` of the reference), IoU with the +1 pixel
convention (``ops.IOU``), invalid ground truth replaced by ``[-1, -1, -1, -1]`` and invalid anchors (outside the
canvas, see ``rpn.check_valid``) by ``[-2, -2, -2, -2]`` so that they overlap nothing:

1. every anchor starts as "ignored" (-1);
2. an anchor whose best IoU over the ground truth is in ``[0, neg_iou_thr)`` becomes negative (0);
3. an anchor whose best IoU is ``>= pos_iou_thr`` becomes positive for that box (its index + 1);
4. for every ground-truth box ``j`` whose best IoU over the anchors is ``>= min_pos_iou``, every anchor that ties
   that best IoU becomes positive for ``j``; where several boxes claim the same anchor, the last box wins;
5. invalid anchors are ignored again.

Sampling: up to ``num_expected_pos`` positives drawn at random, then negatives so that ``num_expected_neg``
anchors are sampled in all. Targets are the deltas of ``BoundingBoxEncode`` (means 0, stds 1) at the positives.

The draws come from ``random_choice_with_mask`` with uniform priorities fed by the data pipeline, a random
subset as ``ops.RandomChoiceWithMask`` draws it but from the data's seeded generator, so that a resumed run draws
exactly what the uninterrupted run drew (the op keeps hidden state in its kernel that a restart resets).
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor


def random_choice_with_mask(mask, priority, count):
    """Up to ``count`` random positions where ``mask`` is True: ``(index (count, 1) int32, valid (count,) bool)``.

    Like ``ops.RandomChoiceWithMask``: the chosen positions come first, in random order, the unused slots last
    with index 0 and valid False. ``priority`` holds independent U[0, 1) draws, one per position; the chosen
    positions are the ``count`` candidates of highest priority, a uniformly random subset."""
    scores = ops.select(mask, priority, ops.full_like(priority, -1.0))
    values, index = ops.topk(scores, count, sorted=True)
    valid = values >= 0.0
    index = ops.cast(index, ms.int32) * ops.cast(valid, ms.int32)
    return ops.reshape(index, (count, 1)), valid


def forced_best_assignment(overlaps, max_overlaps_w_ac, min_pos_iou):
    """Rule 4: for each anchor, 1 + the last ground-truth box ``j`` with ``overlaps[j] == max_overlaps_w_ac[j] >=
    min_pos_iou`` at that anchor, 0 where there is none. ``overlaps`` is ``(num_gts, num_bboxes)``."""
    num_gts = overlaps.shape[0]
    best = ops.expand_dims(max_overlaps_w_ac, 1)
    claims = ops.logical_and(ops.equal(overlaps, best), best >= min_pos_iou)
    ranks = Tensor(np.arange(1, num_gts + 1, dtype=np.int32).reshape(num_gts, 1))
    return ops.reduce_max(ops.cast(claims, ms.int32) * ranks, 0)


def assign(overlaps, neg_iou_thr, pos_iou_thr, min_pos_iou):
    """Rules 1-4 on ``overlaps`` ``(num_gts, num_bboxes)``: per box -1 (ignored), 0 (negative) or gt index + 1."""
    max_overlaps_w_gt_index, max_overlaps_w_gt = ops.ArgMaxWithValue(axis=0)(overlaps)
    _, max_overlaps_w_ac = ops.ArgMaxWithValue(axis=1)(overlaps)
    assigned = ops.full(max_overlaps_w_gt.shape, -1, dtype=ms.int32)
    negative = ops.logical_and(max_overlaps_w_gt >= 0.0, max_overlaps_w_gt < neg_iou_thr)
    assigned = ops.select(negative, ops.zeros_like(assigned), assigned)
    positive = max_overlaps_w_gt >= pos_iou_thr
    assigned = ops.select(positive, ops.cast(max_overlaps_w_gt_index, ms.int32) + 1, assigned)
    forced = forced_best_assignment(overlaps, max_overlaps_w_ac, min_pos_iou)
    return ops.select(forced > 0, forced, assigned)


def mask_boxes(boxes, valid, fill):
    """``boxes`` with the rows where ``valid`` is False replaced by ``[fill] * 4``."""
    valid4 = ops.tile(ops.reshape(ops.cast(valid, ms.bool_), (-1, 1)), (1, 4))
    return ops.select(valid4, boxes, ops.full_like(boxes, fill))


class BboxAssignSample(nn.Cell):
    """RPN assigner and sampler for one image.

    ``construct(gt_bboxes_i (num_gts, 4), gt_labels_i (num_gts,), valid_mask (num_bboxes,) bool, bboxes
    (num_bboxes, 4), gt_valids (num_gts,) bool, priority (num_bboxes,))`` returns ``(bbox_targets (num_bboxes, 4),
    bbox_weights (num_bboxes,) bool, labels (num_bboxes,), label_weights (num_bboxes,) bool)``."""

    def __init__(self, config, batch_size, num_bboxes, add_gt_as_proposals):
        super().__init__()
        self.batch_size = batch_size
        self.neg_iou_thr = float(config.neg_iou_thr)
        self.pos_iou_thr = float(config.pos_iou_thr)
        self.min_pos_iou = float(config.min_pos_iou)
        self.num_bboxes = num_bboxes
        self.num_gts = config.num_gts
        self.num_expected_pos = config.num_expected_pos
        self.num_expected_neg = config.num_expected_neg
        self.add_gt_as_proposals = add_gt_as_proposals
        self.iou = ops.IOU()
        self.bounding_box_encode = ops.BoundingBoxEncode(means=(0.0, 0.0, 0.0, 0.0), stds=(1.0, 1.0, 1.0, 1.0))
        self.range_pos_size = Tensor(np.arange(self.num_expected_pos).astype(np.float32))
        self.check_neg_mask = Tensor(np.ones(self.num_expected_neg - self.num_expected_pos, dtype=np.bool_))

    def construct(self, gt_bboxes_i, gt_labels_i, valid_mask, bboxes, gt_valids, priority):
        gt_bboxes_i = mask_boxes(gt_bboxes_i, gt_valids, -1.0)
        bboxes = mask_boxes(bboxes, valid_mask, -2.0)
        overlaps = self.iou(bboxes, gt_bboxes_i)
        assigned = assign(overlaps, self.neg_iou_thr, self.pos_iou_thr, self.min_pos_iou)
        assigned = ops.select(valid_mask, assigned, ops.full_like(assigned, -1))

        pos_index, valid_pos_index = random_choice_with_mask(assigned > 0, priority, self.num_expected_pos)
        num_pos_candidates = ops.reduce_sum(ops.cast(assigned > 0, ms.float32))
        valid_pos_index = self.range_pos_size < num_pos_candidates
        valid_pos_int = ops.cast(valid_pos_index, ms.int32)
        pos_assigned_gt_index = (ops.gather_nd(assigned, pos_index) - 1) * valid_pos_int
        pos_assigned_gt_index = ops.reshape(pos_assigned_gt_index, (self.num_expected_pos, 1))

        neg_index, valid_neg_index = random_choice_with_mask(ops.equal(assigned, 0), priority,
                                                             self.num_expected_neg)
        num_unused_pos = ops.reduce_sum(ops.cast(ops.logical_not(valid_pos_index), ms.float32))
        unused_pos_slots = self.range_pos_size < num_unused_pos
        valid_neg_index = ops.logical_and(ops.concat((self.check_neg_mask, unused_pos_slots)), valid_neg_index)

        pos_bboxes = ops.gather_nd(bboxes, pos_index)
        pos_gt_bboxes = ops.gather_nd(gt_bboxes_i, pos_assigned_gt_index)
        pos_gt_labels = ops.gather_nd(gt_labels_i, pos_assigned_gt_index)
        pos_bbox_targets = self.bounding_box_encode(pos_bboxes, pos_gt_bboxes)

        valid_pos_f = ops.cast(ops.reshape(valid_pos_index, (-1, 1)), ms.float32)
        valid_neg_int = ops.cast(valid_neg_index, ms.int32)
        total_index = ops.concat((pos_index, neg_index))
        # unused slots point at box 0 with weight 0: masked before the (summing) scatter
        bbox_targets_total = ops.scatter_nd(pos_index, pos_bbox_targets * valid_pos_f, (self.num_bboxes, 4))
        bbox_weights_total = ops.scatter_nd(pos_index, valid_pos_int, (self.num_bboxes,))
        labels_total = ops.scatter_nd(pos_index, ops.cast(pos_gt_labels, ms.int32) * valid_pos_int,
                                      (self.num_bboxes,))
        label_weights_total = ops.scatter_nd(total_index, ops.concat((valid_pos_int, valid_neg_int)),
                                             (self.num_bboxes,))
        return (bbox_targets_total, ops.cast(bbox_weights_total, ms.bool_), labels_total,
                ops.cast(label_weights_total, ms.bool_))

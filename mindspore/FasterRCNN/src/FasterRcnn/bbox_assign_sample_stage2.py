"""RCNN targets: assign the proposals (with the ground truth prepended) and sample 512 RoIs per image.

``BboxAssignSampleForRcnn`` applies the rules of ``bbox_assign_sample`` with the stage-2 thresholds (negatives
``[0, 0.5)``, positives ``>= 0.5``, each box's best proposals ``>= 0.5``) to the proposals (invalid ones, i.e.
suppressed by NMS, ignored), then prepends the valid ground-truth boxes as proposals assigned to themselves.
Up to ``num_expected_pos_stage2`` positives are drawn, then negatives up to ``num_expected_neg_stage2`` RoIs in
all: ``128 + 512`` slots, of which at most 512 are valid. Regression targets use stds (0.1, 0.1, 0.2, 0.2);
labels are the class indices (1 .. C-1), 0 for the negatives.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor

from .bbox_assign_sample import assign, mask_boxes, random_choice_with_mask


class BboxAssignSampleForRcnn(nn.Cell):
    """RCNN assigner and sampler for one image.

    ``construct(gt_bboxes_i (num_gts, 4), gt_labels_i (num_gts,), valid_mask (num_bboxes,) bool, bboxes
    (num_bboxes, 4), gt_valids (num_gts,) bool, priority (num_gts + num_bboxes,))`` returns ``(bboxes (P + N, 4),
    deltas (P + N, 4), labels (P + N,) uint8, mask (P + N, 1) int32)`` with the positives first."""

    def __init__(self, config, batch_size, num_bboxes, add_gt_as_proposals):
        super().__init__()
        self.batch_size = batch_size
        self.neg_iou_thr = float(config.neg_iou_thr_stage2)
        self.pos_iou_thr = float(config.pos_iou_thr_stage2)
        self.min_pos_iou = float(config.min_pos_iou_stage2)
        self.num_gts = config.num_gts
        self.num_bboxes = num_bboxes
        self.num_expected_pos = config.num_expected_pos_stage2
        self.num_expected_neg = config.num_expected_neg_stage2
        self.label_inds = Tensor(np.arange(1, self.num_gts + 1).astype(np.int32))
        self.add_gt_as_proposals_valid = Tensor(np.full(self.num_gts, int(add_gt_as_proposals), dtype=np.int32))
        self.iou = ops.IOU()
        self.bounding_box_encode = ops.BoundingBoxEncode(means=(0.0, 0.0, 0.0, 0.0), stds=(0.1, 0.1, 0.2, 0.2))
        self.range_pos_size = Tensor(np.arange(self.num_expected_pos).astype(np.float32))
        self.check_neg_mask = Tensor(np.ones(self.num_expected_neg - self.num_expected_pos, dtype=np.bool_))
        self.bboxs_neg_mask = Tensor(np.zeros((self.num_expected_neg, 4), dtype=np.float32))
        self.labels_neg_mask = Tensor(np.zeros(self.num_expected_neg, dtype=np.uint8))

    def construct(self, gt_bboxes_i, gt_labels_i, valid_mask, bboxes, gt_valids, priority):
        gt_bboxes_i = mask_boxes(gt_bboxes_i, gt_valids, -1.0)
        bboxes = mask_boxes(bboxes, valid_mask, -2.0)
        overlaps = self.iou(bboxes, gt_bboxes_i)
        assigned = assign(overlaps, self.neg_iou_thr, self.pos_iou_thr, self.min_pos_iou)
        assigned = ops.select(valid_mask, assigned, ops.full_like(assigned, -1))

        # the ground truth joins the proposals, each box assigned to itself
        bboxes = ops.concat((gt_bboxes_i, bboxes))
        gt_as_proposals = ops.select(gt_valids, self.label_inds, ops.full_like(self.label_inds, -1))
        assigned = ops.concat((gt_as_proposals * self.add_gt_as_proposals_valid, assigned))

        pos_index, valid_pos_index = random_choice_with_mask(assigned > 0, priority, self.num_expected_pos)
        num_pos_candidates = ops.reduce_sum(ops.cast(assigned > 0, ms.float32))
        valid_pos_index = self.range_pos_size < num_pos_candidates
        num_unused_pos = ops.reduce_sum(ops.cast(ops.logical_not(valid_pos_index), ms.float32))
        valid_pos_int = ops.reshape(ops.cast(valid_pos_index, ms.int32), (self.num_expected_pos, 1))
        pos_index = pos_index * valid_pos_int
        pos_assigned_gt_index = ops.reshape(ops.gather_nd(assigned, pos_index) - 1, (self.num_expected_pos, 1))
        pos_assigned_gt_index = pos_assigned_gt_index * valid_pos_int
        pos_gt_labels = ops.gather_nd(gt_labels_i, pos_assigned_gt_index)

        neg_index, valid_neg_index = random_choice_with_mask(ops.equal(assigned, 0), priority,
                                                             self.num_expected_neg)
        unused_pos_slots = self.range_pos_size < num_unused_pos
        valid_neg_index = ops.logical_and(ops.concat((self.check_neg_mask, unused_pos_slots)), valid_neg_index)
        valid_neg_int = ops.reshape(ops.cast(valid_neg_index, ms.int32), (self.num_expected_neg, 1))
        neg_index = neg_index * valid_neg_int

        pos_bboxes = ops.gather_nd(bboxes, pos_index)
        neg_bboxes = ops.gather_nd(bboxes, neg_index)
        pos_gt_bboxes = ops.gather_nd(gt_bboxes_i, pos_assigned_gt_index)
        pos_bbox_targets = self.bounding_box_encode(pos_bboxes, pos_gt_bboxes)

        total_bboxes = ops.concat((pos_bboxes, neg_bboxes))
        total_deltas = ops.concat((pos_bbox_targets, self.bboxs_neg_mask))
        total_labels = ops.concat((ops.cast(pos_gt_labels, ms.uint8), self.labels_neg_mask))
        total_mask = ops.concat((valid_pos_int, valid_neg_int))
        return total_bboxes, total_deltas, total_labels, total_mask

"""Proposal generator: the RPN's per-level outputs -> the top proposals of each image.

Per image and level: sigmoid of the objectness logits (flattened in NHWC order, so logit ``(y W + x) A + a``
pairs with anchor ``(y W + x) A + a``), the top ``k = min(nms_pre, anchors of the level)`` scores
(``TopK``, sorted), their deltas decoded against their anchors (``BoundingBoxDecode``, means 0, stds 1, boxes
clipped to the canvas, ``|dw|, |dh|`` clipped at ``|log(0.016)|``), ``NMSWithMask`` at ``nms_thr``. Then the levels
are concatenated, NMS-suppressed rows get the score -65500, and the global top ``max_num`` (2000 in training,
1000 at test) are the proposals ``[x1, y1, x2, y2, score]`` with their validity mask. No minimum-size filter.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor


class Proposal(nn.Cell):
    """``construct(rpn_cls_score_total, rpn_bbox_pred_total, anchor_list)`` returns per image ``(proposals
    (max_num, 5), mask (max_num,))`` as two tuples."""

    def __init__(self, config, batch_size, num_classes, use_sigmoid_cls,
                 target_means=(0.0, 0.0, 0.0, 0.0), target_stds=(1.0, 1.0, 1.0, 1.0)):
        super().__init__()
        self.batch_size = batch_size
        self.num_classes = num_classes
        self.use_sigmoid_cls = use_sigmoid_cls
        if not use_sigmoid_cls:
            raise ValueError("the proposal generator scores with a sigmoid (use_sigmoid_cls True)")
        self.cls_out_channels = num_classes - 1
        self.num_levels = config.fpn_num_outs
        self.feature_shapes = config.feature_shapes
        self.num_anchors = config.num_anchors
        self.decode = ops.BoundingBoxDecode(max_shape=(config.img_height, config.img_width), means=target_means,
                                            stds=target_stds)
        self.sigmoid = ops.Sigmoid()
        self.topk = ops.TopK(sorted=True)
        self.min_float_num = -65500.0
        self.set_train_local(config, training=True)

    def set_train_local(self, config, training=True):
        """Training (``rpn_proposal_*``) or test (``rpn_nms_*``, ``rpn_max_num``) settings."""
        self.training_local = training
        if training:
            num_pre, nms_thr, max_num = (config.rpn_proposal_nms_pre, config.rpn_proposal_nms_thr,
                                         config.rpn_proposal_max_num)
        else:
            num_pre, nms_thr, max_num = config.rpn_nms_pre, config.rpn_nms_thr, config.rpn_max_num
        self.max_num = max_num
        self.nms = ops.NMSWithMask(nms_thr)
        self.topK_stage1 = tuple(min(num_pre, h * w * self.num_anchors) for h, w in self.feature_shapes)
        self.topK_mask = Tensor(self.min_float_num * np.ones(sum(self.topK_stage1), np.float32))

    def construct(self, rpn_cls_score_total, rpn_bbox_pred_total, anchor_list):
        proposals_tuple = ()
        masks_tuple = ()
        for img_id in range(self.batch_size):
            cls_score_list = ()
            bbox_pred_list = ()
            for i in range(self.num_levels):
                cls_score_list += (rpn_cls_score_total[i][img_id],)
                bbox_pred_list += (rpn_bbox_pred_total[i][img_id],)
            proposals, masks = self.get_bboxes_single(cls_score_list, bbox_pred_list, anchor_list)
            proposals_tuple += (proposals,)
            masks_tuple += (masks,)
        return proposals_tuple, masks_tuple

    def get_bboxes_single(self, cls_scores, bbox_preds, mlvl_anchors):
        """Proposals of one image from its per-level ``(A, H, W)`` logits and ``(4A, H, W)`` deltas."""
        mlvl_proposals = ()
        mlvl_mask = ()
        for idx in range(self.num_levels):
            scores = ops.reshape(ops.transpose(cls_scores[idx], (1, 2, 0)), (-1, 1))
            scores = ops.cast(ops.reshape(self.sigmoid(scores), (-1,)), ms.float32)
            deltas = ops.cast(ops.reshape(ops.transpose(bbox_preds[idx], (1, 2, 0)), (-1, 4)), ms.float32)
            k = self.topK_stage1[idx]
            scores_sorted, topk_inds = self.topk(scores, k)
            topk_inds = ops.reshape(topk_inds, (k, 1))
            deltas_sorted = ops.gather_nd(deltas, topk_inds)
            anchors_sorted = ops.cast(ops.gather_nd(mlvl_anchors[idx], topk_inds), ms.float32)
            boxes = self.decode(anchors_sorted, deltas_sorted)
            proposals, _, mask_valid = self.nms(ops.concat((boxes, ops.reshape(scores_sorted, (k, 1))), 1))
            mlvl_proposals += (proposals,)
            mlvl_mask += (mask_valid,)

        proposals = ops.concat(mlvl_proposals)
        masks = ops.concat(mlvl_mask)
        scores_using = ops.select(masks, proposals[:, 4], self.topK_mask)
        _, topk_inds = self.topk(scores_using, self.max_num)
        topk_inds = ops.reshape(topk_inds, (self.max_num, 1))
        return ops.gather_nd(proposals, topk_inds), ops.gather_nd(masks, topk_inds)

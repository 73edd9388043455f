"""Region proposal network: one head shared by the five pyramid levels, its targets and loss.

Head (``RpnRegClsBlock``): 3x3 conv (256) + ReLU, then 1x1 convs giving ``num_anchors`` objectness logits and
``4 * num_anchors`` box deltas per location. The reference builds one block per level and makes them share the
same parameters; here one block (``rpn_convs_list.0``, the reference's parameter names) is applied to every level.
Init: Normal(0.01) weights, zero biases.

Training (per image): anchors inside the canvas are valid (``check_valid``); ``BboxAssignSample`` gives targets;
per level, the classification loss is the sigmoid cross-entropy over the sampled anchors and the regression loss
the smooth-L1 (beta 1/9) over the positives, both divided by ``num_expected_neg * batch_size`` (256 per image);
``rpn_loss = sum over levels (cls_weight * cls + reg_weight * reg)``.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor
from mindspore.common.initializer import Normal, initializer

from .bbox_assign_sample import BboxAssignSample


def check_valid(bboxes, img_meta):
    """``ops.CheckValid`` from elementwise primitives (the op is deprecated in MindSpore 2.10): a box
    ``[x1, y1, x2, y2]`` is valid when ``x1 >= 0``, ``y1 >= 0``, ``x2 <= w * ratio - 1`` and
    ``y2 <= h * ratio - 1``, with ``img_meta = (h, w, ratio)``."""
    max_x = img_meta[1] * img_meta[2] - 1.0
    max_y = img_meta[0] * img_meta[2] - 1.0
    x1, y1, x2, y2 = ops.split(bboxes, 1, axis=1)
    valid = ops.logical_and(ops.logical_and(x1 >= 0.0, y1 >= 0.0), ops.logical_and(x2 <= max_x, y2 <= max_y))
    return ops.reshape(valid, (-1,))


class RpnRegClsBlock(nn.Cell):
    """The RPN head: ``construct(x)`` returns (objectness logits ``(B, A, H, W)``, deltas ``(B, 4A, H, W)``)."""

    def __init__(self, in_channels, feat_channels, num_anchors, cls_out_channels):
        super().__init__()

        def normal(shape):
            return initializer(Normal(0.01), shape, ms.float32).init_data()

        self.rpn_conv = nn.Conv2d(in_channels, feat_channels, kernel_size=3, stride=1, pad_mode="same",
                                  has_bias=True, weight_init=normal((feat_channels, in_channels, 3, 3)),
                                  bias_init="zeros")
        self.relu = nn.ReLU()
        n_cls = num_anchors * cls_out_channels
        self.rpn_cls = nn.Conv2d(feat_channels, n_cls, kernel_size=1, pad_mode="valid", has_bias=True,
                                 weight_init=normal((n_cls, feat_channels, 1, 1)), bias_init="zeros")
        self.rpn_reg = nn.Conv2d(feat_channels, num_anchors * 4, kernel_size=1, pad_mode="valid", has_bias=True,
                                 weight_init=normal((num_anchors * 4, feat_channels, 1, 1)), bias_init="zeros")

    def construct(self, x):
        x = self.relu(self.rpn_conv(x))
        return self.rpn_cls(x), self.rpn_reg(x)


class RPN(nn.Cell):
    """``construct(inputs (P2..P6), img_metas, anchor_list, gt_bboxes, gt_labels, gt_valids, priority)`` returns
    ``(rpn_loss, cls_scores (per level), bbox_preds (per level), cls_loss, reg_loss, per-level losses)``; in eval
    mode the losses are placeholders and only the per-level raw outputs matter."""

    def __init__(self, config, batch_size, in_channels, feat_channels, num_anchors, cls_out_channels):
        super().__init__()
        self.device_type = "Ascend" if ms.get_context("device_target") == "Ascend" else "Others"
        self.num_layers = 5
        self.batch_size = batch_size
        self.num_anchors = num_anchors
        self.num_bboxes = config.num_bboxes
        level_sizes = [h * w * num_anchors for h, w in config.feature_shapes]
        self.slice_index = tuple(int(x) for x in np.concatenate([[0], np.cumsum(level_sizes)]))
        self.feature_anchor_shape = tuple(n * batch_size for n in level_sizes)
        block = RpnRegClsBlock(in_channels, feat_channels, num_anchors, cls_out_channels)
        if self.device_type == "Ascend":
            block.to_float(ms.float16)
        self.rpn_convs_list = nn.CellList([block])
        self.rpn_loss_reg_weight = Tensor(np.array(config.rpn_loss_reg_weight, np.float32))
        self.rpn_loss_cls_weight = Tensor(np.array(config.rpn_loss_cls_weight, np.float32))
        self.num_expected_total = Tensor(np.array(config.num_expected_neg * batch_size, np.float32))
        self.get_targets = BboxAssignSample(config, batch_size, self.num_bboxes, False)
        self.loss_cls = ops.SigmoidCrossEntropyWithLogits()
        self.loss_bbox = ops.SmoothL1Loss(beta=1.0 / 9.0)
        self.placeh1 = Tensor(np.ones((1,), np.float32))

    def construct(self, inputs, img_metas, anchor_list, gt_bboxes, gt_labels, gt_valids, priority):
        head = self.rpn_convs_list[0]
        cls_scores = ()
        bbox_preds = ()
        for i in range(self.num_layers):
            x1, x2 = head(inputs[i])
            cls_scores += (x1,)
            bbox_preds += (x2,)
        if not self.training:
            return self.placeh1, cls_scores, bbox_preds, self.placeh1, self.placeh1, self.placeh1

        anchors = ops.concat(anchor_list)
        targets = ()
        for i in range(self.batch_size):
            valid = check_valid(anchors, img_metas[i])
            targets += (self.get_targets(gt_bboxes[i], gt_labels[i], valid, anchors, gt_valids[i], priority[i]),)

        loss = ops.zeros((1,), ms.float32)
        cls_loss = ops.zeros((1,), ms.float32)
        reg_loss = ops.zeros((1,), ms.float32)
        per_level = ()
        for lvl in range(self.num_layers):
            begin = self.slice_index[lvl]
            end = self.slice_index[lvl + 1]
            bbox_target = ()
            bbox_weight = ()
            label = ()
            label_weight = ()
            for i in range(self.batch_size):                  # level lvl of every image, images in batch order
                bbox_target += (targets[i][0][begin:end],)
                bbox_weight += (targets[i][1][begin:end],)
                label += (targets[i][2][begin:end],)
                label_weight += (targets[i][3][begin:end],)
            bbox_target = ops.stop_gradient(ops.concat(bbox_target))
            bbox_weight = ops.stop_gradient(ops.cast(ops.concat(bbox_weight), ms.float32))
            label = ops.stop_gradient(ops.cast(ops.concat(label), ms.float32))
            label_weight = ops.stop_gradient(ops.cast(ops.concat(label_weight), ms.float32))

            cls_score = ops.reshape(ops.transpose(cls_scores[lvl], (0, 2, 3, 1)), (-1,))
            bbox_pred = ops.reshape(ops.transpose(bbox_preds[lvl], (0, 2, 3, 1)), (-1, 4))
            cls_score = ops.cast(cls_score, ms.float32)
            bbox_pred = ops.cast(bbox_pred, ms.float32)

            loss_cls = ops.reduce_sum(self.loss_cls(cls_score, label) * label_weight) / self.num_expected_total
            weight4 = ops.tile(ops.reshape(bbox_weight, (self.feature_anchor_shape[lvl], 1)), (1, 4))
            loss_reg = ops.reduce_sum(self.loss_bbox(bbox_pred, bbox_target) * weight4) / self.num_expected_total
            loss_level = self.rpn_loss_cls_weight * loss_cls + self.rpn_loss_reg_weight * loss_reg
            loss = loss + loss_level
            cls_loss = cls_loss + loss_cls
            reg_loss = reg_loss + loss_reg
            per_level += (loss_level, loss_cls, loss_reg)
        return loss, cls_scores, bbox_preds, cls_loss, reg_loss, per_level

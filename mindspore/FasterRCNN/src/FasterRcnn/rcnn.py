"""RCNN head: two shared fully connected layers (1024), class logits and class-specific box deltas, and its loss.

``flatten(256 x 7 x 7) -> FC 1024 -> ReLU -> FC 1024 -> ReLU``, then ``cls_scores`` (``num_classes`` logits) and
``reg_scores`` (``4 * (num_classes - 1)`` deltas with ``without_bg_loss``: columns ``4j .. 4j + 3`` belong to
foreground class ``j``). The weights are ``[in, out]`` matrices used as ``x @ W + b`` (``DenseNoTranspose``, the
reference's layout). Init: Xavier-uniform for the shared layers, Normal(0.01) for the two outputs, zero biases.

Loss over the sampled RoIs of the batch (``mask`` marks the valid ones): softmax cross-entropy averaged over the
valid RoIs; smooth-L1 (beta 1) between the deltas of each positive's class and its targets, summed and divided by
``valid RoIs + 1e-4``; ``rcnn_loss = cls_weight * cls + reg_weight * reg``.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor, Parameter
from mindspore.common.initializer import Normal, XavierUniform, initializer


class DenseNoTranspose(nn.Cell):
    """``x @ weight + bias`` with ``weight`` of shape ``[in, out]`` (fp16 on Ascend, as the reference)."""

    def __init__(self, input_channels, output_channels, weight_init):
        super().__init__()
        self.weight = Parameter(initializer(weight_init, [input_channels, output_channels], ms.float32))
        self.bias = Parameter(initializer("zeros", [output_channels], ms.float32))
        self.matmul = ops.MatMul(transpose_b=False)
        self.bias_add = ops.BiasAdd()
        self.device_type = "Ascend" if ms.get_context("device_target") == "Ascend" else "Others"

    def construct(self, x):
        if self.device_type == "Ascend":
            return self.bias_add(self.matmul(ops.cast(x, ms.float16), ops.cast(self.weight, ms.float16)),
                                 ops.cast(self.bias, ms.float16))
        return self.bias_add(self.matmul(x, self.weight), self.bias)


class Rcnn(nn.Cell):
    """``construct(featuremap, bbox_targets, labels, mask)``: training -> ``(loss, cls_loss, reg_loss, ...)``;
    eval -> ``(cls_logits, cls_logits, reg_logits, cls_logits)`` (the reference's output layout)."""

    def __init__(self, config, representation_size, batch_size, num_classes,
                 target_means=(0.0, 0.0, 0.0, 0.0), target_stds=(0.1, 0.1, 0.2, 0.2)):
        super().__init__()
        self.rcnn_loss_cls_weight = Tensor(np.array(config.rcnn_loss_cls_weight, np.float32))
        self.rcnn_loss_reg_weight = Tensor(np.array(config.rcnn_loss_reg_weight, np.float32))
        fc = config.rcnn_fc_out_channels
        self.target_means = target_means
        self.target_stds = target_stds
        self.without_bg_loss = config.without_bg_loss
        self.num_classes = num_classes
        self.num_classes_fronted = num_classes - 1 if self.without_bg_loss else num_classes
        self.shared_fc_0 = DenseNoTranspose(representation_size, fc, XavierUniform())
        self.shared_fc_1 = DenseNoTranspose(fc, fc, XavierUniform())
        self.cls_scores = DenseNoTranspose(fc, num_classes, Normal(0.01))
        self.reg_scores = DenseNoTranspose(fc, self.num_classes_fronted * 4, Normal(0.01))
        self.flatten = ops.Flatten()
        self.relu = ops.ReLU()
        self.loss_cls = ops.SoftmaxCrossEntropyWithLogits()
        self.loss_bbox = ops.SmoothL1Loss(beta=1.0)
        self.onehot = ops.OneHot()
        self.on_value = Tensor(1.0, ms.float32)
        self.off_value = Tensor(0.0, ms.float32)
        self.num_bboxes = (config.num_expected_pos_stage2 + config.num_expected_neg_stage2) * batch_size
        self.delta = 0.0001

    def construct(self, featuremap, bbox_targets, labels, mask):
        x = self.flatten(featuremap)
        x = self.relu(self.shared_fc_0(x))
        x = self.relu(self.shared_fc_1(x))
        x_cls = self.cls_scores(x)
        x_reg = self.reg_scores(x)
        if not self.training:
            return x_cls, x_cls, x_reg, x_cls
        bbox_weights = ops.cast(ops.logical_and(labels > 0, mask), ms.int32) * labels
        labels = self.onehot(labels, self.num_classes, self.on_value, self.off_value)
        bbox_targets = ops.tile(ops.expand_dims(bbox_targets, 1), (1, self.num_classes_fronted, 1))
        return self.loss(x_cls, x_reg, bbox_targets, bbox_weights, labels, mask)

    def loss(self, cls_score, bbox_pred, bbox_targets, bbox_weights, labels, weights):
        """``(loss, cls_loss, reg_loss, (cls_loss, reg_loss))``."""
        loss_cls, _ = self.loss_cls(ops.cast(cls_score, ms.float32), labels)
        weights = ops.cast(weights, ms.float32)
        num_valid = ops.reduce_sum(weights, 0)
        loss_cls = ops.reduce_sum(loss_cls * weights, 0) / num_valid
        bbox_weights = ops.cast(self.onehot(bbox_weights, self.num_classes, self.on_value, self.off_value),
                                ms.float32)
        if self.without_bg_loss:
            bbox_weights = bbox_weights[:, 1:]
            denominator = num_valid + self.delta
        else:
            denominator = num_valid
        pos_bbox_pred = ops.reshape(ops.cast(bbox_pred, ms.float32), (self.num_bboxes, -1, 4))
        loss_reg = ops.reduce_sum(self.loss_bbox(pos_bbox_pred, bbox_targets), 2) * bbox_weights
        loss_reg = ops.reduce_sum(loss_reg / denominator, (0, 1))
        loss = self.rcnn_loss_cls_weight * loss_cls + self.rcnn_loss_reg_weight * loss_reg
        return loss, loss_cls, loss_reg, (loss_cls, loss_reg)

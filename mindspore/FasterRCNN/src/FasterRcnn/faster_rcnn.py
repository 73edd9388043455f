"""Faster R-CNN: backbone -> FPN -> RPN -> proposals -> RoIAlign -> RCNN head; losses in training, detections at test.

``Faster_Rcnn(config)`` builds the network the configuration asks for (the backbone is chosen here, from
``config.backbone``, not at import time as in the reference). Its parameter names are the reference's.

Training inputs (one batch): ``img_data (B, 3, H, W)``, ``img_metas (B, 3)`` ``(H, W, 1)``, ``gt_bboxes
(B, num_gts, 4)``, ``gt_labels (B, num_gts)``, ``gt_valids (B, num_gts)``, and the samplers' uniform priorities
``rpn_priority (B, num_bboxes)`` and ``rcnn_priority (B, num_gts + num_bboxes_stage2)`` (see
``bbox_assign_sample``). Output: ``(rpn_loss, rcnn_loss, rpn_cls_loss, rpn_reg_loss, rcnn_cls_loss,
rcnn_reg_loss)``.

Test inputs: ``img_data``, ``img_metas (B, 4)`` ``(orig_h, orig_w, scale_h, scale_w)``. Output (``get_det_bboxes``):
``all_bbox (B, (C-1) * rpn_max_num, 5)`` ``[x1, y1, x2, y2, score]`` in original-image pixels (boxes clipped to
the canvas only, then divided by the scale), ``all_label`` (0-based foreground class), ``all_mask`` (kept rows),
class-major, each class block in NMS order. Per class: softmax score, decode with stds (0.1, 0.1, 0.2, 0.2), rows
of valid proposals scoring above ``test_score_thr`` (the others get box -1 and score 0), ``TopK``, ``NMSWithMask``
at ``test_iou_thr``.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor

from .anchor_generator import multi_level_anchors
from .bbox_assign_sample_stage2 import BboxAssignSampleForRcnn
from .fpn_neck import FeatPyramidNeck
from .proposal_generator import Proposal
from .rcnn import Rcnn
from .roi_align import SingleRoIExtractor
from .rpn import RPN


def build_backbone(config):
    """The backbone of ``config.backbone``."""
    if config.backbone == "inception_resnet_v2":
        from .inceptionresnetv2 import InceptionResNetV2
        return InceptionResNetV2()
    from .resnet import build_resnet
    return build_resnet(config)


class Faster_Rcnn(nn.Cell):  # noqa: N801 - the reference's name
    """The Faster R-CNN network of ``config`` (see the module docstring for inputs and outputs)."""

    def __init__(self, config):
        super().__init__()
        self.train_batch_size = config.batch_size
        self.test_batch_size = config.test_batch_size
        self.without_bg_loss = config.without_bg_loss
        self.num_classes = config.num_classes
        self.num_cls_bbox = config.num_classes - 1 if config.without_bg_loss else config.num_classes
        self.rpn_max_num = config.rpn_max_num
        self.num_gts = config.num_gts
        self.target_means = tuple(config.rcnn_target_means)
        self.target_stds = tuple(config.rcnn_target_stds)
        self.device_type = "Ascend" if ms.get_context("device_target") == "Ascend" else "Others"

        self.anchor_list = tuple(Tensor(a) for a in multi_level_anchors(config))
        self.backbone = build_backbone(config)
        self.fpn_neck = FeatPyramidNeck(config.fpn_in_channels, config.fpn_out_channels, config.fpn_num_outs,
                                        config.feature_shapes)
        self.gt_labels_stage1 = Tensor(np.ones((self.train_batch_size, config.num_gts), np.uint8))
        self.rpn_with_loss = RPN(config, self.train_batch_size, config.rpn_in_channels, config.rpn_feat_channels,
                                 config.num_anchors, config.rpn_cls_out_channels)
        self.proposal_generator = Proposal(config, self.train_batch_size, config.activate_num_classes,
                                           config.use_sigmoid_cls)
        self.proposal_generator.set_train_local(config, True)
        self.proposal_generator_test = Proposal(config, config.test_batch_size, config.activate_num_classes,
                                                config.use_sigmoid_cls)
        self.proposal_generator_test.set_train_local(config, False)
        self.bbox_assigner_sampler_for_rcnn = BboxAssignSampleForRcnn(config, self.train_batch_size,
                                                                      config.num_bboxes_stage2, True)
        self.decode = ops.BoundingBoxDecode(max_shape=(config.img_height, config.img_width),
                                            means=self.target_means, stds=self.target_stds)
        per_level = bool(getattr(config, "roi_align_per_level", True))
        self.roi_align = SingleRoIExtractor(config, config.roi_layer, config.roi_align_out_channels,
                                            config.roi_align_featmap_strides, self.train_batch_size,
                                            config.roi_align_finest_scale, per_level)
        self.roi_align.set_train_local(config, True)
        self.roi_align_test = SingleRoIExtractor(config, config.roi_layer, config.roi_align_out_channels,
                                                 config.roi_align_featmap_strides, 1,
                                                 config.roi_align_finest_scale, per_level)
        self.roi_align_test.set_train_local(config, False)
        roi_size = config.roi_layer.out_size
        self.rcnn = Rcnn(config, config.rcnn_in_channels * roi_size * roi_size, self.train_batch_size,
                         self.num_classes)

        num_rois = config.num_expected_pos_stage2 + config.num_expected_neg_stage2
        self.roi_align_index_tensor = Tensor(np.repeat(np.arange(self.train_batch_size, dtype=np.float32),
                                                       num_rois).reshape(-1, 1))
        self.roi_align_index_test_tensor = Tensor(np.repeat(np.arange(self.test_batch_size, dtype=np.float32),
                                                            self.rpn_max_num).reshape(-1, 1))
        self.test_mode_init(config)

    def test_mode_init(self, config):
        """Constants of ``get_det_bboxes`` / ``multiclass_nms``."""
        n = self.rpn_max_num
        ones, zeros = np.ones((n, 1), np.bool_), np.zeros((n, 1), np.bool_)
        self.bbox_mask = Tensor(np.concatenate((ones, zeros, ones, zeros), axis=1))   # x columns / y columns
        self.test_score_thresh = Tensor(np.full((n, 1), config.test_score_thr, np.float32))
        self.test_score_zeros = Tensor(np.zeros((n, 1), np.float32))
        self.test_box_zeros = Tensor(np.full((n, 4), -1.0, np.float32))
        self.nms_test = ops.NMSWithMask(config.test_iou_thr)
        self.softmax = ops.Softmax(axis=1)
        self.test_topk = ops.TopK(sorted=True)

    def construct(self, img_data, img_metas, gt_bboxes=None, gt_labels=None, gt_valids=None, rpn_priority=None,
                  rcnn_priority=None):
        x = self.backbone(img_data)
        x = self.fpn_neck(x)
        rpn_loss, cls_score, bbox_pred, rpn_cls_loss, rpn_reg_loss, _ = self.rpn_with_loss(
            x, img_metas, self.anchor_list, gt_bboxes, self.gt_labels_stage1, gt_valids, rpn_priority)
        if self.training:
            proposal, proposal_mask = self.proposal_generator(ops.stop_gradient(cls_score),
                                                              ops.stop_gradient(bbox_pred), self.anchor_list)
            return self.train_heads(x, proposal, proposal_mask, gt_bboxes, gt_labels, gt_valids, rcnn_priority,
                                    rpn_loss, rpn_cls_loss, rpn_reg_loss)
        proposal, proposal_mask = self.proposal_generator_test(cls_score, bbox_pred, self.anchor_list)
        return self.test_heads(x, proposal, proposal_mask, img_metas)

    def train_heads(self, x, proposal, proposal_mask, gt_bboxes, gt_labels, gt_valids, rcnn_priority, rpn_loss,
                    rpn_cls_loss, rpn_reg_loss):
        """Stage 2 in training: sample RoIs among the proposals, pool them, the RCNN losses; the six losses."""
        gt_labels = ops.cast(gt_labels, ms.int32)
        gt_valids = ops.cast(gt_valids, ms.int32)
        bboxes_tuple = ()
        deltas_tuple = ()
        labels_tuple = ()
        mask_tuple = ()
        for i in range(self.train_batch_size):
            bboxes, deltas, labels, mask = self.bbox_assigner_sampler_for_rcnn(
                gt_bboxes[i], ops.cast(gt_labels[i], ms.uint8), proposal_mask[i], proposal[i][:, 0:4],
                ops.cast(gt_valids[i], ms.bool_), rcnn_priority[i])
            bboxes_tuple += (bboxes,)
            deltas_tuple += (deltas,)
            labels_tuple += (labels,)
            mask_tuple += (mask,)
        bbox_targets = ops.stop_gradient(ops.concat(deltas_tuple))
        rcnn_labels = ops.cast(ops.stop_gradient(ops.concat(labels_tuple)), ms.int32)
        rois = ops.concat((self.roi_align_index_tensor, ops.concat(bboxes_tuple)), 1)
        rois = ops.stop_gradient(ops.cast(rois, ms.float32))
        roi_feats = self.roi_align(rois, ops.cast(x[0], ms.float32), ops.cast(x[1], ms.float32),
                                   ops.cast(x[2], ms.float32), ops.cast(x[3], ms.float32))
        rcnn_masks = ops.stop_gradient(ops.concat(mask_tuple))
        rcnn_mask_squeeze = ops.reshape(ops.cast(rcnn_masks, ms.bool_), (-1,))
        rcnn_loss, rcnn_cls_loss, rcnn_reg_loss, _ = self.rcnn(roi_feats, bbox_targets, rcnn_labels,
                                                               rcnn_mask_squeeze)
        return rpn_loss, rcnn_loss, rpn_cls_loss, rpn_reg_loss, rcnn_cls_loss, rcnn_reg_loss

    def test_heads(self, x, proposal, proposal_mask, img_metas):
        """Stage 2 at test: pool every proposal, the RCNN logits, the detections."""
        bboxes_tuple = ()
        for p in proposal:
            bboxes_tuple += (p[:, 0:4],)
        bboxes_all = ops.concat(bboxes_tuple)
        if self.device_type == "Ascend":
            bboxes_all = ops.cast(bboxes_all, ms.float16)
        rois = ops.concat((self.roi_align_index_test_tensor, ops.cast(bboxes_all, ms.float32)), 1)
        rois = ops.stop_gradient(rois)
        roi_feats = self.roi_align_test(rois, ops.cast(x[0], ms.float32), ops.cast(x[1], ms.float32),
                                        ops.cast(x[2], ms.float32), ops.cast(x[3], ms.float32))
        masks = ops.concat(proposal_mask)
        mask_flat = ops.reshape(ops.cast(masks, ms.bool_), (-1,))
        cls_logits, _, reg_logits, _ = self.rcnn(roi_feats, mask_flat, mask_flat, mask_flat)
        return self.get_det_bboxes(cls_logits, reg_logits, masks, ops.cast(bboxes_all, ms.float32), img_metas)

    def get_det_bboxes(self, cls_logits, reg_logits, mask_logits, rois, img_metas):
        """Per-class decoded boxes in original pixels -> ``multiclass_nms``."""
        scores = self.softmax(ops.cast(cls_logits, ms.float32))
        reg_logits = ops.cast(reg_logits, ms.float32)
        boxes_all = ()
        for j in range(self.num_cls_bbox):
            boxes_all += (self.decode(rois, reg_logits[:, 4 * j:4 * j + 4]),)
        n = self.rpn_max_num
        boxes_per_image = ()
        for i in range(self.test_batch_size):
            scale_h = img_metas[i, 2:3]
            scale_w = img_metas[i, 3:4]
            boxes_tuple = ()
            for j in range(self.num_cls_bbox):
                boxes = boxes_all[j][i * n:(i + 1) * n]
                boxes_tuple += (ops.select(self.bbox_mask, boxes / scale_w, boxes / scale_h),)
            boxes_per_image += (boxes_tuple,)
        return self.multiclass_nms(boxes_per_image, scores, ops.cast(mask_logits, ms.int32))

    def multiclass_nms(self, boxes_all, scores_all, mask_all):
        """Score threshold, top-k and NMS per foreground class; the classes concatenated (class-major).

        The reference concatenated the classes in two parts split at ``min(num_classes - 2, 55)``, a compile-size
        workaround that makes the first part empty, and the graph uncompilable, with a single foreground class
        (the face configuration); here each image's classes are concatenated in one piece, in the same order."""
        n = self.rpn_max_num
        all_bboxes = ()
        all_labels = ()
        all_masks = ()
        for i in range(self.test_batch_size):
            scores = scores_all[i * n:(i + 1) * n]
            masks = ops.reshape(ops.cast(mask_all[i * n:(i + 1) * n], ms.bool_), (n, 1))
            res_boxes = ()
            res_labels = ()
            res_masks = ()
            for j in range(self.num_classes - 1):
                cls_scores = scores[:, j + 1:j + 2]
                bboxes = boxes_all[i][j] if self.without_bg_loss else boxes_all[i][j + 1]
                mask = ops.logical_and(masks, ops.greater(cls_scores, self.test_score_thresh))
                reg_mask = ops.cast(ops.tile(ops.cast(mask, ms.int32), (1, 4)), ms.bool_)
                bboxes = ops.select(reg_mask, bboxes, self.test_box_zeros)
                cls_scores = ops.select(mask, cls_scores, self.test_score_zeros)
                scores_sorted, topk_inds = self.test_topk(ops.reshape(cls_scores, (n,)), n)
                topk_inds = ops.reshape(topk_inds, (n, 1))
                bboxes_sorted = ops.gather_nd(bboxes, topk_inds)
                mask_sorted = ops.gather_nd(mask, topk_inds)
                cls_dets = ops.concat((bboxes_sorted, ops.reshape(scores_sorted, (n, 1))), 1)
                cls_dets, index, mask_nms = self.nms_test(cls_dets)
                mask_n = ops.gather_nd(mask_sorted, ops.reshape(index, (n, 1)))
                mask_n = ops.logical_and(mask_n, ops.reshape(mask_nms, (n, 1)))
                res_boxes += (cls_dets,)
                res_labels += (ops.ones((n, 1), ms.int32) * j,)
                res_masks += (mask_n,)
            size = (self.num_classes - 1) * n
            all_bboxes += (ops.reshape(ops.concat(res_boxes), (1, size, 5)),)
            all_labels += (ops.reshape(ops.concat(res_labels), (1, size, 1)),)
            all_masks += (ops.reshape(ops.concat(res_masks), (1, size, 1)),)
        return ops.concat(all_bboxes), ops.concat(all_labels), ops.concat(all_masks)


class FasterRcnn_Infer(nn.Cell):  # noqa: N801 - the reference's name
    """The exported inference network: ``construct(img_data, img_metas)`` -> ``(all_bbox, all_label, all_mask)``.

    With ``restore_bbox`` False the boxes stay in canvas pixels of an image of ``ori_h x ori_w`` (the reference's
    option for 310 inference without metas)."""

    def __init__(self, config, restore_bbox=True, ori_h=None, ori_w=None):
        super().__init__()
        if not restore_bbox and (ori_h is None or ori_w is None):
            raise ValueError("restore_bbox=False needs ori_h and ori_w")
        self.restore_bbox = restore_bbox
        self.network = Faster_Rcnn(config)
        self.network.set_train(False)
        if not restore_bbox:
            metas = []
            for _ in range(config.test_batch_size):
                scale = min(config.img_height / ori_h, config.img_width / ori_w)
                metas.append([ori_h, ori_w, scale, scale])
            self.fixed_metas = Tensor(np.array(metas, np.float32))

    def construct(self, img_data, img_metas=None):
        if not self.restore_bbox:
            img_metas = self.fixed_metas
        return self.network(img_data, img_metas)

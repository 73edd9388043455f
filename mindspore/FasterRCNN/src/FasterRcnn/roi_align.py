"""RoI feature extractor: each RoI is pooled (RoIAlign 7x7, 2x2 samples per bin) from the pyramid level of its size.

Level rule (``SingleRoIExtractor.map_roi_levels``): ``floor(log2(sqrt(w + 1) * sqrt(h + 1) / finest_scale + 1e-6))``
with ``w = x2 - x1``, ``h = y2 - y1`` and ``finest_scale`` 56, clamped to 0..3 (P2-P5): below 112 px -> P2, below
224 -> P3, below 448 -> P4, else P5. ``log2`` is computed as the reference does, ``log(v) / log(2)`` in float32.

The reference runs ``ops.ROIAlign`` (``roi_end_mode`` 1, spatial scale ``1 / stride``) of every level on every RoI
and keeps the RoI's own level. With ``per_level=True`` (the default) each level pools only the RoIs it owns
(gathered, pooled, scattered back): the same numbers (the op computes each RoI independently), a quarter of the
work. ``per_level=False`` keeps the reference's all-levels computation (static shapes only, for devices or export
formats without dynamic shapes).
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor


class ROIAlign(nn.Cell):
    """``ops.ROIAlign(out_h, out_w, spatial_scale, sample_num)`` over one feature map."""

    def __init__(self, out_size_h, out_size_w, spatial_scale, sample_num=0):
        super().__init__()
        self.out_size = (out_size_h, out_size_w)
        self.spatial_scale = float(spatial_scale)
        self.sample_num = int(sample_num)
        self.align_op = ops.ROIAlign(out_size_h, out_size_w, self.spatial_scale, self.sample_num)

    def construct(self, features, rois):
        return self.align_op(features, rois)


class SingleRoIExtractor(nn.Cell):
    """``construct(rois (K, 5) [batch index, x1, y1, x2, y2], P2, P3, P4, P5)`` -> ``(K, C, 7, 7)``."""

    def __init__(self, config, roi_layer, out_channels, featmap_strides, batch_size=1, finest_scale=56,
                 per_level=True):
        super().__init__()
        self.out_channels = out_channels
        self.featmap_strides = featmap_strides
        self.num_levels = len(featmap_strides)
        self.out_size = roi_layer.out_size
        self.sample_num = roi_layer.sample_num
        self.roi_layers = nn.CellList([ROIAlign(self.out_size, self.out_size, 1.0 / s, self.sample_num)
                                       for s in featmap_strides])
        self.finest_scale = float(finest_scale)
        self.per_level = per_level
        self.log2_const = Tensor(np.array(2.0, np.float32))
        self.train_batch_size = batch_size
        self.set_train_local(config, training=True)

    def set_train_local(self, config, training=True):
        """RoIs per call: ``roi_sample_num * batch`` in training, ``rpn_max_num * test_batch_size`` at test."""
        self.training_local = training
        if training:
            self.num_rois = config.roi_sample_num * self.train_batch_size
        else:
            self.num_rois = config.rpn_max_num * config.test_batch_size

    def map_roi_levels(self, rois):
        """The pyramid level (0..3) of each RoI, ``(K, 1)`` int32."""
        w = rois[:, 3:4] - rois[:, 1:2] + 1.0
        h = rois[:, 4:5] - rois[:, 2:3] + 1.0
        scale = ops.sqrt(w) * ops.sqrt(h)
        lvls = ops.log(scale / self.finest_scale + 1e-6) / ops.log(self.log2_const)
        lvls = ops.cast(ops.floor(lvls), ms.int32)
        return ops.clip_by_value(lvls, Tensor(0, ms.int32), Tensor(self.num_levels - 1, ms.int32))

    def construct(self, rois, feat1, feat2, feat3, feat4):
        feats = (feat1, feat2, feat3, feat4)
        levels = self.map_roi_levels(rois)
        res = ops.zeros((rois.shape[0], self.out_channels, self.out_size, self.out_size), ms.float32)
        for i in range(self.num_levels):
            owned = ops.equal(levels, i)
            if self.per_level:
                index = ops.nonzero(ops.reshape(owned, (-1,)))
                pooled = self.roi_layers[i](feats[i], ops.gather_nd(rois, index))
                res = ops.tensor_scatter_update(res, index, pooled)
            else:
                pooled = self.roi_layers[i](feats[i], rois)
                owned = ops.broadcast_to(ops.reshape(owned, (-1, 1, 1, 1)), pooled.shape)
                res = ops.select(owned, pooled, res)
        return res

"""MultiBoxLoss with per-image hard negative mining (static shapes, as the MindSpore reference)."""
import mindspore as ms
from mindspore import nn, ops


class MultiBoxLoss(nn.Cell):
    """Returns (loss_loc, loss_cls, loss_landm); the caller weights them (2, 1, 1).

    Targets come from :func:`src.matching.match`: conf_t is 1 for faces with landmarks, -1 for faces without
    landmarks, 0 for background.

    * landmarks: SmoothL1 (beta 1) summed over the 10 coordinates of priors with conf_t > 0, / max(#those, 1);
    * boxes: SmoothL1 summed over priors with conf_t != 0, / N, N = max(#positives in the batch, 1);
    * classes: positives have target 1; per image the negatives with the highest CE loss are kept,
      min(neg_pos_ratio * #positives of the image, num_priors - 1) of them; softmax CE over positives and kept
      negatives, summed, / N. The rank is computed with two full TopK sorts (the reference's static-shape way of
      PyTorch's double argsort).
    """

    def __init__(self, num_classes=2, neg_pos_ratio=7):
        super().__init__()
        self.num_classes = num_classes
        self.neg_pos_ratio = float(neg_pos_ratio)
        self.topk = ops.TopK(sorted=True)

    def construct(self, loc_data, loc_t, conf_data, conf_t, landm_data, landm_t):
        conf_t = conf_t.astype(ms.int32)
        num_priors = conf_data.shape[1]

        # landmark loss: faces with landmarks only
        pos_landm = (conf_t > 0).astype(ms.float32)
        n_landm = ops.maximum(pos_landm.sum(), 1.0)
        sl1_landm = ops.smooth_l1_loss(landm_data, landm_t, beta=1.0, reduction="none").sum(-1)
        loss_landm = (sl1_landm * pos_landm).sum() / n_landm

        # box loss: every face
        pos = conf_t != 0
        pos_f = pos.astype(ms.float32)
        n_pos = ops.maximum(pos_f.sum(), 1.0)
        sl1_loc = ops.smooth_l1_loss(loc_data, loc_t, beta=1.0, reduction="none").sum(-1)
        loss_loc = (sl1_loc * pos_f).sum() / n_pos

        # classification with hard negative mining
        target = pos.astype(ms.int32)                                           # -1 -> 1
        lse = ops.logsumexp(conf_data, -1)                                      # (B, P)
        onehot = ops.one_hot(target, self.num_classes, ops.ones((), ms.float32), ops.zeros((), ms.float32))
        ce = lse - (conf_data * onehot).sum(-1)                                 # (B, P) softmax CE per prior
        mining = ops.stop_gradient(ops.select(pos, ops.zeros_like(ce), ce))
        _, loss_idx = self.topk(mining, num_priors)                             # descending
        _, idx_rank = self.topk(-loss_idx.astype(ms.float32), num_priors)       # rank of every prior
        num_pos_img = pos_f.sum(1, keepdims=True)
        num_neg = ops.minimum(num_pos_img * self.neg_pos_ratio, float(num_priors - 1))
        neg = idx_rank.astype(ms.float32) < num_neg
        keep = ops.logical_or(pos, neg).astype(ms.float32)
        loss_cls = (ce * keep).sum() / n_pos
        return loss_loc, loss_cls, loss_landm

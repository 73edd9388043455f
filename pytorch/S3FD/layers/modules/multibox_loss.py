"""MultiBoxLoss: smooth-L1 on the positives' offsets plus softmax cross-entropy on positives and hard negatives.

For a batch of B images with P priors:
  1. ``match`` gives every image its location targets and labels (scale compensation, ``cfg.OVERLAP_THRESH``).
  2. loss_l = sum over positive priors of smooth-L1(loc - loc_t).
  3. Hard negative mining, per image: every prior's loss ``log_sum_exp(conf) - conf[label]`` (positives set to 0)
     is ranked descending; the first ``min(NEG_POS_RATIOS * num_pos, P - 1)`` are the negatives (an image without
     positives mines none).
  4. loss_c = sum of the cross-entropy over the positives and the mined negatives.
  5. Both are divided by N = the positives of the whole batch (the batch size when there are none).

Data parallel (``dist``: ``src.device.Dist`` of a torchrun job): "the whole batch" is the global one, as under the
reference's DataParallel, which computed the loss once on the gathered outputs of every device. Each process counts
its positives (and images), the counts are summed over the processes, and each process returns its sums times
``world / N_global``: DistributedDataParallel averages the gradients over the ``world`` processes, so the update is
that of ``sum over processes / N_global``, the reference's loss of the global batch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..bbox_utils import log_sum_exp, match


class MultiBoxLoss(nn.Module):
    def __init__(self, cfg, dist=None):
        super().__init__()
        self.dist = dist if dist is not None and dist.distributed else None
        self.num_classes = cfg.NUM_CLASSES
        self.negpos_ratio = cfg.NEG_POS_RATIOS
        self.variance = cfg.VARIANCE
        self.threshold = cfg.OVERLAP_THRESH
        self.stage2 = cfg.MATCH_STAGE2

    def targets(self, targets, priors):
        """``targets``: a list of [G_i, 5] tensors (x1, y1, x2, y2, label), normalised. Returns loc_t, conf_t."""
        loc_t, conf_t = [], []
        for t in targets:
            t = t.to(priors.device, torch.float32)
            loc, conf = match(self.threshold, t[:, :-1], priors, self.variance, t[:, -1], self.stage2)
            loc_t.append(loc)
            conf_t.append(conf)
        return torch.stack(loc_t), torch.stack(conf_t)

    def forward(self, predictions, targets):
        """``predictions = (loc [B, P, 4], conf logits [B, P, C], priors [P, 4])``; returns ``(loss_l, loss_c)``."""
        loc_data, conf_data, priors = predictions
        loc_data, conf_data = loc_data.float(), conf_data.float()
        num = loc_data.size(0)
        priors = priors[:loc_data.size(1), :].to(loc_data.device)
        with torch.no_grad():
            loc_t, conf_t = self.targets(targets, priors)
        pos = conf_t > 0
        loss_l = F.smooth_l1_loss(loc_data[pos], loc_t[pos], reduction="sum")

        neg = self.hard_negatives(conf_data.detach(), conf_t, pos)
        sel = pos | neg
        loss_c = F.cross_entropy(conf_data[sel], conf_t[sel], reduction="sum")
        counts = torch.tensor([float(pos.sum()), float(num)], dtype=torch.float64)
        world = 1
        if self.dist is not None:                           # the global batch's positives (module docstring)
            counts, world = self.dist.sum(counts, loc_data.device), self.dist.world
        n = float(counts[0] if counts[0] > 0 else counts[1])
        return loss_l * world / n, loss_c * world / n

    def hard_negatives(self, conf_data, conf_t, pos):
        """The [B, P] mask of the mined negatives (see the module docstring, step 3)."""
        num = conf_data.size(0)
        batch_conf = conf_data.view(-1, self.num_classes)
        loss_c = log_sum_exp(batch_conf) - batch_conf.gather(1, conf_t.view(-1, 1))
        loss_c[pos.view(-1, 1)] = 0
        loss_c = loss_c.view(num, -1)
        _, loss_idx = loss_c.sort(1, descending=True)
        _, idx_rank = loss_idx.sort(1)
        num_pos = pos.long().sum(1, keepdim=True)
        num_neg = torch.clamp(self.negpos_ratio * num_pos, max=pos.size(1) - 1)
        return idx_rank < num_neg.expand_as(idx_rank)
